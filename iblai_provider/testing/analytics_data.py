"""Seeded analytics data behind the fake server's ``/api/analytics/*`` routes.

Everything is a pure function of the seed below, so a test can import this module and compute
the exact counts the fake server will answer (users, conversations, cost rows, learners...).
Dates are fixed: the fake's analytics clock says "today" is :data:`ANCHOR`, and the data spans
:data:`FIRST_DAY` .. :data:`ANCHOR` with a traffic spike on :data:`SPIKE_DAY` (so one day's
transcripts span several pages). Standard library only.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache

SEED = 20260630
ANCHOR = date(2026, 6, 30)  # "today" for date_filter windows
FIRST_DAY = date(2026, 4, 1)
SPIKE_DAY = date(2026, 6, 15)
SPIKE_CONVERSATIONS = 47
N_USERS = 128
PLATFORM_ID = 1
PLATFORM_NAME = "Acme Academy"
GROUPS = {1: "Cohort A", 2: "Cohort B", 3: "Staff", 4: "Alumni"}
CENT = Decimal("0.00001")
_LAST_MOMENT = datetime(ANCHOR.year, ANCHOR.month, ANCHOR.day, 23, 59, 59, tzinfo=timezone.utc)

_FIRST = (
    "ada",
    "ben",
    "chloe",
    "dev",
    "elena",
    "farid",
    "grace",
    "hiro",
    "ines",
    "jonas",
    "kofi",
    "lena",
    "mateo",
    "nadia",
    "omar",
    "priya",
    "quinn",
    "rosa",
    "sami",
    "tara",
)
_LAST = ("adams", "baker", "chen", "diaz", "evans", "fischer", "garcia", "haddad", "ito", "jones", "khan", "lopez")
_TOPICS = {
    "Tutor": ("Algebra", "Geometry", "Calculus", "Statistics", "Fractions", "Word problems"),
    "Code Helper": ("Python basics", "Debugging", "SQL", "Git", "APIs", "Testing"),
    "Writing Coach": ("Essay structure", "Grammar", "Citations", "Thesis statements", "Editing", "Tone"),
    "Research Assistant": ("Literature review", "Data sources", "Methods", "Ethics", "Summaries", "Citations"),
}


@dataclass(frozen=True)
class Mentor:
    id: int
    unique_id: str
    name: str
    slug: str
    provider: str
    llm_model: str
    rate: Decimal  # cost per message


@dataclass(frozen=True)
class User:
    user_id: int
    username: str
    email: str
    full_name: str
    groups: tuple[int, ...]
    date_joined: datetime


@dataclass(frozen=True)
class Conversation:
    index: int
    session: str
    mentor: Mentor
    user: User
    created_at: datetime
    message_count: int
    topics: tuple[str, ...]
    sentiment: str
    sentiment_score: float
    rating: int | None
    cost: Decimal

    @property
    def day(self) -> date:
        return self.created_at.date()

    @property
    def first_user_message(self) -> str:
        return f"Can you help me with {self.topics[0].lower()}? (question {self.index})"


@dataclass(frozen=True)
class CostRecord:
    day: date
    conversation: Conversation
    provider: str
    llm_model: str
    action: str
    cost: Decimal
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Content:
    content_id: str
    name: str
    kind: str  # course | program | pathway | skill


@dataclass(frozen=True)
class Enrollment:
    user: User
    content: Content
    created: datetime
    completion_percentage: float
    time_spent_secs: int
    rating: int | None

    @property
    def completed(self) -> bool:
        return self.completion_percentage >= 100.0


@dataclass
class Dataset:
    mentors: list[Mentor]
    users: list[User]
    conversations: list[Conversation]
    costs: list[CostRecord]
    content: list[Content]
    enrollments: list[Enrollment]
    mentor_by_id: dict[str, Mentor] = field(default_factory=dict)
    user_by_name: dict[str, User] = field(default_factory=dict)
    conversation_by_session: dict[str, Conversation] = field(default_factory=dict)
    content_by_id: dict[str, Content] = field(default_factory=dict)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _mentors(rng: random.Random) -> list[Mentor]:
    spec = (
        ("Tutor", "openai", "gpt-4o-mini", "0.00041"),
        ("Code Helper", "anthropic", "claude-3-5-sonnet", "0.00230"),
        ("Writing Coach", "google", "gemini-1.5-pro", "0.00125"),
        ("Research Assistant", "azure", "gpt-4o", "0.00310"),
    )
    return [
        Mentor(i + 1, _uuid(rng), name, name.lower().replace(" ", "-"), provider, model, Decimal(rate))
        for i, (name, provider, model, rate) in enumerate(spec)
    ]


def _users(rng: random.Random) -> list[User]:
    pairs = rng.sample([(f, last) for f in _FIRST for last in _LAST], N_USERS)
    users = []
    for i, (first, last) in enumerate(pairs):
        groups = tuple(sorted(rng.sample(sorted(GROUPS), rng.choice((1, 1, 2)))))
        joined = datetime(2026, 1, 5, tzinfo=timezone.utc) + timedelta(
            days=rng.randrange(0, 80), hours=rng.randrange(24)
        )
        users.append(
            User(
                100 + i,
                f"{first}.{last}",
                f"{first}.{last}@example.com",
                f"{first.title()} {last.title()}",
                groups,
                joined,
            )
        )
    return users


def _day_counts(rng: random.Random) -> list[tuple[date, int]]:
    days, day = [], FIRST_DAY
    while day <= ANCHOR:
        weekend = day.weekday() >= 5
        days.append(
            (day, SPIKE_CONVERSATIONS if day == SPIKE_DAY else rng.randint(0, 2) if weekend else rng.randint(1, 6))
        )
        day += timedelta(days=1)
    return days


def _conversations(rng: random.Random, mentors: list[Mentor], users: list[User]) -> list[Conversation]:
    conversations: list[Conversation] = []
    weights = (5, 3, 2, 1)
    for day, count in _day_counts(rng):
        for _ in range(count):
            index = len(conversations)
            # The first N_USERS conversations go to every user once: each user is active all_time.
            user = users[index] if index < len(users) else rng.choice(users)
            mentor = rng.choices(mentors, weights)[0]
            messages = 2 * rng.randint(1, 12)
            score = round(rng.uniform(-1, 1), 3)
            sentiment = "positive" if score > 0.25 else "negative" if score < -0.25 else "neutral"
            created = datetime(
                day.year,
                day.month,
                day.day,
                rng.randrange(24),
                rng.randrange(60),
                rng.randrange(60),
                tzinfo=timezone.utc,
            )
            topics = tuple(rng.sample(_TOPICS[mentor.name], rng.choice((1, 1, 2))))
            cost = (mentor.rate * messages * Decimal(rng.randint(80, 120)) / 100).quantize(CENT)
            rating = rng.randint(1, 5) if rng.random() < 0.6 else None
            conversations.append(
                Conversation(index, _uuid(rng), mentor, user, created, messages, topics, sentiment, score, rating, cost)
            )
    conversations.sort(key=lambda c: c.created_at)
    return conversations


def _costs(rng: random.Random, conversations: list[Conversation]) -> list[CostRecord]:
    records = []
    for conv in conversations:
        tokens_in = conv.message_count * rng.randint(150, 400)
        tokens_out = conv.message_count * rng.randint(100, 300)
        m = conv.mentor
        records.append(CostRecord(conv.day, conv, m.provider, m.llm_model, "chat", conv.cost, tokens_in, tokens_out))
        if conv.index % 3 == 0:  # retrieval embeddings on a third of the conversations
            cost = (Decimal(tokens_in) * Decimal("0.00000002")).quantize(CENT)
            records.append(
                CostRecord(conv.day, conv, "openai", "text-embedding-3-small", "embedding", cost, tokens_in, 0)
            )
        if conv.index % 7 == 0:  # read-aloud on some
            records.append(CostRecord(conv.day, conv, "openai", "tts-1", "tts", Decimal("0.01500"), 0, 0))
    return records


def _content() -> list[Content]:
    items = []
    courses = (
        "Algebra I",
        "Algebra II",
        "Geometry",
        "Calculus",
        "Statistics",
        "Python",
        "Data Science",
        "Web APIs",
        "SQL Essentials",
        "Academic Writing",
        "Research Methods",
        "Ethics in AI",
        "Public Speaking",
        "Biology",
        "Chemistry",
    )
    for n in range(45):
        title = f"{courses[n % len(courses)]}{'' if n < len(courses) else f' ({n // len(courses) + 1})'}"
        items.append(Content(f"course-v1:acme+C{101 + n}+2026", title, "course"))
    for n in range(12):
        items.append(Content(f"program-v1:acme+P{n + 1:02d}", f"Program {n + 1}", "program"))
    for n in range(8):
        items.append(Content(f"pathway-v1:acme+W{n + 1:02d}", f"Pathway {n + 1}", "pathway"))
    skills = (
        "problem solving",
        "python",
        "sql",
        "writing",
        "statistics",
        "research",
        "presentation",
        "teamwork",
        "critical thinking",
        "data visualisation",
    )
    for n in range(30):
        items.append(Content(f"skill-{n + 1}", f"{skills[n % 10]} {n // 10 + 1}", "skill"))
    return items


def _enrollments(rng: random.Random, users: list[User], content: list[Content]) -> list[Enrollment]:
    by_kind: dict[str, list[Content]] = {}
    for item in content:
        by_kind.setdefault(item.kind, []).append(item)
    picks = {"course": (2, 8), "program": (0, 2), "pathway": (0, 1), "skill": (1, 5)}
    enrollments = []
    for user in users:
        for kind, (low, high) in picks.items():
            for item in rng.sample(by_kind[kind], rng.randint(low, high)):
                created = min(user.date_joined + timedelta(days=rng.randrange(0, 150)), _LAST_MOMENT)
                progress = rng.choice((100.0, 100.0, round(rng.uniform(0, 99), 1)))
                rating = rng.randint(3, 5) if rng.random() < 0.5 else None
                enrollments.append(Enrollment(user, item, created, progress, rng.randint(600, 40_000), rating))
    return enrollments


@cache
def dataset() -> Dataset:
    """The whole seeded dataset (built once per process)."""
    rng = random.Random(SEED)
    mentors = _mentors(rng)
    users = _users(rng)
    conversations = _conversations(rng, mentors, users)
    costs = _costs(rng, conversations)
    content = _content()
    enrollments = _enrollments(rng, users, content)
    data = Dataset(mentors, users, conversations, costs, content, enrollments)
    data.mentor_by_id = {m.unique_id: m for m in mentors}
    data.user_by_name = {u.username: u for u in users}
    data.conversation_by_session = {c.session: c for c in conversations}
    data.content_by_id = {c.content_id: c for c in content}
    return data
