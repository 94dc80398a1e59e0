"""Validation of analytics and audit-log arguments, against the endpoint catalogue, before any request.

Every rule raises one :class:`~iblai_provider.exceptions.IblaiConfigError` that names the
argument and says what it accepts. Operator arguments map to wire fields as follows:
``from_date``/``to_date`` -> ``start_date``/``end_date`` (audit logs: ``from_date``/``to_date``),
``usergroup_ids`` -> repeated ``usergroup_ids`` keys, ``mentor_unique_id`` -> the same name.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, NamedTuple

from iblai_provider.endpoints import ANALYTICS_READS, DATE_FILTERS, Endpoint, check_value
from iblai_provider.exceptions import IblaiConfigError
from iblai_provider.utils.arguments import as_date, group_ids

# Query params that have an operator argument of their own (so there is one way to set each).
DEDICATED = {
    "mentor_unique_id": "mentor_unique_id",
    "date_filter": "date_filter",
    "start_date": "from_date",
    "end_date": "to_date",
    "usergroup_ids": "usergroup_ids",
}
AUDIT_ACTIONS = ("create", "update", "delete")  # wire integers 0, 1, 2


class AnalyticsRequest(NamedTuple):
    """A validated read: catalogue entry, wire query (lists become repeated keys), path id.

    ``platform_key`` is absent when unset, so the hook defaults it to the connection's org, and
    None when the caller asked for no ``platform_key`` at all.
    """

    endpoint: Endpoint
    query: dict[str, Any]
    content_id: str | None = None


def check_uuid(name: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise IblaiConfigError(f"{name} must be an agent's unique_id (a UUID); got {value!r}") from None


def date_window(endpoint: Endpoint, date_filter: Any, from_date: Any, to_date: Any) -> dict[str, str]:
    """The wire date params: ``date_filter`` where the endpoint takes it, plus the custom dates."""
    if date_filter not in DATE_FILTERS:
        raise IblaiConfigError(f"date_filter must be one of {', '.join(DATE_FILTERS)}; got {date_filter!r}")
    start, end = as_date("from_date", from_date), as_date("to_date", to_date)
    if start and end and end < start:
        raise IblaiConfigError(f"to_date ({end}) is before from_date ({start}); to_date must be on or after from_date")
    query: dict[str, str] = {}
    if "date_filter" in endpoint.by_name:
        if date_filter == "custom" and (start is None or end is None):
            raise IblaiConfigError("date_filter='custom' needs both from_date and to_date (YYYY-MM-DD)")
        if date_filter != "custom" and (start or end):
            raise IblaiConfigError(
                f"from_date/to_date only apply with date_filter='custom'; got date_filter={date_filter!r}. "
                f"Set date_filter='custom' or drop the dates (accepted date_filter values: {', '.join(DATE_FILTERS)})"
            )
        query["date_filter"] = date_filter
    elif (start or end) and "start_date" not in endpoint.by_name:
        raise IblaiConfigError(f"endpoint {endpoint.key!r} takes no dates; drop from_date/to_date")
    if start:
        query["start_date"] = start.isoformat()
    if end:
        query["end_date"] = end.isoformat()
    return query


def _wire(endpoint: Endpoint, name: str, value: Any) -> str:
    """One query_params value as it travels, checked against the catalogue."""
    param = endpoint.by_name[name]
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, date | datetime):
        text = value.isoformat()[:10] if param.type == "date" else value.isoformat()
    else:
        text = str(value)
    if param.type == "boolean" and text.lower() not in ("true", "false"):
        problem: str | None = f"must be true or false; got {value!r}"
    else:
        problem = check_value(param, text)
    if problem:
        raise IblaiConfigError(f"query_params[{name!r}] for endpoint {endpoint.key!r} {problem}")
    return text


def build_analytics_request(
    endpoint_key: str,
    *,
    query_params: Mapping[str, Any] | None = None,
    mentor_unique_id: Any = None,
    date_filter: Any = "30d",
    from_date: Any = None,
    to_date: Any = None,
    usergroup_ids: Any = None,
    content_id: Any = None,
    all_pages: bool = True,
) -> AnalyticsRequest:
    """Validate everything about one analytics read; raise before any request is sent."""
    endpoint = ANALYTICS_READS.get(endpoint_key)  # type: ignore[arg-type]
    if endpoint is None:
        raise IblaiConfigError(f"endpoint must be one of {', '.join(sorted(ANALYTICS_READS))}; got {endpoint_key!r}")
    if query_params is not None and not isinstance(query_params, Mapping):
        raise IblaiConfigError(
            f"query_params must be a dict of API query parameters; got {type(query_params).__name__}"
        )
    query: dict[str, Any] = date_window(endpoint, date_filter, from_date, to_date)
    mentor = check_uuid("mentor_unique_id", mentor_unique_id)
    if mentor:
        if "mentor_unique_id" not in endpoint.by_name:
            raise IblaiConfigError(f"endpoint {endpoint_key!r} has no agent scope; drop mentor_unique_id")
        query["mentor_unique_id"] = mentor
    groups = group_ids(usergroup_ids)
    if groups:
        if "usergroup_ids" not in endpoint.by_name:
            raise IblaiConfigError(f"endpoint {endpoint_key!r} takes no usergroup_ids; drop usergroup_ids")
        query["usergroup_ids"] = groups
    accepted = sorted(n for n in endpoint.by_name if n not in DEDICATED and not (n == "page" and all_pages))
    for name, value in (query_params or {}).items():
        if name in DEDICATED:
            raise IblaiConfigError(f"query_params[{name!r}]: set it with the operator argument {DEDICATED[name]!r}")
        if name == "page" and all_pages and endpoint.pagination:
            raise IblaiConfigError(
                "query_params['page'] is managed by all_pages=True; set all_pages=False to read one page"
            )
        if name not in endpoint.by_name:
            raise IblaiConfigError(
                f"query_params[{name!r}] is not a parameter of endpoint {endpoint_key!r}; "
                f"accepted: {', '.join(accepted)}"
            )
        if value is None:
            if name == "platform_key":
                query[name] = None
            continue
        query[name] = _wire(endpoint, name, value)
    for name in endpoint.required:
        if query.get(name) is None and not (name == "platform_key" and name not in query):
            param = endpoint.by_name[name]
            choices = f" (one of {', '.join(param.enum)})" if param.enum else ""
            raise IblaiConfigError(f"endpoint {endpoint_key!r} requires query_params[{name!r}]{choices}")
    if endpoint.path_params and not content_id:
        raise IblaiConfigError(f"endpoint {endpoint_key!r} needs content_id (the course, program, pathway or skill id)")
    if content_id and not endpoint.path_params:
        raise IblaiConfigError(
            f"content_id only applies to 'content/details/{{content_id}}/'; got endpoint {endpoint_key!r}"
        )
    return AnalyticsRequest(endpoint, query, str(content_id) if content_id else None)


def audit_action(value: Any) -> int | None:
    """``create|update|delete`` or ``0|1|2`` -> the wire integer."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().lower() in AUDIT_ACTIONS:
        return AUDIT_ACTIONS.index(value.strip().lower())
    if not isinstance(value, bool) and str(value).strip() in ("0", "1", "2"):
        return int(str(value).strip())
    raise IblaiConfigError(f"action must be one of create, update, delete (or 0, 1, 2); got {value!r}")


def build_audit_query(
    *,
    mentor: Any = None,
    action: Any = None,
    actor: Any = None,
    from_date: Any = None,
    to_date: Any = None,
    page_size: int = 100,
) -> dict[str, Any]:
    """The audit-log filters on the wire. ``actor`` with an ``@`` filters ``actor_email``, else ``actor_username``."""
    if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
        raise IblaiConfigError(f"page_size must be a positive integer; got {page_size!r}")
    query: dict[str, Any] = {"limit": page_size}
    mentor_id = check_uuid("mentor", mentor)
    if mentor_id:
        query["mentor"] = mentor_id
    code = audit_action(action)
    if code is not None:
        query["action"] = code
    if actor:
        query["actor_email" if "@" in str(actor) else "actor_username"] = str(actor)
    start, end = as_date("from_date", from_date), as_date("to_date", to_date)
    if start and end and end < start:
        raise IblaiConfigError(f"to_date ({end}) is before from_date ({start}); to_date must be on or after from_date")
    if start:
        query["from_date"] = start.isoformat()
    if end:
        query["to_date"] = end.isoformat()
    return query
