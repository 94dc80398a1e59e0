"""Trigger that waits for a periodic-agent run to end, and the run evaluation it shares with the sensor.

:func:`evaluate_run` is the single rule both modes apply to a page of logs, so poke mode and
deferrable mode succeed, fail and return exactly alike.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

from iblai_provider._compat import BaseTrigger, TriggerEvent
from iblai_provider.hooks._agents import PeriodicAgentLogStatus
from iblai_provider.hooks._retry import is_transient

# Event statuses: the run ended (success / error), the deadline passed, or the API could not be read.
EVENT_SUCCESS, EVENT_ERROR, EVENT_TIMEOUT, EVENT_FAILED = "success", "error", "timeout", "failed"
EVENT_STATUSES = frozenset({EVENT_SUCCESS, EVENT_ERROR, EVENT_TIMEOUT, EVENT_FAILED})
RUN_KEYS = ("agent_id", "log_id", "status", "start_time", "end_time", "created_at", "content")
LOG_COUNT = 50  # newest logs read per poll; runs are far rarer than polls


def parse_instant(value: Any) -> datetime | None:
    """An aware UTC datetime from a datetime or ISO-8601 text (naive means UTC); None if unusable."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def evaluate_run(
    logs: list[dict[str, Any]], agent_id: int, after: datetime, content_chars: int
) -> dict[str, Any] | None:
    """The outcome of the first run of ``agent_id`` created at or after ``after``; None while there is
    none or it is still running.

    The outcome is a JSON-safe dict with :data:`RUN_KEYS`; ``status`` is ``success`` or ``error``
    (a log status this provider does not know counts as ``error``: fail closed).
    """
    runs = []
    for log in logs:
        created = parse_instant(log.get("created_at"))
        if log.get("periodic_agent") == agent_id and created is not None and created >= after:
            runs.append((created, log.get("id") or 0, log))
    if not runs:
        return None
    log = min(runs, key=lambda run: (run[0], run[1]))[2]
    status = log.get("status")
    if status == PeriodicAgentLogStatus.RUNNING.value:
        return None
    known = status in {s.value for s in PeriodicAgentLogStatus.terminal()}
    content = log.get("content") if isinstance(log.get("content"), str) else ""
    # An error keeps at least an excerpt, whatever content_chars says: it becomes the failure message.
    limit = max(content_chars, 0) if status == PeriodicAgentLogStatus.SUCCESS.value else max(content_chars, 500)
    return {
        "agent_id": agent_id,
        "log_id": log.get("id"),
        "status": status if known else EVENT_ERROR,
        "start_time": log.get("start_time"),
        "end_time": log.get("end_time"),
        "created_at": log.get("created_at"),
        "content": content[:limit] if known else f"unknown run status {status!r}",
    }


class IblaiPeriodicAgentRunTrigger(BaseTrigger):
    """Poll an agent's newest run logs with the async hook until :func:`evaluate_run` decides, or
    until ``deadline``; emits exactly one event.

    Transient API errors are retried inside the hook; if they outlast its retries the trigger keeps
    polling until the deadline. Any other error becomes a ``failed`` event.

    :param agent_id: the periodic agent id.
    :param after: ISO-8601 instant; only runs created at or after it count.
    :param deadline: absolute POSIX time after which a ``timeout`` event is sent.
    :param content_chars: characters of the run's ``content`` to return.
    :param poll_interval: seconds between polls.
    :param iblai_conn_id: the ``iblai`` connection.
    """

    def __init__(
        self,
        agent_id: int,
        after: str,
        deadline: float,
        content_chars: int = 500,
        poll_interval: float = 30.0,
        iblai_conn_id: str = "iblai_default",
    ) -> None:
        super().__init__()
        self.agent_id = int(agent_id)
        self.after = str(after)
        self.deadline = float(deadline)
        self.content_chars = int(content_chars)
        self.poll_interval = float(poll_interval)
        self.iblai_conn_id = str(iblai_conn_id)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "agent_id": self.agent_id,
                "after": self.after,
                "deadline": self.deadline,
                "content_chars": self.content_chars,
                "poll_interval": self.poll_interval,
                "iblai_conn_id": self.iblai_conn_id,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        yield TriggerEvent(await self._wait())

    async def _wait(self) -> dict[str, Any]:
        from iblai_provider.hooks.iblai import IblaiAsyncHook

        hook = IblaiAsyncHook(iblai_conn_id=self.iblai_conn_id)
        after = parse_instant(self.after)
        if after is None:
            return {"status": EVENT_FAILED, "agent_id": self.agent_id, "message": f"unusable after={self.after!r}"}
        while True:
            try:
                logs = await hook.latest_periodic_agent_logs(self.agent_id, LOG_COUNT)
            except Exception as exc:  # reported as one event, never a crashed trigger
                if not is_transient(exc):
                    return {"status": EVENT_FAILED, "agent_id": self.agent_id,
                            "message": f"{type(exc).__name__}: {exc}"}
                self.log.warning("Periodic agent %s: API still failing after retries (%s); waiting on.",
                                 self.agent_id, exc)
                logs = []
            outcome = evaluate_run(logs, self.agent_id, after, self.content_chars)
            if outcome is not None:
                return outcome
            remaining = self.deadline - time.time()
            if remaining <= 0:
                return {"status": EVENT_TIMEOUT, "agent_id": self.agent_id,
                        "message": f"no finished run of periodic agent {self.agent_id} since {self.after}"}
            await asyncio.sleep(min(self.poll_interval, remaining))
