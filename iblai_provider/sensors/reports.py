"""Sensor that waits for a Data Reports run to finish, in poke, reschedule or deferrable mode."""

from __future__ import annotations

import time
from functools import cached_property
from typing import TYPE_CHECKING, Any

from iblai_provider._compat import (
    AirflowSensorTimeout,
    AirflowTaskTimeout,
    BaseSensorOperator,
    PokeReturnValue,
    default_deferrable,
)
from iblai_provider.hooks.iblai import IblaiHook
from iblai_provider.utils.report_state import (
    check_mentor,
    check_report_name,
    poll_once,
    report_trigger_class,
    resolve_event,
    timeout_message,
)

if TYPE_CHECKING:
    from iblai_provider._compat import Context


class IblaiReportSensor(BaseSensorOperator):
    """Wait until the latest run of a report (for a mentor) finishes.

    Polls ``GET /api/reports/platforms/{org}/{report_name}?mentor_unique_id=...``. Succeeds on
    ``completed`` and returns (XCom) the run's public status: ``report_id``, ``report_name``,
    ``state``, ``started_on``, ``expires`` — never the presigned download URL. Fails on
    ``error``, ``cancelled`` or ``expired`` with the state in the message. An unknown state is
    logged and treated as still running. Errors that outlast the hook's retries (5xx, 429,
    network) are logged and polling goes on until the timeout; other API errors (401, 403, 404)
    fail at once. Poke, reschedule and deferrable mode share one evaluation function, so they
    return the same value and fail with the same text.

    ``timeout`` and ``execution_timeout`` keep their Airflow meaning, in deferrable mode too:
    ``timeout`` is how long to wait for the report (from the first poke) and ends the task with
    ``AirflowSensorTimeout`` (no retry); ``execution_timeout`` is the hard limit on the task's
    running time and ends it with ``AirflowTaskTimeout`` (retries apply). A deferred task is not
    running, so Airflow would not enforce ``execution_timeout`` during deferral by itself; the
    sensor therefore defers with ``timeout=None`` and hands both as absolute deadlines to the
    trigger, which reports whichever comes first.

    In deferrable mode the sensor pokes once first: a finished report never defers.

    :param report_name: the report slug, e.g. ``ai-mentor-chat-history`` (templated).
    :param mentor_unique_id: the mentor's ``unique_id`` (UUID); sent as the poll's query
        ``mentor_unique_id`` (templated). Omit for reports not scoped to a mentor.
    :param report_id: optional run id (e.g. the create operator's XCom ``report_id``); when set, a
        different (newer) run reported by the API fails the sensor instead of being waited for
        (templated).
    :param deferrable: wait in the triggerer; defaults to ``[operators] default_deferrable``.
    :param poke_interval: seconds between polls (also the trigger's poll interval).
    :param timeout: seconds to wait for the report before failing (Airflow's sensor ``timeout``).
    :param iblai_conn_id: the ``iblai`` connection.
    """

    template_fields = ("report_name", "mentor_unique_id", "report_id", "iblai_conn_id")
    ui_color = "#e6f1f2"

    def __init__(
        self,
        *,
        report_name: str,
        mentor_unique_id: str | None = None,
        report_id: str | None = None,
        deferrable: bool | None = None,
        iblai_conn_id: str = IblaiHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.report_name = report_name
        self.mentor_unique_id = mentor_unique_id
        self.report_id = report_id
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.iblai_conn_id = iblai_conn_id
        self._poke_deadline: float | None = None
        self._last_status: dict[str, Any] | None = None  # for the timeout message, as the trigger keeps it

    @cached_property
    def hook(self) -> IblaiHook:
        return IblaiHook(self.iblai_conn_id)

    def _ids(self) -> tuple[str, str | None, str | None]:
        """The rendered arguments, validated (raises before any request, naming the parameter)."""
        name = check_report_name(self.report_name)
        mentor = check_mentor(self.mentor_unique_id, "mentor_unique_id")
        run = str(self.report_id).strip() if self.report_id else ""
        return name, mentor, run or None

    def poke(self, context: Context) -> bool | PokeReturnValue:
        name, mentor, run = self._ids()
        verdict = poll_once(self.hook, name, mentor, run, self.log)
        if verdict is not None:
            if verdict.finished:
                return PokeReturnValue(is_done=True, xcom_value=verdict.result())  # raises on a failed run
            self.log.info("%s", verdict.message)
            self._last_status = verdict.status or self._last_status
        if self._poke_deadline is not None and time.monotonic() >= self._poke_deadline:
            # Same text as the deferrable path's timeout (Airflow's own check would word it differently).
            raise AirflowSensorTimeout(timeout_message(name, mentor, "timeout", self._last_status))
        return False

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            if not self.reschedule:  # in reschedule mode each try restarts execute(); Airflow times it
                self._poke_deadline = time.monotonic() + self.timeout
            return super().execute(context)
        started = time.time()
        first = self.poke(context)
        if first:
            return first.xcom_value if isinstance(first, PokeReturnValue) else None
        name, mentor, run = self._ids()
        self.defer(
            trigger=report_trigger_class().for_task(
                self, started=started, timeout=self.timeout, poll_interval=self.poke_interval,
                report_name=name, mentor_unique_id=mentor, report_id=run,
            ),
            method_name="execute_complete",
            timeout=None,  # the trigger carries both deadlines (see the class docstring)
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger: validate its event and finish exactly like poke mode would."""
        name, mentor, run = self._ids()
        result = resolve_event(
            event,
            name,
            mentor,
            run,
            timeout_errors={"timeout": AirflowSensorTimeout, "execution_timeout": AirflowTaskTimeout},
        )
        self.log.info("Report %r run %s completed.", name, result.get("report_id"))
        return result
