"""Fake analytics bodies for overview, users and transcripts (API doc §4), from the seeded data.

Each view takes a validated :class:`~.analytics_scope.Ctx` and returns the JSON body.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from statistics import mean
from typing import Any

from iblai_provider.testing.analytics_data import ANCHOR, PLATFORM_ID, PLATFORM_NAME, Conversation, dataset
from iblai_provider.testing.analytics_queries import Scope, conversations, iso, money, scoped_users, user_table
from iblai_provider.testing.analytics_scope import Ctx, change, like, page_of, previous_scope, series
from iblai_provider.testing.server import HttpError


def _month_start(day: date, back: int = 0) -> date:
    month = day.month - back
    year = day.year + (month - 1) // 12
    return date(year, (month - 1) % 12 + 1, 1)


def _triple(ctx: Ctx, count: Any) -> dict[str, Any]:
    """``{all_time_total, this_month, last_month, percentage_change}`` of a conversation measure."""
    everything = conversations(ctx.scope, windowed=False)
    this_start, last_start = _month_start(ANCHOR), _month_start(ANCHOR, 1)
    this = count([c for c in everything if c.day >= this_start])
    last = count([c for c in everything if last_start <= c.day < this_start])
    return {
        "all_time_total": count(everything),
        "this_month": this,
        "last_month": last,
        "percentage_change": change(this, last) or 0.0,
    }


def _avg_rating(convs: list[Conversation]) -> float:
    rated = [c.rating for c in convs if c.rating is not None]
    return round(mean(rated), 2) if rated else 0.0


def topics(ctx: Ctx) -> dict[str, Any]:
    metric = ctx.arg("metric", "overview")
    convs = conversations(ctx.scope)
    if metric == "overview":
        return {
            "topics": _triple(ctx, lambda cs: len({t for c in cs for t in c.topics})),
            "sessions": _triple(ctx, len),
            "conversations": _triple(ctx, len),
            "messages": _triple(ctx, lambda cs: sum(c.message_count for c in cs)),
        }
    if metric == "highlighted":
        counts = Counter(t for c in convs for t in c.topics)
        return {"metric": metric, "topics": [{"name": n, "conversations": k} for n, k in counts.most_common(5)]}
    value = len if metric == "sessions" else _avg_rating
    return {"metric": metric, "points": series(ctx, convs, lambda c: c.created_at, value)}


def topic_details(ctx: Ctx) -> dict[str, Any]:
    by_topic: dict[str, list[Conversation]] = {}
    for conv in conversations(ctx.scope):
        for name in conv.topics:
            by_topic.setdefault(name, []).append(conv)
    names = sorted(n for n in by_topic if like(ctx.arg("search"), n))
    rows = []
    for i, name in enumerate(names):
        convs = by_topic[name]
        rated = [c for c in convs if c.rating is not None]
        rows.append(
            {
                "topic_id": i + 1,
                "name": name,
                "messages": sum(c.message_count for c in convs),
                "conversations": len(convs),
                "sessions": len(convs),
                "average_rating": f"{_avg_rating(convs):.2f}",
                "rating_count": len(rated),
            }
        )
    rows.sort(key=lambda r: (-r["conversations"], r["name"]))
    results, pagination = page_of(ctx, rows)
    return {"results": results, "pagination": pagination}


def _headline(ctx: Ctx, noun: str) -> dict[str, Any]:
    now, before = conversations(ctx.scope), conversations(previous_scope(ctx))

    def triple(fn: Any) -> dict[str, Any]:
        value, prev = fn(now), fn(before)
        return {"value": value, "prev_value": prev, "percentage_change": change(float(value), float(prev))}

    def avg_messages(cs: list[Conversation]) -> float:
        return round(mean(c.message_count for c in cs), 2) if cs else 0.0

    def avg_cost(cs: list[Conversation]) -> str:
        return money(sum((c.cost for c in cs), Decimal(0)) / len(cs)) if cs else money(Decimal(0))

    body = {f"avg_messages_per_{noun}": triple(avg_messages), "avg_rating": triple(_avg_rating)}
    cost_now, cost_before = avg_cost(now), avg_cost(before)
    body[f"avg_cost_per_{noun}"] = {
        "value": cost_now,
        "prev_value": cost_before,
        "percentage_change": change(float(cost_now), float(cost_before)),
    }
    return {"metric": "headline", **body}


def sessions(ctx: Ctx, noun: str = "sessions") -> dict[str, Any]:
    if ctx.arg("metric") == "headline":
        return _headline(ctx, noun[:-1])
    return {"metric": noun, "points": series(ctx, conversations(ctx.scope), lambda c: c.created_at, len)}


def ratings(ctx: Ctx) -> dict[str, Any]:
    return {"metric": "ratings", "points": series(ctx, conversations(ctx.scope), lambda c: c.created_at, _avg_rating)}


def _active(scope: Scope) -> int:
    return len({c.user.username for c in conversations(scope)})


def users(ctx: Ctx) -> dict[str, Any]:
    metric = ctx.arg("metric")
    scope = ctx.scope
    if metric == "currently_active":
        # "Right now" on the fake's clock: the last three hours of its today.
        last = datetime(ANCHOR.year, ANCHOR.month, ANCHOR.day, 21, tzinfo=timezone.utc)
        now = {
            c.user.username
            for c in conversations(Scope(scope.mentor, scope.groups, ANCHOR, ANCHOR))
            if c.created_at >= last
        }
        day_before = ANCHOR - timedelta(days=1)
        before = {
            c.user.username
            for c in conversations(Scope(scope.mentor, scope.groups, day_before, day_before))
            if c.created_at.hour >= 21
        }
        return {"metric": metric, "count": len(now), "change": len(now) - len(before)}
    if metric == "registered_users":
        people = scoped_users(scope)
        start, end = ctx.span
        joined = [u for u in people if u.date_joined.date() <= end]
        new = [u for u in joined if u.date_joined.date() >= start]
        return {
            "metric": metric,
            "count": len(joined),
            "new_users": len(new),
            "points": series(ctx, new, lambda u: u.date_joined, len),
        }
    if metric == "active_users_last_30d":
        scope = Scope(scope.mentor, scope.groups, ANCHOR - timedelta(days=29), ANCHOR)
        prev = Scope(scope.mentor, scope.groups, ANCHOR - timedelta(days=59), ANCHOR - timedelta(days=30))
        count, before = _active(scope), _active(prev)
        return {"metric": metric, "count": count, "change": count - before, "percentage_change": change(count, before)}
    count, before = _active(scope), _active(previous_scope(ctx))
    points = series(ctx, conversations(scope), lambda c: c.created_at, lambda cs: len({c.user.username for c in cs}))
    return {
        "metric": metric,
        "count": count,
        "change": count - before,
        "percentage_change": change(count, before),
        "prev_count": before,
        "points": points,
    }


def user_details(ctx: Ctx) -> dict[str, Any]:
    rows = [r for r in user_table(ctx.scope) if like(ctx.arg("search"), str(r["email"]), str(r["full_name"]))]
    results, p = page_of(ctx, rows)
    start = (p["page"] - 1) * p["limit"]
    pagination = {k: p[k] for k in ("page", "limit", "total_pages", "has_next", "has_previous")}
    pagination.update(start_index=start + 1 if results else 0, end_index=start + len(results))
    return {"results": results, "total": len(rows), "pagination": pagination}


def access_times(ctx: Ctx) -> dict[str, Any]:
    cells = Counter()
    for conv in conversations(ctx.scope):
        # Python's Monday=0 becomes the API's Sunday=0.
        cells[((conv.created_at.weekday() + 1) % 7, conv.created_at.hour)] += conv.message_count
    data = [{"day_of_week": d, "hour": h, "value": cells[(d, h)]} for d in range(7) for h in range(24)]
    return {"metric": "access_times", "data": data}


def time_spent_user(ctx: Ctx) -> dict[str, Any]:
    username = ctx.arg("username") or ctx.caller
    user = dataset().user_by_name.get(username)
    start, end = ctx.date("start_date"), ctx.date("end_date")
    total = 0
    if user is not None:
        for e in dataset().enrollments:
            if (
                e.user is user
                and (start is None or e.created.date() >= start)
                and (end is None or e.created.date() <= end)
            ):
                if like(ctx.arg("course_id"), e.content.content_id):
                    total += e.time_spent_secs
    return {
        "username": username,
        "platform_key": ctx.arg("platform_key") or ctx.org,
        "total_time_spent_seconds": total,
        "total_time_spent": f"{total // 3600}h {total % 3600 // 60}m",
    }


def conversation_item(conv: Conversation, org: str) -> dict[str, Any]:
    """A ``ConversationListItem`` (API doc §4)."""
    pairs = conv.message_count // 2
    return {
        "platform_name": PLATFORM_NAME,
        "platform_key": org,
        "mentor": conv.mentor.name,
        "mentor_unique_id": conv.mentor.unique_id,
        "model": conv.mentor.llm_model,
        "cost": money(conv.cost),
        "username": conv.user.username,
        "name": conv.user.full_name,
        "first_user_message": conv.first_user_message,
        "topics": list(conv.topics),
        "message_count": conv.message_count,
        "user_queries": pairs,
        "assistant_responses": pairs,
        "average_sentiment": conv.sentiment_score,
        "sentiment": conv.sentiment,
        "created_at": iso(conv.created_at),
        "platform": PLATFORM_ID,
        "session": conv.session,
        "user": conv.user.user_id,
    }


def transcript_list(ctx: Ctx) -> list[Conversation]:
    """The ``messages/`` rows for a request, newest first."""
    search, topic, sentiment = ctx.arg("search"), ctx.arg("topic"), ctx.arg("sentiment")
    low, high = ctx.int("min_messages", 0), ctx.int("max_messages", 10**9)
    rows = [
        c
        for c in conversations(ctx.scope)
        if like(search, c.user.full_name, c.first_user_message)
        and like(topic, *c.topics)
        and (sentiment is None or c.sentiment == sentiment)
        and low <= c.message_count <= high
    ]
    return sorted(rows, key=lambda c: (c.created_at, c.session), reverse=True)


def messages(ctx: Ctx) -> dict[str, Any]:
    rows = transcript_list(ctx)
    results, pagination = page_of(ctx, rows)
    summary = {
        "total_conversations": len(rows),
        "user_queries": sum(c.message_count // 2 for c in rows),
        "assistant_responses": sum(c.message_count // 2 for c in rows),
        "average_sentiment_score": round(mean(c.sentiment_score for c in rows), 3) if rows else 0.0,
    }
    return {"summary": summary, "results": [conversation_item(c, ctx.org) for c in results], "pagination": pagination}


def transcript_messages(conv: Conversation) -> list[dict[str, str]]:
    """The ``{human, ai}`` pairs of a conversation, oldest first."""
    topic = conv.topics[0].lower()
    pairs = [{"human": conv.first_user_message, "ai": f"Sure. Let's start with the key idea of {topic}."}]
    for n in range(1, conv.message_count // 2):
        pairs.append(
            {
                "human": f"Follow-up {n} about {topic}: could you give an example?",
                "ai": f"Example {n}: here is a worked {topic} problem, step by step.",
            }
        )
    return pairs


def message_details(ctx: Ctx) -> dict[str, Any]:
    conv = dataset().conversation_by_session.get(ctx.arg("session_id") or "")
    if (
        conv is None
        or (ctx.scope.mentor and conv.mentor.unique_id != ctx.scope.mentor)
        or not ctx.scope.has_user(conv.user)
    ):
        raise HttpError(404, {"detail": "Conversation not found."})
    return {"summary": conversation_item(conv, ctx.org), "messages": transcript_messages(conv)}
