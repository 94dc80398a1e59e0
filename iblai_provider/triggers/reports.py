"""Trigger that waits in the triggerer for a Data Reports run to finish."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from iblai_provider._compat import BaseTrigger, TriggerEvent
from iblai_provider.hooks.iblai import IblaiAsyncHook
from iblai_provider.utils.report_state import (
    error_event,
    evaluate,
    is_transient,
    timeout_event,
    timeout_message,
    verdict_event,
)


class IblaiReportTrigger(BaseTrigger):
    """Poll a report's latest run (``GET .../{report_name}?mentor_unique_id=``) until it finishes.

    Yields exactly one event and returns:

    - ``success`` / ``failed``: the run reached a terminal state; ``report`` is its public status
      (no download URL), which the task re-evaluates with :func:`~iblai_provider.utils.report_state.evaluate`;
    - ``timeout``: the deadline passed first; ``reason`` says which one (``timeout`` or ``execution_timeout``);
    - ``error``: an error that retrying cannot fix (401, 403, 404, a broken connection config).

    Transient errors (5xx, 429, connection resets) are retried with backoff by the async hook
    itself. If they outlast the hook's retries, the trigger logs them and keeps polling until its
    deadline: a short API outage must not fail a wait of hours, and the deadline still bounds it.

    Only the async hook is used (``aiohttp``, async connection lookup); ``run()`` never blocks.

    :param report_name: the report slug.
    :param end_time: absolute deadline (epoch seconds) for the report to finish: the task's ``timeout``.
    :param mentor_unique_id: the mentor the run belongs to (poll query ``mentor_unique_id``).
    :param report_id: when set, the run to wait for; a newer run reported instead fails closed.
    :param poll_interval: seconds between polls.
    :param execution_deadline: absolute deadline (epoch seconds) from the task's ``execution_timeout``.
    :param iblai_conn_id: the ``iblai`` connection.
    """

    def __init__(
        self,
        report_name: str,
        end_time: float,
        mentor_unique_id: str | None = None,
        report_id: str | None = None,
        poll_interval: float = 30.0,
        execution_deadline: float | None = None,
        iblai_conn_id: str = "iblai_default",
    ) -> None:
        super().__init__()
        self.report_name = report_name
        self.end_time = float(end_time)
        self.mentor_unique_id = mentor_unique_id
        self.report_id = report_id
        self.poll_interval = float(poll_interval)
        self.execution_deadline = None if execution_deadline is None else float(execution_deadline)
        self.iblai_conn_id = iblai_conn_id

    @classmethod
    def for_task(
        cls,
        task: Any,
        *,
        started: float,
        timeout: float,
        poll_interval: float,
        report_name: str,
        mentor_unique_id: str | None,
        report_id: str | None,
    ) -> IblaiReportTrigger:
        """The trigger a deferring task hands over: both of its deadlines made absolute from
        ``started`` (epoch seconds), so ``defer(timeout=None)`` loses neither."""
        execution_timeout = task.execution_timeout
        return cls(
            report_name=report_name,
            end_time=started + timeout,
            mentor_unique_id=mentor_unique_id,
            report_id=report_id,
            poll_interval=poll_interval,
            execution_deadline=started + execution_timeout.total_seconds() if execution_timeout is not None else None,
            iblai_conn_id=task.iblai_conn_id,
        )

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "report_name": self.report_name,
                "end_time": self.end_time,
                "mentor_unique_id": self.mentor_unique_id,
                "report_id": self.report_id,
                "poll_interval": self.poll_interval,
                "execution_deadline": self.execution_deadline,
                "iblai_conn_id": self.iblai_conn_id,
            },
        )

    def _deadline(self) -> tuple[float, str]:
        """The earlier of the two deadlines and its reason."""
        if self.execution_deadline is not None and self.execution_deadline <= self.end_time:
            return self.execution_deadline, "execution_timeout"
        return self.end_time, "timeout"

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = IblaiAsyncHook(self.iblai_conn_id)
        last: dict[str, Any] | None = None
        seen_state: str | None = None
        while True:
            try:
                status = await hook.get_report_status(self.report_name, self.mentor_unique_id)
            except Exception as exc:  # noqa: BLE001 - any error becomes one event; CancelledError passes
                if not is_transient(exc):
                    yield TriggerEvent(error_event(exc))
                    return
                self.log.warning("Report %r: %s; polling again until the deadline.", self.report_name, exc)
            else:
                verdict = evaluate(status, self.report_name, self.mentor_unique_id, self.report_id)
                if verdict.finished:
                    yield TriggerEvent(verdict_event(verdict))
                    return
                last = verdict.status or last
                state = (last or {}).get("state")
                if state != seen_state:  # log transitions, not every poll of 1,000 triggers
                    self.log.info("%s", verdict.message)
                    seen_state = state
            deadline, reason = self._deadline()
            remaining = deadline - time.time()
            if remaining <= 0:
                message = timeout_message(self.report_name, self.mentor_unique_id, reason, last)
                yield TriggerEvent(timeout_event(reason, message, last))
                return
            # Wake at the deadline at the latest, so the last poll happens right at it.
            await asyncio.sleep(min(self.poll_interval, remaining))
