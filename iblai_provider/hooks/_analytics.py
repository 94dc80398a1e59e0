"""Typed analytics reads for the sync hook: analytics endpoints, transcripts, mentor audit logs.

Built on the hook's ``get``/``paginate`` (one retry policy, one pagination routine). JSON
numbers are parsed as :class:`~decimal.Decimal`, so costs and rates stay exact end to end.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from iblai_provider.endpoints import ANALYTICS_READS, Endpoint
from iblai_provider.exceptions import IblaiConfigError
from iblai_provider.utils.analytics_params import AUDIT_ACTIONS, audit_action, build_audit_query


class AnalyticsMixin:
    """Analytics reads, transcripts and audit logs (mixed into :class:`~iblai_provider.hooks.iblai.IblaiHook`)."""

    def _analytics_call(
        self, endpoint: str, params: Mapping[str, Any] | None, content_id: str | None
    ) -> tuple[Endpoint, str, dict[str, Any]]:
        entry = ANALYTICS_READS.get(endpoint)
        if entry is None:
            raise IblaiConfigError(f"endpoint must be one of {', '.join(sorted(ANALYTICS_READS))}; got {endpoint!r}")
        query = dict(params or {})
        # Platform scope needs the org's key; an explicit None means "send no platform_key".
        if "platform_key" in entry.by_name and "platform_key" not in query:
            query["platform_key"] = self.org  # type: ignore[attr-defined]
        query = {k: v for k, v in query.items() if v is not None}
        path = entry.path
        if entry.path_params:
            if not content_id:
                raise IblaiConfigError(f"endpoint {endpoint!r} needs content_id")
            path = path.format(content_id=quote(str(content_id), safe=":+@"))
        return entry, path, query

    def analytics(
        self, endpoint: str, params: Mapping[str, Any] | None = None, *, content_id: str | None = None
    ) -> Any:
        """One analytics read: the whole body (for a paginated endpoint, one page of it).

        :param endpoint: catalogue key, the path below ``/api/analytics/`` (``"users/"``,
            ``"learner/details"``, ``"content/details/{content_id}/"``).
        :param params: wire query params; lists become repeated keys. ``platform_key`` defaults
            to the connection's org.
        :param content_id: fills ``{content_id}`` in the path.
        """
        _, path, query = self._analytics_call(endpoint, params, content_id)
        return self.get(path, query, parse_float=Decimal)  # type: ignore[attr-defined]

    def iter_analytics(
        self, endpoint: str, params: Mapping[str, Any] | None = None, *, content_id: str | None = None
    ) -> Iterator[Any]:
        """Every record of a paginated analytics endpoint, lazily, one page in memory."""
        entry, path, query = self._analytics_call(endpoint, params, content_id)
        if entry.pagination is None:
            raise IblaiConfigError(f"endpoint {endpoint!r} is not paginated; use analytics()")
        return self.paginate(path, query, items_key=entry.items_key, parse_float=Decimal)  # type: ignore[attr-defined]

    def iter_transcripts(self, params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Conversation list items (``messages/``): filters ``start_date``, ``end_date``,
        ``mentor_unique_id``, ``usergroup_ids``, ``search``, ``sentiment``, ``topic``,
        ``min_messages``, ``max_messages``; page size ``limit`` (max 100)."""
        return self.iter_analytics("messages/", params)

    def get_transcript(
        self, session_id: str, *, mentor_unique_id: str | None = None, platform_key: str | None = None
    ) -> dict[str, Any]:
        """One conversation: ``{"summary": {...}, "messages": [{"human", "ai"}, ...]}``."""
        params = {"session_id": session_id, "mentor_unique_id": mentor_unique_id}
        if platform_key is not None:
            params["platform_key"] = platform_key
        return self.analytics("messages/details/", params)

    def iter_audit_logs(
        self,
        *,
        mentor: str | None = None,
        action: str | int | None = None,
        actor: str | None = None,
        from_date: Any = None,
        to_date: Any = None,
        page_size: int = 100,
    ) -> Iterator[dict[str, Any]]:
        """Mentor audit-log entries, newest first, through every page.

        :param action: ``create``/``update``/``delete`` or ``0``/``1``/``2``. The server drops
            ``action=0`` (API doc §5), so entries are also filtered here.
        :param actor: an e-mail (wire ``actor_email``) or a username (``actor_username``);
            also checked here, since servers differ on which field they filter.
        """
        query = build_audit_query(
            mentor=mentor, action=action, actor=actor, from_date=from_date, to_date=to_date, page_size=page_size
        )
        code = audit_action(action)
        wanted = AUDIT_ACTIONS[code] if code is not None else None
        path = self.user_path("mentors/audit-logs/")  # type: ignore[attr-defined]
        for entry in self.paginate(path, query, items_key="results"):  # type: ignore[attr-defined]
            if wanted is not None and entry.get("action") != wanted:
                continue
            if actor and actor.lower() not in (
                str(entry.get(k) or "").lower() for k in ("actor_email", "actor_username")
            ):
                continue
            yield entry
