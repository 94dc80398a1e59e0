"""Queries over the seeded analytics data, shared by the fake routes and by tests computing expected answers.

:class:`Scope` is what an analytics request covers (agent or platform, user groups, a window);
:func:`window` maps ``date_filter`` onto the fake's clock (:data:`~.analytics_data.ANCHOR`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from iblai_provider.testing.analytics_data import ANCHOR, CENT, Conversation, CostRecord, Enrollment, User, dataset


@dataclass(frozen=True)
class Scope:
    """Who and when a request covers: agent (``mentor``) or platform, user groups, a date window."""

    mentor: str | None = None
    groups: tuple[int, ...] = ()
    start: date | None = None
    end: date | None = None

    def has_user(self, user: User) -> bool:
        return not self.groups or bool(set(self.groups) & set(user.groups))

    def in_window(self, day: date) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)


def window(
    date_filter: str | None, start: date | None = None, end: date | None = None
) -> tuple[date | None, date | None]:
    """The dates a ``date_filter`` covers on the fake's clock (inclusive); ``custom`` uses the dates."""
    if date_filter in (None, "custom"):
        if date_filter is None and start is None and end is None:
            return ANCHOR, ANCHOR  # the API's default filter is "today"
        return start, end
    if date_filter == "all_time":
        return None, None
    days = {"today": 1, "7d": 7, "30d": 30, "90d": 90}[date_filter]
    return ANCHOR - timedelta(days=days - 1), ANCHOR


def conversations(scope: Scope, *, windowed: bool = True) -> list[Conversation]:
    """Conversations in scope (oldest first)."""
    return [
        c
        for c in dataset().conversations
        if (scope.mentor is None or c.mentor.unique_id == scope.mentor)
        and scope.has_user(c.user)
        and (not windowed or scope.in_window(c.day))
    ]


def cost_records(scope: Scope) -> list[CostRecord]:
    return [
        r
        for r in dataset().costs
        if (scope.mentor is None or r.conversation.mentor.unique_id == scope.mentor)
        and scope.has_user(r.conversation.user)
        and scope.in_window(r.day)
    ]


def scoped_users(scope: Scope) -> list[User]:
    """Users in the groups; in agent scope only those who ever talked to the agent."""
    if scope.mentor is None:
        return [u for u in dataset().users if scope.has_user(u)]
    talked = {c.user.username for c in conversations(scope, windowed=False)}
    return [u for u in dataset().users if u.username in talked]


def user_table(scope: Scope) -> list[dict[str, object]]:
    """``users/details/`` rows: users with activity in the window, most messages first."""
    stats: dict[str, dict[str, object]] = {}
    for conv in conversations(scope):
        row = stats.setdefault(
            conv.user.username, {"user": conv.user, "messages": 0, "conversations": 0, "last": conv.created_at}
        )
        row["messages"] = int(row["messages"]) + conv.message_count  # type: ignore[call-overload]
        row["conversations"] = int(row["conversations"]) + 1  # type: ignore[call-overload]
        row["last"] = conv.created_at
    rows = [
        {
            "email": s["user"].email,
            "full_name": s["user"].full_name,
            "messages": s["messages"],  # type: ignore[attr-defined]
            "conversations": s["conversations"],
            "last_activity": iso(s["last"]),
        }  # type: ignore[arg-type]
        for s in stats.values()
    ]
    rows.sort(key=lambda r: (-int(r["messages"]), str(r["email"])))  # type: ignore[call-overload]
    return rows


def enrollments_for(user: User) -> list[Enrollment]:
    return [e for e in dataset().enrollments if e.user.username == user.username]


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(value: Decimal) -> str:
    """Costs travel as decimal strings with five places, like the API's ``"2.50000"``."""
    return str(value.quantize(CENT))
