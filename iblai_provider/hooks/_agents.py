"""Typed periodic-agent calls (API reference §3) for the sync and async hooks.

Everything goes through the hook's generic ``get``/``post``/``patch``/``delete``/``paginate``, so
the one retry policy and the one pagination routine apply. Paths are below
``/api/ai-mentor/orgs/{org}/users/{username}/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum
from itertools import islice
from typing import Any

from iblai_provider.exceptions import IblaiApiError

AGENTS = "periodic-agents/"
LOGS = "periodic-agent-logs/"
PAGE_SIZE = 100


class PeriodicAgentLogStatus(str, Enum):
    """Status of one periodic-agent run log (the log enum has no ``pending``)."""

    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"

    @classmethod
    def terminal(cls) -> frozenset[PeriodicAgentLogStatus]:
        return frozenset({cls.SUCCESS, cls.ERROR})


PREVIOUS_AGENT_STATUSES = ("success", "error", "running", "pending")


def mentor_unique_id(agent: dict[str, Any]) -> str | None:
    """The agent's mentor UUID whatever the shape: a string (create/update) or a nested Mentor (get/list)."""
    mentor = agent.get("mentor")
    if isinstance(mentor, dict):
        return mentor.get("unique_id")
    return mentor if isinstance(mentor, str) else None


def _drop_none(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def _log_params(
    agent_id: int | None, status: str | None, ordering: str | None, search: str | None, page_size: int | None
) -> dict[str, Any]:
    return _drop_none(
        {"periodic_agent": agent_id, "status": status, "ordering": ordering, "search": search, "page_size": page_size}
    )


class PeriodicAgentsMixin:
    """Periodic agents and their run logs on :class:`~iblai_provider.hooks.iblai.IblaiHook`."""

    def periodic_agent_path(self, agent_id: int | None = None) -> str:
        suffix = AGENTS if agent_id is None else f"{AGENTS}{int(agent_id)}/"
        return self.user_path(suffix)  # type: ignore[attr-defined]

    def list_periodic_agents(
        self,
        *,
        mentor_id: str | None = None,
        title: str | None = None,
        enabled: bool | None = None,
        search: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[dict[str, Any]]:
        """Agents, lazily over all pages (``mentor`` is a nested Mentor object in these).

        :param mentor_id: wire ``mentor_id``, a mentor unique_id.
        :param title: wire ``title``.
        :param enabled: wire ``enabled`` (``true``/``false``).
        :param search: wire ``search``.
        """
        params = _drop_none({"mentor_id": mentor_id, "title": title, "search": search, "page_size": page_size})
        if enabled is not None:
            params["enabled"] = "true" if enabled else "false"
        return self.paginate(self.periodic_agent_path(), params)  # type: ignore[attr-defined]

    def find_periodic_agents(self, mentor: str, title: str) -> list[dict[str, Any]]:
        """Agents of ``mentor`` (unique_id) titled exactly ``title``, oldest first.

        The server filters by both; the exact match is re-checked here because the API does not
        document whether its ``title`` filter is exact.
        """
        found = [
            agent
            for agent in self.list_periodic_agents(mentor_id=mentor, title=title)
            if agent.get("title") == title and mentor_unique_id(agent) == mentor
        ]
        return sorted(found, key=lambda agent: agent["id"])

    def get_periodic_agent(self, agent_id: int) -> dict[str, Any]:
        return self.get(self.periodic_agent_path(agent_id))  # type: ignore[attr-defined]

    def create_periodic_agent(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST (201). Not idempotent: retried only when the request cannot have been processed."""
        return self.post(self.periodic_agent_path(), json=body)  # type: ignore[attr-defined]

    def update_periodic_agent(self, agent_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """PATCH: ``enabled``/``one_off``/``start_time`` must be inside ``task`` (the API ignores them on top)."""
        return self.patch(self.periodic_agent_path(agent_id), json=changes)  # type: ignore[attr-defined]

    def delete_periodic_agent(self, agent_id: int, *, missing_ok: bool = False) -> bool:
        """DELETE (204). Returns False when the agent was already gone and ``missing_ok`` is set."""
        try:
            self.delete(self.periodic_agent_path(agent_id))  # type: ignore[attr-defined]
        except IblaiApiError as exc:
            if missing_ok and exc.status == 404:
                return False
            raise
        return True

    def periodic_agent_statistics(self, mentor_id: str | None = None) -> dict[str, Any]:
        path = self.user_path(AGENTS + "statistics/")  # type: ignore[attr-defined]
        return self.get(path, _drop_none({"mentor_id": mentor_id}))  # type: ignore[attr-defined]

    def list_periodic_agent_logs(
        self,
        *,
        agent_id: int | None = None,
        status: str | None = None,
        ordering: str | None = "-created_at",
        search: str | None = None,
        page_size: int = PAGE_SIZE,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Run logs over all pages (up to ``limit`` records).

        :param agent_id: wire ``periodic_agent``.
        :param status: wire ``status``: ``success``, ``error`` or ``running``.
        :param ordering: wire ``ordering``; newest first by default.
        :param search: wire ``search``.
        :param page_size: wire ``page_size``.
        :param limit: stop after this many records (None: all).
        """
        params = _log_params(agent_id, status, ordering, search, page_size)
        records = self.paginate(self.user_path(LOGS), params)  # type: ignore[attr-defined]
        return list(islice(records, limit) if limit is not None else records)

    def latest_periodic_agent_logs(self, agent_id: int, count: int = 50) -> list[dict[str, Any]]:
        """The newest ``count`` logs of one agent, one request (what the run sensor polls)."""
        params = _log_params(agent_id, None, "-created_at", None, count)
        return _results(self.get(self.user_path(LOGS), params))  # type: ignore[attr-defined]

    def get_periodic_agent_log(self, log_id: int) -> dict[str, Any]:
        return self.get(self.user_path(f"{LOGS}{int(log_id)}/"))  # type: ignore[attr-defined]


class AsyncPeriodicAgentsMixin:
    """Periodic-agent run logs on :class:`~iblai_provider.hooks.iblai.IblaiAsyncHook` (for triggers)."""

    async def latest_periodic_agent_logs(self, agent_id: int, count: int = 50) -> list[dict[str, Any]]:
        """Async twin of :meth:`PeriodicAgentsMixin.latest_periodic_agent_logs`."""
        await self.get_settings()  # type: ignore[attr-defined]  # user_path needs the connection
        path = self.user_path(LOGS)  # type: ignore[attr-defined]
        params = _log_params(agent_id, None, "-created_at", None, count)
        return _results(await self.get(path, params))  # type: ignore[attr-defined]


def _results(body: Any) -> list[dict[str, Any]]:
    results = body.get("results") if isinstance(body, dict) else None
    return [item for item in results if isinstance(item, dict)] if isinstance(results, list) else []
