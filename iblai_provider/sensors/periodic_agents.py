"""Sensor that waits for a periodic agent's next run to finish (API reference §3.3 logs)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from iblai_provider._compat import (
    AirflowException,
    AirflowSensorTimeout,
    BaseSensorOperator,
    Context,
    PokeReturnValue,
    default_deferrable,
)
from iblai_provider.exceptions import IblaiConfigError
from iblai_provider.hooks._retry import is_transient
from iblai_provider.hooks.iblai import IblaiHook
from iblai_provider.utils.agent_runs import (
    EVENT_ERROR,
    EVENT_FAILED,
    EVENT_STATUSES,
    EVENT_SUCCESS,
    EVENT_TIMEOUT,
    LOG_COUNT,
    RUN_KEYS,
    evaluate_run,
    parse_instant,
)
from iblai_provider.utils.agent_validation import check_agent_id


class IblaiPeriodicAgentRunSensor(BaseSensorOperator):
    """Wait for the first run of ``agent_id`` created at or after ``after`` to end.

    Succeeds when that run's log says ``success`` and returns (XCom) ``agent_id``, ``log_id``,
    ``status``, ``start_time``, ``end_time``, ``created_at`` and the first ``content_chars``
    characters of ``content``; fails with an excerpt of the log when it says ``error``. Poke,
    reschedule and deferrable modes apply the same rule and return the same value. API errors the
    hook's retries could not outlast (5xx, 429, connection failures) mean "not yet" in both modes,
    bounded by ``timeout``; other API errors (401, 403, 404) fail at once.

    :param agent_id: the periodic agent id (templated; e.g. from the create operator's XCom).
    :param after: only runs whose log was created at or after this instant count (templated;
        datetime or ISO-8601, naive = UTC). Default: when the sensor started (its first try in
        reschedule mode).
    :param content_chars: how much of the run's output to return (0: none).
    :param deferrable: wait in the triggerer; defaults to ``[operators] default_deferrable``.
    :param iblai_conn_id: the ``iblai`` connection.

    ``poke_interval``, ``timeout``, ``mode`` and ``soft_fail`` keep their Airflow meaning; in
    deferrable mode ``timeout`` becomes an absolute deadline inside the trigger.
    """

    template_fields: Sequence[str] = ("agent_id", "after")
    ui_color = "#e6f1f2"

    def __init__(
        self,
        *,
        agent_id: int | str,
        after: str | datetime | None = None,
        content_chars: int = 500,
        deferrable: bool | None = None,
        iblai_conn_id: str = IblaiHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.agent_id = agent_id
        self.after = after
        self.content_chars = content_chars
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.iblai_conn_id = iblai_conn_id
        self._after: datetime | None = None

    def _checked(self, context: Context) -> tuple[int, datetime]:
        """Validated ``agent_id`` and ``after`` (before any request)."""
        agent_id = check_agent_id(self.agent_id)
        if isinstance(self.content_chars, bool) or not isinstance(self.content_chars, int) or self.content_chars < 0:
            raise IblaiConfigError(f"content_chars={self.content_chars!r} is not usable; it accepts an integer >= 0.")
        if self.after not in (None, ""):
            after = parse_instant(self.after)
            if after is None:
                raise IblaiConfigError(f"after={self.after!r} is not usable; after accepts a datetime or ISO-8601 "
                                       "text such as '2026-07-01T08:00:00Z' (naive means UTC).")
            return agent_id, after
        if self._after is None:
            first_try = None
            if self.reschedule:  # the sensor started at its first try, not at this reschedule
                first_try = context["ti"].get_first_reschedule_date(context)
            self._after = parse_instant(first_try) or datetime.now(timezone.utc)
        return agent_id, self._after

    def execute(self, context: Context) -> Any:
        agent_id, after = self._checked(context)
        if not self.deferrable:
            return super().execute(context)
        checked = self.poke(context)  # one look before deferring: a finished run needs no trigger
        if checked:
            return checked.xcom_value
        self.defer(
            trigger=_trigger_class()(
                agent_id=agent_id,
                after=after.isoformat(),
                deadline=time.time() + self.timeout,
                content_chars=self.content_chars,
                poll_interval=self.poke_interval,
                iblai_conn_id=self.iblai_conn_id,
            ),
            method_name="execute_complete",
            timeout=None,  # the trigger enforces an absolute deadline itself
        )

    def poke(self, context: Context) -> PokeReturnValue | bool:
        agent_id, after = self._checked(context)
        try:
            logs = IblaiHook(iblai_conn_id=self.iblai_conn_id).latest_periodic_agent_logs(agent_id, LOG_COUNT)
        except Exception as exc:
            if not is_transient(exc):
                raise
            self.log.warning("Periodic agent %s: API still failing after retries (%s); waiting on.", agent_id, exc)
            return False  # as the trigger does: the sensor's timeout still bounds the wait
        outcome = evaluate_run(logs, agent_id, after, self.content_chars)
        if outcome is None:
            self.log.info("No finished run of periodic agent %s since %s yet.", agent_id, after.isoformat())
            return False
        return PokeReturnValue(is_done=True, xcom_value=self._finish(outcome))

    def execute_complete(self, context: Context, event: Any = None) -> dict[str, Any]:
        """Resume from the trigger: accept only a well-formed event for this agent (fail closed)."""
        agent_id = check_agent_id(self.agent_id)
        status = event.get("status") if isinstance(event, dict) else None
        if status not in EVENT_STATUSES or event.get("agent_id") != agent_id:
            raise AirflowException(f"Unexpected trigger event for periodic agent {agent_id}: {event!r:.300}")
        if status == EVENT_TIMEOUT:
            raise AirflowSensorTimeout(f"Sensor has timed out: {event.get('message')}")
        if status == EVENT_FAILED:
            raise AirflowException(f"Could not read the runs of periodic agent {agent_id}: {event.get('message')}")
        if set(event) != set(RUN_KEYS) or type(event["log_id"]) is not int:
            raise AirflowException(f"Malformed run event for periodic agent {agent_id}: {event!r:.300}")
        return self._finish(event)

    def _finish(self, outcome: dict[str, Any]) -> dict[str, Any]:
        """The shared ending of both modes: return a success, raise on an error run."""
        if outcome["status"] == EVENT_SUCCESS:
            self.log.info("Periodic agent %s run %s succeeded.", outcome["agent_id"], outcome["log_id"])
            return dict(outcome)
        if outcome["status"] == EVENT_ERROR:
            excerpt = (outcome.get("content") or "")[:500]
            raise AirflowException(
                f"Periodic agent {outcome['agent_id']} run {outcome['log_id']} ended with status error: {excerpt}"
            )
        raise AirflowException(f"Unexpected run status {outcome['status']!r} for periodic agent {outcome['agent_id']}")


def _trigger_class() -> type:
    """Imported on deferral only: DAG parsing need not load Airflow's trigger machinery."""
    from iblai_provider.triggers.periodic_agents import IblaiPeriodicAgentRunTrigger

    return IblaiPeriodicAgentRunTrigger
