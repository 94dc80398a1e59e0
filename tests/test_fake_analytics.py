"""The fake server's analytics and audit-log routes: envelopes, scopes, filters, errors (real HTTP).

Expected values come from the seed modules (``analytics_data``, ``audit_data``) through their
plain entity lists, so a route that filters or pages wrongly fails here.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from iblai_provider.endpoints import ANALYTICS_READS
from iblai_provider.testing import audit_data
from iblai_provider.testing.analytics_data import ANCHOR, GROUPS, N_USERS, SPIKE_CONVERSATIONS, SPIKE_DAY, dataset
from iblai_provider.testing.server import FakeIblaiServer

A = "/api/analytics/"


@pytest.fixture(scope="module")
def server():
    with FakeIblaiServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def get(server):
    session = requests.Session()
    session.headers["Authorization"] = f"Api-Token {server.api_key}"

    def call(path: str, **params):
        return session.get(server.base_url + path, params=params)

    return call


def _mentor(n: int = 1):
    return dataset().mentors[n]


def test_seed_is_big_enough_for_several_pages():
    data = dataset()
    assert len(data.users) == N_USERS >= 120
    assert len(data.conversations) >= 250
    assert len(audit_data.entries()) == audit_data.N_ENTRIES == 137
    assert len({u for c in data.conversations for u in [c.user.username]}) == N_USERS  # everyone active all_time


def test_platform_and_agent_scope_differ(get):
    mentor = _mentor()
    everyone = get(A + "messages/", limit=1).json()["summary"]["total_conversations"]
    agent = get(A + "messages/", limit=1, mentor_unique_id=mentor.unique_id).json()["summary"]["total_conversations"]
    assert everyone == len(dataset().conversations)
    assert agent == sum(1 for c in dataset().conversations if c.mentor is mentor)
    assert 0 < agent < everyone
    costs = get(A + "financial/", metric="total_costs", date_filter="all_time").json()["value"]
    agent_costs = get(
        A + "financial/", metric="total_costs", date_filter="all_time", mentor_unique_id=mentor.unique_id
    ).json()
    assert Decimal(agent_costs["value"]) < Decimal(costs)


def test_usergroup_ids_travel_as_a_repeated_key(get, server):
    response = get(A + "users/details/", date_filter="all_time", usergroup_ids=[1, 3], limit=100)
    assert server.requests[-1].query["usergroup_ids"] == ["1", "3"]
    expected = sum(1 for u in dataset().users if {1, 3} & set(u.groups))
    assert response.json()["total"] == expected < N_USERS
    assert set(GROUPS) == {1, 2, 3, 4}


def test_conversations_answers_with_and_without_trailing_slash(get):
    with_slash = get(A + "conversations/", date_filter="7d", granularity="day")
    without = get(A + "conversations", date_filter="7d", granularity="day")
    assert with_slash.status_code == without.status_code == 200
    assert with_slash.json() == without.json()
    assert len(with_slash.json()["points"]) == 7
    assert get(A + "conversations", colour="red").status_code == 400


@pytest.mark.parametrize("key", sorted(k for k, e in ANALYTICS_READS.items() if "platform_key" in e.by_name))
def test_another_orgs_platform_key_is_forbidden(get, key):
    path = A + key.replace("{content_id}", "x")
    endpoint = ANALYTICS_READS[key]
    required = {n: (endpoint.by_name[n].enum or ("x",))[0] for n in endpoint.required if n != "platform_key"}
    response = get(path, platform_key="someone-else", **required)
    assert response.status_code == 403


def test_scope_errors(get):
    assert get(A + "topics/", mentor_unique_id="00000000-0000-4000-8000-000000000000").status_code == 404
    custom = get(A + "sessions/", date_filter="custom", start_date="2026-06-01")
    assert custom.status_code == 400 and "end_date" in custom.json()
    backwards = get(A + "sessions/", date_filter="custom", start_date="2026-06-10", end_date="2026-06-01")
    assert backwards.status_code == 400


def test_users_details_envelope(get):
    body = get(A + "users/details/", date_filter="all_time", page=3, limit=50).json()
    assert body["total"] == N_USERS
    assert body["pagination"] == {
        "page": 3,
        "limit": 50,
        "total_pages": 3,
        "has_next": False,
        "has_previous": True,
        "start_index": 101,
        "end_index": N_USERS,
    }
    assert set(body["results"][0]) == {"email", "full_name", "messages", "conversations", "last_activity"}


def test_messages_envelope_is_p8_and_newest_first(get):
    body = get(A + "messages/", start_date=str(SPIKE_DAY), end_date=str(SPIKE_DAY), limit=20, page=2).json()
    assert body["pagination"] == {
        "page": 2,
        "limit": 20,
        "total_pages": 3,
        "total_records": SPIKE_CONVERSATIONS,
        "has_next": True,
        "has_previous": True,
        "next_page": 3,
        "previous_page": 1,
    }
    stamps = [r["created_at"] for r in body["results"]]
    assert stamps == sorted(stamps, reverse=True) and all(s.startswith(str(SPIKE_DAY)) for s in stamps)
    assert isinstance(body["results"][0]["cost"], str)


def test_transcript_details(get):
    conv = dataset().conversations[10]
    body = get(A + "messages/details/", session_id=conv.session).json()
    assert body["summary"]["session"] == conv.session
    assert len(body["messages"]) == conv.message_count // 2
    assert get(A + "messages/details/", session_id="nope").status_code == 404
    other = next(m for m in dataset().mentors if m is not conv.mentor)
    assert get(A + "messages/details/", session_id=conv.session, mentor_unique_id=other.unique_id).status_code == 404


def test_financial_details_rows_are_exact_decimal_strings(get):
    pages = [
        get(A + "financial/details/", group_by="username", date_filter="all_time", limit=25, page=p).json()
        for p in (1, 2, 3, 4, 5, 6)
    ]
    assert pages[0]["total_pages"] == math.ceil(N_USERS / 25) == 6 and pages[0]["total_records"] == N_USERS
    rows = [r for p in pages for r in p["rows"]]
    assert len({r["username"] for r in rows}) == N_USERS
    assert all(isinstance(r["total_cost"], str) and len(r["total_cost"].split(".")[1]) == 5 for r in rows)
    expected = sum((r.cost for r in dataset().costs), Decimal(0))
    assert sum(Decimal(r["total_cost"]) for r in rows) == Decimal(pages[0]["total_cost"]) == expected
    many = get(A + "financial/details/", group_by="action", metrics="total_cost,sessions,bogus")
    assert many.status_code == 400 and "metrics" in many.json()


def test_learners_envelopes(get, server):
    user = max(
        dataset().users,
        key=lambda u: sum(1 for e in dataset().enrollments if e.user is u and e.content.kind == "course"),
    )
    courses = sum(1 for e in dataset().enrollments if e.user is user and e.content.kind == "course")
    body = get(A + "learners/", username=user.username, limit=2, page=2).json()
    assert body["pagination"] == {
        "total_items": courses,
        "current_page": 2,
        "per_page": 2,
        "total_pages": math.ceil(courses / 2),
    }
    listing = get(A + "learners/list/", platform_key=server.org, limit=100).json()
    assert len(listing["learners"]) == 100 and listing["pagination"]["total_records"] == N_USERS
    assert get(A + "learners/list/").status_code == 400  # platform_key is required there
    assert get(A + "learner/details", username="nobody").status_code == 404


def test_content_pages_past_the_end_answer_404(get):
    first = get(A + "content/", metric="programs", date_filter="all_time", limit=5)
    assert first.status_code == 200
    last = first.json()["pagination"]["total_pages"]
    assert get(A + "content/", metric="programs", date_filter="all_time", limit=5, page=last).status_code == 200
    assert get(A + "content/", metric="programs", date_filter="all_time", limit=5, page=last + 1).status_code == 404
    course = dataset().content[0]
    assert get(A + f"content/details/{course.content_id}/", metric="skill").status_code == 404  # wrong kind


# -- audit logs ---------------------------------------------------------------------------------

AUDIT = "/api/ai-mentor/orgs/acme/users/admin/mentors/audit-logs/"


def test_audit_logs_are_drf_limit_offset_with_absolute_links(get, server):
    body = get(AUDIT, limit=20, offset=40).json()
    assert body["count"] == 137
    assert [e["id"] for e in body["results"]] == [e.id for e in audit_data.entries()[40:60]]
    nxt, prev = urlsplit(body["next"]), urlsplit(body["previous"])
    assert f"{nxt.scheme}://{nxt.netloc}" == server.root_url
    assert parse_qs(nxt.query) == {"limit": ["20"], "offset": ["60"]}
    assert parse_qs(prev.query) == {"limit": ["20"], "offset": ["20"]}
    assert get(AUDIT, limit=20, offset=20).json()["previous"].endswith("?limit=20")  # DRF drops offset=0
    assert get(AUDIT, limit=20, offset=120).json()["next"] is None


def test_audit_filters(get):
    mentor = _mentor(2).unique_id
    cases = [
        ({"mentor": mentor}, audit_data.matching(mentor=mentor)),
        ({"action": 2}, audit_data.matching(action="delete")),
        ({"action": 1}, audit_data.matching(action="update")),
        ({"actor_email": "jane@example.com"}, audit_data.matching(actor_email="jane@example.com")),
        ({"actor_username": "li.wei"}, audit_data.matching(actor_username="li.wei")),
        (
            {"from_date": "2026-05-01", "to_date": "2026-05-31"},
            audit_data.matching(from_date=date(2026, 5, 1), to_date=date(2026, 5, 31)),
        ),
    ]
    for params, expected in cases:
        body = get(AUDIT, limit=500, **params).json()
        assert [e["id"] for e in body["results"]] == [e.id for e in expected], params
        assert 0 < body["count"] < 137
    day = audit_data.entries()[5].day  # inclusive bounds: a one-day window still matches that day
    assert get(AUDIT, from_date=str(day), to_date=str(day)).json()["count"] >= 1


def test_audit_action_zero_is_dropped_by_the_server(get):
    """The documented quirk: action=0 (create) returns everything, so clients filter again."""
    body = get(AUDIT, action=0, limit=500).json()
    assert body["count"] == 137
    assert len(audit_data.matching(action="create")) == 4


def test_audit_errors(get, server):
    assert get(AUDIT, action=5).status_code == 400
    assert get(AUDIT, from_date="May 1").status_code == 400
    assert get(AUDIT, mentor="not-a-uuid").status_code == 400
    assert get(AUDIT, ordering="id").status_code == 400
    assert get(AUDIT.replace("/acme/", "/other/")).status_code == 403
    assert requests.get(server.base_url + AUDIT).status_code == 401


def test_the_fakes_clock(get):
    today = get(A + "messages/", start_date=str(ANCHOR), end_date=str(ANCHOR)).json()["summary"]
    seeded = sum(1 for c in dataset().conversations if c.day == ANCHOR)
    assert today["total_conversations"] == seeded
    sessions = get(A + "sessions/", granularity="day").json()  # date_filter defaults to today
    assert sessions["points"] == [{"date": str(ANCHOR), "value": seeded}]
