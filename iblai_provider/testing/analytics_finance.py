"""Fake cost analytics (API doc §4 ``financial/*``). Costs are decimal strings, never floats."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from iblai_provider.testing.analytics_data import ANCHOR, CostRecord, dataset
from iblai_provider.testing.analytics_queries import Scope, cost_records, iso, money
from iblai_provider.testing.analytics_scope import Ctx, bucket, buckets, change, like, page_of
from iblai_provider.testing.server import HttpError

ZERO = Decimal(0)
DETAIL_METRICS = {
    "total_cost": ("$", "Cost for this entity in period"),
    "sessions": ("count", "Distinct chat sessions"),
    "messages": ("count", "Messages exchanged"),
    "input_tokens": ("tokens", "Prompt tokens"),
    "output_tokens": ("tokens", "Completion tokens"),
    "last_active": ("datetime", "Latest usage in period"),
}


def _filtered(ctx: Ctx, scope: Scope | None = None) -> list[CostRecord]:
    provider, model, username = ctx.arg("provider"), ctx.arg("llm_model"), ctx.arg("username")
    return [
        r
        for r in cost_records(scope or ctx.scope)
        if (provider is None or r.provider == provider)
        and (model is None or r.llm_model == model)
        and (username is None or r.conversation.user.username == username)
    ]


def _total(records: list[CostRecord]) -> Decimal:
    return sum((r.cost for r in records), ZERO)


def financial(ctx: Ctx) -> dict[str, Any]:
    metric = ctx.arg("metric")
    start, end = ctx.span
    gran = ctx.arg("granularity", "day") or "day"
    if metric == "weekly_costs":
        start, gran = end - timedelta(days=end.weekday()), ctx.arg("granularity", "week") or "week"
    elif metric == "monthly_costs":
        start, gran = end.replace(day=1), ctx.arg("granularity", "month") or "month"
    scope = Scope(ctx.scope.mentor, ctx.scope.groups, start, end)
    records = _filtered(ctx, scope)
    value = _total(records)
    days = ctx.int("comparison_days", (end - start).days + 1)
    prev_scope = Scope(scope.mentor, scope.groups, start - timedelta(days=days), start - timedelta(days=1))
    previous = _total(_filtered(ctx, prev_scope))
    filters: dict[str, Any] = {
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "granularity": gran,
        "comparison_days": days,
    }
    for name in ("provider", "llm_model", "username", "mentor_unique_id"):
        if ctx.arg(name):
            filters[name] = ctx.arg(name)
    body: dict[str, Any] = {
        "metric": metric,
        "filters": filters,
        "value": money(value),
        "percentage_change": change(float(value), float(previous)),
        "period_info": {
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "period_days": (end - start).days + 1,
            "range_type": "custom" if ctx.arg("date_filter") == "custom" else "default",
        },
        "comparison_info": {
            "previous_period_count": days,
            "previous_period_value": money(previous),
            "comparison_start": prev_scope.start.isoformat(),  # type: ignore[union-attr]
            "comparison_end": prev_scope.end.isoformat(),  # type: ignore[union-attr]
            "comparison_days": days,
            "recent_period_value": money(value),
        },
    }
    if ctx.flag("show_overtime", True):
        sums: dict[str, Decimal] = {}
        for r in records:
            label = bucket_day(r.day, gran)
            sums[label] = sums.get(label, ZERO) + r.cost
        points, last = [], ZERO
        for label in buckets(start, end, gran):
            if label in sums or ctx.arg("fill_method", "zero") == "zero":
                last = sums.get(label, ZERO)
            points.append({"date": label, "value": money(last)})
        body["overtime"] = points
    return body


def bucket_day(day: date, granularity: str) -> str:
    return bucket(datetime(day.year, day.month, day.day, tzinfo=timezone.utc), granularity)


_KEYS: dict[str, Callable[[CostRecord], str]] = {
    "provider": lambda r: r.provider,
    "llm_model": lambda r: r.llm_model,
    "username": lambda r: r.conversation.user.username,
    "mentor": lambda r: r.conversation.mentor.name,
    "platform": lambda r: "",  # filled with the org by the caller
    "action": lambda r: r.action,
}


def detail_rows(ctx: Ctx) -> tuple[list[dict[str, Any]], Decimal]:
    """Every ``financial/details/`` row for the request (all pages), and the grand total."""
    group_by = ctx.arg("group_by") or ""
    wanted = [m.strip() for m in (ctx.arg("metrics") or "total_cost").split(",") if m.strip()]
    unknown = [m for m in wanted if m not in DETAIL_METRICS]
    if unknown:
        raise HttpError(
            400, {"metrics": [f"Unknown metric(s): {', '.join(unknown)}. Allowed: {', '.join(DETAIL_METRICS)}."]}
        )
    groups: dict[str, list[CostRecord]] = {}
    key = _KEYS[group_by]
    for r in _filtered(ctx):
        groups.setdefault(key(r) or ctx.org, []).append(r)
    rows = []
    for name, records in groups.items():
        if not like(ctx.arg("search"), name):
            continue
        row: dict[str, Any] = {group_by: name}
        if group_by == "mentor":
            row["mentor_unique_id"] = records[0].conversation.mentor.unique_id
        sessions = {r.conversation.session for r in records}
        values = {
            "total_cost": money(_total(records)),
            "sessions": len(sessions),
            "messages": sum(dataset().conversation_by_session[s].message_count for s in sessions),
            "input_tokens": sum(r.input_tokens for r in records),
            "output_tokens": sum(r.output_tokens for r in records),
            "last_active": iso(max(r.conversation.created_at for r in records)),
        }
        row.update({m: values[m] for m in wanted})
        row["_sort"] = _total(records)
        rows.append(row)
    rows.sort(key=lambda r: (-r["_sort"], r[group_by]))
    total = sum((r.pop("_sort") for r in rows), ZERO)
    return rows, total


def financial_details(ctx: Ctx) -> dict[str, Any]:
    rows, total = detail_rows(ctx)
    wanted = [m.strip() for m in (ctx.arg("metrics") or "total_cost").split(",") if m.strip()]
    page, p = page_of(ctx, rows)
    return {
        "page": p["page"],
        "limit": p["limit"],
        "total_pages": p["total_pages"],
        "total_records": p["total_records"],
        "rows": page,
        "total_cost": money(total),
        "metrics": [{"name": m, "unit": DETAIL_METRICS[m][0], "description": DETAIL_METRICS[m][1]} for m in wanted],
    }


def invoice(ctx: Ctx) -> dict[str, Any]:
    end = ctx.date("end_date") or ANCHOR
    start = ctx.date("start_date") or end - timedelta(days=29)
    username = ctx.arg("username")
    user = dataset().user_by_name.get(username) if username else None
    if username and user is None:
        raise HttpError(404, {"detail": "No data found"})
    records = [
        r
        for r in cost_records(Scope(None, ctx.scope.groups, start, end))
        if user is None or r.conversation.user is user
    ]
    if not records:
        raise HttpError(404, {"detail": "No data found"})
    total = _total(records)
    sessions = {r.conversation.session for r in records}
    entity: dict[str, Any] = {
        "type": "user" if user else "platform",
        "platform_key": ctx.org,
        "platform_name": "Acme Academy",
    }
    if user:
        entity.update(username=user.username, display_name=f"{user.full_name} on Acme Academy")
    else:
        entity["display_name"] = "Acme Academy"
    body: dict[str, Any] = {
        "entity": entity,
        "billing_period": {
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "days": (end - start).days + 1,
        },
        "summary": {
            "total_cost": money(total),
            "total_sessions": len(sessions),
            "active_users": len({r.conversation.user.username for r in records}),
            "cost_per_session": money(total / len(sessions)),
        },
    }
    if ctx.flag("include_breakdown", True):

        def split(key: Callable[[CostRecord], str], label: str) -> list[dict[str, Any]]:
            parts: dict[str, list[CostRecord]] = {}
            for r in records:
                parts.setdefault(key(r), []).append(r)
            out = [
                {
                    label: k,
                    "cost": money(_total(v)),
                    "percentage": f"{_total(v) * 100 / total:.1f}",
                    "sessions": len({r.conversation.session for r in v}),
                }
                for k, v in parts.items()
            ]
            return sorted(out, key=lambda x: -Decimal(x["cost"]))

        body["breakdown"] = {
            "by_provider": split(_KEYS["provider"], "provider"),
            "by_mentor": split(_KEYS["mentor"], "mentor"),
            "by_action": split(_KEYS["action"], "action"),
        }
    return body
