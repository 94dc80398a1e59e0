"""Fake mentor audit logs (API doc §5): DRF limit/offset over the seeded entries.

Filters ``mentor``, ``action`` (0 create, 1 update, 2 delete), ``actor_email`` and
``actor_username``, ``from_date``/``to_date`` (inclusive). Reproduces the documented server
quirk: ``action=0`` is dropped, so that request returns entries of every action.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any
from urllib.parse import urlencode

from iblai_provider.testing import audit_data
from iblai_provider.testing.http import Request, Response
from iblai_provider.testing.params import check_query
from iblai_provider.testing.server import HttpError

DEFAULT_LIMIT = 20
FORBIDDEN = {"detail": "You do not have permission to perform this action."}


def _link(request: Request, offset: int | None, limit: int) -> str:
    """An absolute page link, as DRF builds it: the request's other params kept, paging replaced."""
    query = [(k, v) for k, values in request.query.items() if k not in ("limit", "offset") for v in values]
    query.append(("limit", str(limit)))
    if offset:  # DRF drops offset=0 from the previous link
        query.append(("offset", str(offset)))
    host = request.headers.get("host", "testserver")
    return f"http://{host}{request.path}?{urlencode(query)}"


def register(server: Any) -> None:
    @server.route("GET", r"/api/ai-mentor/orgs/(?P<org>[^/]+)/users/(?P<username>[^/]+)/mentors/audit-logs/")
    def audit_logs(request: Request) -> Response:
        check_query("mentors/audit-logs/", request.query)
        if request.params["org"] != server.org or request.params["username"] != server.username:
            raise HttpError(403, FORBIDDEN)
        mentor = request.arg("mentor")
        if mentor is not None:
            try:
                uuid.UUID(mentor)
            except ValueError:
                raise HttpError(400, {"mentor": ["Must be a valid UUID."]}) from None
        action = request.arg("action")
        # The quirk (API doc §5): the server treats action=0 as "no filter".
        wanted = audit_data.ACTIONS[int(action)] if action not in (None, "0") else None
        rows = audit_data.matching(
            mentor=mentor,
            action=wanted,
            actor_email=request.arg("actor_email"),
            actor_username=request.arg("actor_username"),
            from_date=date.fromisoformat(request.arg("from_date")) if request.arg("from_date") else None,
            to_date=date.fromisoformat(request.arg("to_date")) if request.arg("to_date") else None,
        )
        limit = int(request.arg("limit") or DEFAULT_LIMIT)
        offset = int(request.arg("offset") or 0)
        page = rows[offset : offset + limit]
        return Response.json(
            {
                "count": len(rows),
                "next": _link(request, offset + limit, limit) if offset + limit < len(rows) else None,
                "previous": _link(request, max(offset - limit, 0), limit) if offset > 0 else None,
                "results": [e.to_json() for e in page],
            }
        )
