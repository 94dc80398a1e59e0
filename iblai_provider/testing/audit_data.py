"""Seeded mentor audit-log entries (API doc §5) for the fake server, newest first.

:data:`N_ENTRIES` entries over the seeded mentors of :mod:`.analytics_data`, by :data:`ACTORS`,
between 2026-03-02 and 2026-06-29. Tests filter :func:`entries` themselves to know exactly what
the server must answer. Standard library only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cache
from typing import Any

from iblai_provider.testing.analytics_data import dataset
from iblai_provider.testing.analytics_queries import iso

N_ENTRIES = 137
ACTIONS = ("create", "update", "delete")  # the filter's integers 0, 1, 2 index this tuple
ACTORS = (
    ("jane.doe", "jane@example.com"),
    ("li.wei", "li.wei@example.com"),
    ("admin", "admin@example.com"),
    ("ops-bot", "ops-bot@example.com"),
)
_START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
_SETTINGS_CHANGES = (
    ("llm_name", "gpt-4o-mini", "gpt-4o"),
    ("enable_multi_query_rag", "False", "True"),
    ("temperature", "0.7", "0.3"),
    ("enable_guardrails", "True", "False"),
    ("max_tokens", "1024", "2048"),
)
_MENTOR_CHANGES = (
    ("name", "Tutor", "Math Tutor"),
    ("description", "", "Helps with homework"),
    ("is_public", "False", "True"),
    ("categories", "[]", "['Mathematics']"),
)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    timestamp: datetime
    action: str
    actor_username: str
    actor_email: str
    resource_type: str
    resource_id: str
    resource_repr: str
    mentor: str  # the mentor's unique_id, what the ``mentor`` filter matches
    changes: dict[str, list[Any]]

    @property
    def day(self) -> date:
        return self.timestamp.date()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "timestamp": iso(self.timestamp),
            "action": self.action,
            "actor_username": self.actor_username,
            "actor_email": self.actor_email,
            "resource_type": self.resource_type,
            "resource_id": self.resource_id,
            "resource_repr": self.resource_repr,
            "changes": self.changes,
        }


@cache
def entries() -> tuple[AuditEntry, ...]:
    """All entries, newest first (the API's ordering)."""
    rng = random.Random(5)
    mentors = dataset().mentors
    step = (datetime(2026, 6, 29, 18, 0, tzinfo=timezone.utc) - _START) / N_ENTRIES
    made: list[AuditEntry] = []
    for i in range(N_ENTRIES):
        mentor = mentors[i % len(mentors)]
        moment = (_START + step * i + timedelta(minutes=rng.randrange(0, 600))).replace(microsecond=0)
        # Each mentor is created first; later entries are mostly updates, some deletes of settings.
        action = "create" if i < len(mentors) else rng.choices(ACTIONS, (0, 9, 1))[0]
        username, email = rng.choice(ACTORS)
        settings = action != "create" and rng.random() < 0.6
        if settings:
            rtype, rid, label = (
                "mentorsettings",
                str(mentor.id + 1000),
                f"Settings for {mentor.name} ({mentor.unique_id})",
            )
            pool = _SETTINGS_CHANGES
        else:
            rtype, rid, label = "mentor", str(mentor.id), f"{mentor.name} ({mentor.unique_id})"
            pool = _MENTOR_CHANGES
        picked = rng.sample(pool, rng.randint(1, 3))
        if action == "create":
            changes = {name: [None, new] for name, _old, new in picked}
        elif action == "delete":
            changes = {name: [old, None] for name, old, _new in picked}
        else:
            changes = {name: [old, new] for name, old, new in picked}
        made.append(AuditEntry(i + 1, moment, action, username, email, rtype, rid, label, mentor.unique_id, changes))
    made.sort(key=lambda e: (e.timestamp, e.id), reverse=True)
    return tuple(made)


def matching(
    *,
    mentor: str | None = None,
    action: str | None = None,
    actor_email: str | None = None,
    actor_username: str | None = None,
    from_date: date | None = None,
    to_date: date | None = None,
) -> list[AuditEntry]:
    """Entries passing the filters (dates inclusive), newest first: what a correct client gets."""
    return [
        e
        for e in entries()
        if (mentor is None or e.mentor == mentor)
        and (action is None or e.action == action)
        and (actor_email is None or e.actor_email.lower() == actor_email.lower())
        and (actor_username is None or e.actor_username == actor_username)
        and (from_date is None or e.day >= from_date)
        and (to_date is None or e.day <= to_date)
    ]
