"""Request handling shared by the fake analytics views: scope, windows, pagination, time series.

Every analytics route first calls :func:`context`, which checks the query against the endpoint
catalogue (400 on anything the OpenAPI snapshot does not allow), refuses another org's
``platform_key`` (403) or an unknown agent (404), and resolves the date window.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, TypeVar

from iblai_provider.endpoints import ENDPOINTS
from iblai_provider.testing.analytics_data import ANCHOR, FIRST_DAY, dataset
from iblai_provider.testing.analytics_queries import Scope, window
from iblai_provider.testing.http import Request
from iblai_provider.testing.params import check_query
from iblai_provider.testing.server import HttpError

T = TypeVar("T")
FORBIDDEN = {"detail": "You do not have permission to perform this action."}


@dataclass
class Ctx:
    """One analytics request, validated: its scope plus typed access to the query."""

    request: Request
    org: str
    caller: str
    scope: Scope

    def arg(self, name: str, default: str | None = None) -> str | None:
        return self.request.arg(name, default)

    def int(self, name: str, default: int) -> int:
        value = self.arg(name)
        return default if value is None else int(value)

    def flag(self, name: str, default: bool) -> bool:
        value = self.arg(name)
        return default if value is None else value.lower() in ("true", "1")

    def date(self, name: str) -> date | None:
        value = self.arg(name)
        return date.fromisoformat(value) if value else None

    @property
    def span(self) -> tuple[date, date]:
        """The window with open ends closed on the data's first day and the fake's today."""
        return self.scope.start or FIRST_DAY, self.scope.end or ANCHOR


def context(key: str, request: Request, server: Any) -> Ctx:
    """Validate ``request`` for catalogue endpoint ``key`` and resolve its scope."""
    check_query(key, request.query)
    endpoint = ENDPOINTS[key]
    platform = request.arg("platform_key")
    if platform is not None and platform != server.org:
        raise HttpError(403, FORBIDDEN)
    mentor = request.arg("mentor_unique_id")
    if mentor is not None and mentor not in dataset().mentor_by_id:
        raise HttpError(404, {"detail": "Mentor not found."})
    groups = tuple(int(v) for v in request.query.get("usergroup_ids", []))
    start = date.fromisoformat(request.arg("start_date")) if request.arg("start_date") else None
    end = date.fromisoformat(request.arg("end_date")) if request.arg("end_date") else None
    if start and end and end < start:
        raise HttpError(400, {"end_date": ["end_date must be on or after start_date."]})
    if "date_filter" in endpoint.by_name:
        date_filter = request.arg("date_filter")
        if date_filter == "custom" and (start is None or end is None):
            missing = "start_date" if start is None else "end_date"
            raise HttpError(400, {missing: ["This field is required when date_filter is custom."]})
        if date_filter is None and (start is None) != (end is None):
            date_filter = "custom"
        start, end = window(date_filter, start, end)
    return Ctx(request, server.org, server.username, Scope(mentor, groups, start, end))


def p8(items: Sequence[T], page: int, limit: int, *, out_of_range_404: bool = False) -> tuple[list[T], dict[str, Any]]:
    """One page of ``items`` and the analytics pagination object (API doc §4 "P8")."""
    total_pages = max(1, math.ceil(len(items) / limit))
    if out_of_range_404 and page > total_pages:
        raise HttpError(404, {"error": "Page out of range"})
    chunk = list(items[(page - 1) * limit : page * limit])
    has_next, has_previous = page < total_pages, page > 1
    return chunk, {
        "page": page,
        "limit": limit,
        "total_pages": total_pages,
        "total_records": len(items),
        "has_next": has_next,
        "has_previous": has_previous,
        "next_page": page + 1 if has_next else None,
        "previous_page": page - 1 if has_previous else None,
    }


def page_of(ctx: Ctx, items: Sequence[T], default_limit: int = 20, **kw: Any) -> tuple[list[T], dict[str, Any]]:
    return p8(items, ctx.int("page", 1), ctx.int("limit", default_limit), **kw)


def bucket(moment: datetime, granularity: str) -> str:
    """The label of the time bucket ``moment`` falls in."""
    if granularity == "hour":
        return moment.strftime("%Y-%m-%dT%H:00:00Z")
    day = moment.date()
    if granularity == "week":
        day -= timedelta(days=day.weekday())
    elif granularity == "month":
        day = day.replace(day=1)
    return day.isoformat()


def buckets(start: date, end: date, granularity: str) -> list[str]:
    """Every bucket label from ``start`` to ``end`` inclusive, in order."""
    labels: list[str] = []
    moment = datetime(start.year, start.month, start.day, tzinfo=timezone.utc)
    stop = datetime(end.year, end.month, end.day, 23, 59, tzinfo=timezone.utc)
    step = timedelta(hours=1) if granularity == "hour" else timedelta(days=1)
    while moment <= stop:
        label = bucket(moment, granularity)
        if not labels or labels[-1] != label:
            labels.append(label)
        moment += step
    return labels


def series(
    ctx: Ctx,
    records: Iterable[T],
    when: Callable[[T], datetime],
    value: Callable[[list[T]], Any],
    granularity: str | None = None,
) -> list[dict[str, Any]]:
    """``[{date, value}]`` over the request's window, one point per bucket (empty buckets included)."""
    gran = granularity or ctx.arg("granularity", "hour") or "hour"
    grouped: dict[str, list[T]] = {}
    for record in records:
        grouped.setdefault(bucket(when(record), gran), []).append(record)
    start, end = ctx.span
    return [{"date": label, "value": value(grouped.get(label, []))} for label in buckets(start, end, gran)]


def change(current: float, previous: float) -> float | None:
    """Percentage change, one decimal, None when there is nothing to compare with."""
    if not previous:
        return None
    return round((current - previous) * 100.0 / previous, 1)


def previous_scope(ctx: Ctx) -> Scope:
    """The window of the same length right before the request's (for comparisons)."""
    start, end = ctx.span
    length = (end - start).days + 1
    return Scope(ctx.scope.mentor, ctx.scope.groups, start - timedelta(days=length), start - timedelta(days=1))


def like(needle: str | None, *haystack: str) -> bool:
    """Case-insensitive substring search, as the API's ``search`` params do."""
    return not needle or any(needle.lower() in (h or "").lower() for h in haystack)
