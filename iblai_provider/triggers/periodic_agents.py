"""Trigger that waits for a periodic-agent run to end (the rule it applies: :mod:`~iblai_provider.utils.agent_runs`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from iblai_provider._compat import BaseTrigger, TriggerEvent
from iblai_provider.hooks._retry import is_transient
from iblai_provider.utils.agent_runs import EVENT_FAILED, EVENT_TIMEOUT, LOG_COUNT, evaluate_run, parse_instant


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
