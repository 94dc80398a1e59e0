"""Fake content and learner analytics (API doc §4 ``learners/*``, ``learner/details``, §8 ``content/*``)."""

from __future__ import annotations

import math
from statistics import mean
from typing import Any

from iblai_provider.testing.analytics_data import PLATFORM_ID, PLATFORM_NAME, Enrollment, User, dataset
from iblai_provider.testing.analytics_queries import conversations, enrollments_for, iso, scoped_users
from iblai_provider.testing.analytics_scope import FORBIDDEN, Ctx, like, page_of, series
from iblai_provider.testing.server import HttpError

TIME_METRICS = ("enrollments", "completions", "ratings", "time_spent")
LEARNER_SECTIONS = ("courses", "programs", "pathways", "mentors", "skills", "credentials", "time_spent")
_GENERATED_AT = "2026-06-30T23:00:00Z"


def _kind(metric: str | None) -> str:
    return (metric or "").rstrip("s")


def _content_enrollments(ctx: Ctx, kind: str) -> list[Enrollment]:
    """Enrollments in ``kind`` of the scope's learners, as of the window's end."""
    learners = {u.username for u in scoped_users(ctx.scope)}
    _, end = ctx.span
    return [
        e
        for e in dataset().enrollments
        if e.content.kind == kind and e.user.username in learners and e.created.date() <= end
    ]


def _summary(enrolls: list[Enrollment], ctx: Ctx) -> dict[str, Any]:
    start, _ = ctx.span
    rated = [e.rating for e in enrolls if e.rating is not None]
    return {
        "enrollments": len(enrolls),
        "new_enrollments": sum(1 for e in enrolls if e.created.date() >= start),
        "completions": sum(1 for e in enrolls if e.completed),
        "completion_rate": round(100.0 * sum(1 for e in enrolls if e.completed) / len(enrolls), 1) if enrolls else 0.0,
        "average_rating": round(float(mean(rated)), 2) if rated else None,
        "rating_count": len(rated),
        "total_time_spent_seconds": sum(e.time_spent_secs for e in enrolls),
        "avg_time_spent_seconds": round(mean(e.time_spent_secs for e in enrolls)) if enrolls else 0,
    }


def content(ctx: Ctx) -> dict[str, Any]:
    kind = _kind(ctx.arg("metric"))
    enrolls = _content_enrollments(ctx, kind)
    by_item: dict[str, list[Enrollment]] = {}
    for e in enrolls:
        by_item.setdefault(e.content.content_id, []).append(e)
    rows = []
    for content_id, items in by_item.items():
        item = items[0].content
        rows.append(
            {"content_id": content_id, "name": item.name, "type": kind, "is_external": False, **_summary(items, ctx)}
        )
    rows.sort(key=lambda r: (-r["enrollments"], r["content_id"]))
    results, pagination = page_of(ctx, rows, out_of_range_404=True)
    learners = len({e.user.username for e in enrolls})
    summary = {
        "total_items": len(rows),
        **_summary(enrolls, ctx),
        "learners": learners,
        "avg_time_spent_per_learner_seconds": round(sum(e.time_spent_secs for e in enrolls) / learners)
        if learners
        else 0,
    }
    body = {"metric": ctx.arg("metric"), "summary": summary, "results": results, "pagination": pagination}
    if kind == "course" and ctx.flag("include_overtime", False):
        body["overtime"] = series(
            ctx, enrolls, lambda e: e.created, lambda es: sum(e.time_spent_secs for e in es), "day"
        )[-7:]
    return body


def content_details(ctx: Ctx) -> dict[str, Any]:
    item = dataset().content_by_id.get(ctx.request.params["content_id"])
    kind = _kind(ctx.arg("metric"))
    if item is None or item.kind != kind:
        raise HttpError(404, {"detail": "Content not found."})
    time_metric = ctx.arg("time_metric")
    if time_metric is not None and time_metric not in TIME_METRICS:
        raise HttpError(400, {"time_metric": [f"Must be one of {', '.join(TIME_METRICS)}."]})
    enrolls = [e for e in _content_enrollments(ctx, kind) if e.content is item]
    rows = [
        {
            "username": e.user.username,
            "name": e.user.full_name,
            "email": e.user.email,
            "enrolled_at": iso(e.created),
            "completion_percentage": e.completion_percentage,
            "completed": e.completed,
            "time_spent_seconds": e.time_spent_secs,
            "rating": e.rating,
        }
        for e in sorted(enrolls, key=lambda e: e.user.username)
        if like(ctx.arg("search"), e.user.username, e.user.full_name, e.user.email)
    ]
    results, pagination = page_of(ctx, rows, default_limit=10, out_of_range_404=True)
    body: dict[str, Any] = {
        "content_id": item.content_id,
        "name": item.name,
        "type": kind,
        "summary": _summary(enrolls, ctx),
        "results": results,
        "pagination": pagination,
    }
    if time_metric:
        value = {
            "enrollments": len,
            "completions": lambda es: sum(1 for e in es if e.completed),
            "ratings": lambda es: round(mean(r), 2) if (r := [e.rating for e in es if e.rating]) else 0.0,
            "time_spent": lambda es: sum(e.time_spent_secs for e in es),
        }[time_metric]
        body["time_series"] = series(ctx, enrolls, lambda e: e.created, value, "day")
    return body


def _user_block(user: User) -> dict[str, Any]:
    convs = [c for c in dataset().conversations if c.user is user]
    return {
        "user_id": user.user_id,
        "username": user.username,
        "email": user.email,
        "name": user.full_name,
        "date_joined": iso(user.date_joined),
        "last_active": iso(convs[-1].created_at) if convs else None,
    }


def learner_rows(user: User | None) -> list[dict[str, Any]]:
    """``learners/`` result rows of one learner: one per course, most time first."""
    if user is None:
        return []
    rows = [
        {
            "platform_key": None,
            "platform_name": PLATFORM_NAME,
            "course_id": e.content.content_id,
            "course_name": e.content.name,
            "time_spent_seconds": e.time_spent_secs,
            "completion_percentage": e.completion_percentage,
            "enrolled_at": iso(e.created),
        }
        for e in enrollments_for(user)
        if e.content.kind == "course"
    ]
    return sorted(rows, key=lambda r: (-r["time_spent_seconds"], r["course_id"]))


def learners(ctx: Ctx) -> dict[str, Any]:
    username = ctx.arg("username") or ctx.caller
    user = dataset().user_by_name.get(username)
    if user is None and username != ctx.caller:
        raise HttpError(404, {"detail": "Learner not found."})
    rows = [{**r, "platform_key": ctx.org} for r in learner_rows(user)]
    page, limit = ctx.int("page", 1), ctx.int("limit", 20)
    chunk = rows[(page - 1) * limit : page * limit]
    body: dict[str, Any] = {
        "user": _user_block(user) if user else {"username": username},
        "summary": {"total_time_spent_seconds": sum(r["time_spent_seconds"] for r in rows), "total_courses": len(rows)},
        "results": chunk,
        "pagination": {
            "total_items": len(rows),
            "current_page": page,
            "per_page": limit,
            "total_pages": max(1, math.ceil(len(rows) / limit)),
        },
        "generated_at": _GENERATED_AT,
    }
    if ctx.flag("overtime", False):
        convs = [c for c in conversations(ctx.scope) if user is not None and c.user is user]
        body["overtime"] = series(ctx, convs, lambda c: c.created_at, len, "day")
    return body


def _list_item(user: User, org: str) -> dict[str, Any]:
    enrolls = enrollments_for(user)
    convs = [c for c in dataset().conversations if c.user is user]
    kinds = [e.content.kind for e in enrolls]
    courses = sorted((e for e in enrolls if e.content.kind == "course"), key=lambda e: -e.time_spent_secs)
    completed = sum(1 for e in enrolls if e.completed)
    skills = kinds.count("skill")
    top = courses[0] if courses else None
    return {
        "user_id": user.user_id,
        "username": user.username,
        "email": user.email,
        "name": user.full_name,
        "is_active": True,
        "platform_id": PLATFORM_ID,
        "platform_name": PLATFORM_NAME,
        "platform_key": org,
        "metrics": {
            "enrollments": kinds.count("course"),
            "programs": kinds.count("program"),
            "pathways": kinds.count("pathway"),
            "resources": len(convs),
            "reported_skills": skills,
            "desired_skills": skills // 2,
            "assigned_skills": skills - skills // 2,
            "total_skills": skills + skills // 2 + skills - skills // 2,
            "credentials": completed // 2,
            "points": completed * 25 + sum(c.message_count for c in convs) * 0.5,
            "total_time_spent_seconds": sum(e.time_spent_secs for e in enrolls),
            "top_content": {
                "course_id": dataset().content.index(top.content) + 1,
                "course_identifier": top.content.content_id,
                "course_name": top.content.name,
                "time_spent_seconds": top.time_spent_secs,
            }
            if top
            else None,
        },
        "first_activity": iso(min([user.date_joined] + [c.created_at for c in convs])),
        "last_activity": iso(convs[-1].created_at if convs else user.date_joined),
    }


_SORT_KEYS = {
    "username": lambda i: i["username"],
    "name": lambda i: i["name"],
    "last_activity": lambda i: i["last_activity"],
    "total_points": lambda i: i["metrics"]["points"],
    "total_time_spent_seconds": lambda i: i["metrics"]["total_time_spent_seconds"],
    "total_enrollments": lambda i: i["metrics"]["enrollments"],
    "total_skills_count": lambda i: i["metrics"]["total_skills"],
}


def learner_list(ctx: Ctx) -> dict[str, Any]:
    items = [
        _list_item(u, ctx.org)
        for u in scoped_users(ctx.scope)
        if like(ctx.arg("search"), u.username, u.full_name, u.email)
    ]
    sort_by = ctx.arg("sort_by", "last_activity") or "last_activity"
    # Stable two-pass sort: username breaks ties in the same direction every time.
    items.sort(key=lambda i: i["username"])
    items.sort(key=_SORT_KEYS[sort_by], reverse=ctx.arg("sort_order", "desc") == "desc")
    page, pagination = page_of(ctx, items)
    return {
        "platform": {"platform_id": PLATFORM_ID, "platform_name": PLATFORM_NAME, "platform_key": ctx.org},
        "learners": page,
        "pagination": pagination,
        "generated_at": _GENERATED_AT,
    }


def learner_details(ctx: Ctx) -> dict[str, Any]:
    user = dataset().user_by_name.get(ctx.arg("username") or "")
    if user is None:
        raise HttpError(404, {"detail": "Learner not found."})
    if ctx.scope.mentor is not None and user not in scoped_users(ctx.scope):
        raise HttpError(403, FORBIDDEN)
    sections = [s.strip() for s in (ctx.arg("metrics") or "courses").split(",") if s.strip()]
    unknown = [s for s in sections if s not in LEARNER_SECTIONS]
    if unknown:
        raise HttpError(
            400, {"metrics": [f"Unknown metric(s): {', '.join(unknown)}. Allowed: {', '.join(LEARNER_SECTIONS)}."]}
        )
    enrolls = enrollments_for(user)
    scoped = {"course": ctx.arg("course_id"), "program": ctx.arg("program_id"), "pathway": ctx.arg("pathway_id")}

    def block(kind: str) -> list[dict[str, Any]]:
        out = []
        for e in enrolls:
            if e.content.kind != kind or (scoped.get(kind) and e.content.content_id != scoped[kind]):
                continue
            entry = {
                f"{kind}_id": e.content.content_id,
                "name": e.content.name,
                "platform": ctx.org,
                "enrollment": {"created": iso(e.created), "started": iso(e.created), "ended": None, "active": True},
                "completion": {
                    "completed": e.completed,
                    "completion_percentage": e.completion_percentage,
                    "passed": e.completed,
                    "passed_date": iso(e.created) if e.completed else None,
                },
            }
            if kind == "course" and scoped["course"] and ctx.flag("include_edx_progress", True):
                entry["edx_progress"] = {
                    "completion_summary": {"complete_count": int(e.completion_percentage)},
                    "grade": round(e.completion_percentage / 100, 2),
                    "grade_summary": {},
                }
            out.append(entry)
        return out

    convs = [c for c in dataset().conversations if c.user is user]
    data: dict[str, Any] = {}
    for section in sections:
        if section in ("courses", "programs", "pathways", "skills"):
            data[section] = block(section[:-1])
        elif section == "mentors":
            data["mentors"] = [
                {
                    "mentor_id": m.unique_id,
                    "name": m.name,
                    "slug": m.slug,
                    "platform_key": ctx.org,
                    "interactions": {
                        "total_messages": sum(c.message_count for c in mine),
                        "latest_interaction": iso(mine[-1].created_at),
                        "rating": round(mean(r), 1) if (r := [c.rating for c in mine if c.rating]) else None,
                    },
                }
                for m in dataset().mentors
                if (mine := [c for c in convs if c.mentor is m])
            ]
        elif section == "credentials":
            data["credentials"] = [
                {"name": f"{e.content.name} certificate", "issued": iso(e.created)}
                for e in enrolls
                if e.completed and e.content.kind == "course"
            ]
        else:
            courses = [e for e in enrolls if e.content.kind == "course"]
            total = sum(e.time_spent_secs for e in courses)
            data["time_spent"] = {
                "courses": [
                    {
                        "course_id": e.content.content_id,
                        "course_name": e.content.name,
                        "platform": ctx.org,
                        "time_spent_secs": e.time_spent_secs,
                    }
                    for e in courses
                ],
                "total_time_spent_secs": total,
                "total_time_spent": f"{total // 3600}h {total % 3600 // 60}m",
            }
    return {"user": _user_block(user), "data": data}
