"""One test per page envelope of the analytics family, each reading more than three pages through
the hook from the fake server (real HTTP), plus a server that answers an empty page early.

Expected records come from the seed modules; the request log shows how many pages were read.
"""

from __future__ import annotations

import math
from datetime import date

import pytest

from iblai_provider.hooks.iblai import IblaiHook
from iblai_provider.testing import audit_data
from iblai_provider.testing.analytics_data import N_USERS, SPIKE_CONVERSATIONS, SPIKE_DAY, dataset


@pytest.fixture
def hook(iblai_conn):
    return IblaiHook()


def _pages(server, path_regex):
    return [r.query for r in server.requests_to(path_regex)]


def test_analytics_p8_pages(hook, iblai_conn):
    """``messages/``: results + pagination{page, has_next, ...}; the spike day over 5 pages of 10."""
    day = str(SPIKE_DAY)
    items = list(hook.iter_transcripts({"start_date": day, "end_date": day, "limit": 10}))
    expected = sorted(
        (c for c in dataset().conversations if c.day == SPIKE_DAY), key=lambda c: c.created_at, reverse=True
    )
    assert [i["session"] for i in items] == [c.session for c in expected]
    pages = _pages(iblai_conn, r"/analytics/messages/$")
    assert [q.get("page") for q in pages] == [None, ["2"], ["3"], ["4"], ["5"]]
    assert len(pages) == math.ceil(SPIKE_CONVERSATIONS / 10) == 5


def test_users_details_pages(hook, iblai_conn):
    """``users/details/``: pagination{page, total_pages, has_next, start_index, end_index}."""
    rows = list(hook.iter_analytics("users/details/", {"date_filter": "all_time", "limit": 30}))
    assert len(rows) == N_USERS and len({r["email"] for r in rows}) == N_USERS
    assert len(_pages(iblai_conn, r"/users/details/$")) == math.ceil(N_USERS / 30) == 5


def test_learners_current_page_pages(hook, iblai_conn):
    """``learners/``: pagination{total_items, current_page, per_page, total_pages} (no has_next)."""
    data = dataset()
    user = max(data.users, key=lambda u: sum(1 for e in data.enrollments if e.user is u and e.content.kind == "course"))
    courses = {e.content.content_id for e in data.enrollments if e.user is user and e.content.kind == "course"}
    rows = list(hook.iter_analytics("learners/", {"username": user.username, "limit": 2}))
    assert {r["course_id"] for r in rows} == courses and len(rows) == len(courses)
    assert len(_pages(iblai_conn, r"/analytics/learners/$")) == math.ceil(len(courses) / 2) > 3


def test_learners_list_pages(hook, iblai_conn):
    """``learners/list/``: items under ``learners``, P8 pagination."""
    rows = list(hook.iter_analytics("learners/list/", {"limit": 30, "sort_by": "username", "sort_order": "asc"}))
    assert [r["username"] for r in rows] == sorted(u.username for u in dataset().users)
    assert len(_pages(iblai_conn, r"/learners/list/$")) == 5


def test_financial_flat_pages(hook, iblai_conn):
    """``financial/details/``: flat page/limit/total_pages with ``rows``; costs stay decimal strings."""
    rows = list(
        hook.iter_analytics("financial/details/", {"group_by": "username", "date_filter": "all_time", "limit": 30})
    )
    assert len(rows) == N_USERS and len({r["username"] for r in rows}) == N_USERS
    assert all(isinstance(r["total_cost"], str) for r in rows)
    assert len(_pages(iblai_conn, r"/financial/details/$")) == 5


def test_content_pages_stop_at_total_pages(hook, iblai_conn):
    """``content/``: P8 whose page past the end would be a 404; the reader never asks for it."""
    rows = list(hook.iter_analytics("content/", {"metric": "skills", "date_filter": "all_time", "limit": 7}))
    assert len(rows) == len({e.content.content_id for e in dataset().enrollments if e.content.kind == "skill"})
    assert len(_pages(iblai_conn, r"/analytics/content/$")) == math.ceil(len(rows) / 7) > 3


def test_audit_limit_offset_pages(hook, iblai_conn):
    """Audit logs: DRF count/next/previous/results with absolute ``next`` links; filters survive paging."""
    entries = list(hook.iter_audit_logs(from_date="2026-04-01", to_date="2026-06-30", page_size=20))
    expected = audit_data.matching(from_date=date(2026, 4, 1), to_date=date(2026, 6, 30))
    assert [e["id"] for e in entries] == [e.id for e in expected]
    pages = _pages(iblai_conn, r"/mentors/audit-logs/$")
    assert len(pages) == math.ceil(len(expected) / 20) > 3
    assert all(q["from_date"] == ["2026-04-01"] for q in pages)


def test_audit_action_zero_quirk_is_filtered_client_side(hook, iblai_conn):
    entries = list(hook.iter_audit_logs(action="create", page_size=50))
    assert [e["id"] for e in entries] == [e.id for e in audit_data.matching(action="create")]
    pages = _pages(iblai_conn, r"/mentors/audit-logs/$")
    assert pages[0]["action"] == ["0"] and len(pages) == 3  # the server ignored the filter: all 137 were read


def test_an_empty_page_early_ends_the_read(hook, iblai_conn):
    """Page 2 comes back empty although page 1 promised more: stop there, no loop, no error."""
    iblai_conn.faults.add(r"/users/details/$", "delay", times=1, seconds=0)  # page 1 untouched
    iblai_conn.faults.add(
        r"/users/details/$",
        "status",
        times=1,
        status=200,
        body={
            "results": [],
            "total": N_USERS,
            "pagination": {"page": 2, "limit": 20, "total_pages": 7, "has_next": True},
        },
    )
    rows = list(hook.iter_analytics("users/details/", {"date_filter": "all_time"}))
    assert len(rows) == 20
    assert len(_pages(iblai_conn, r"/users/details/$")) == 2
