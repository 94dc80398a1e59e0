"""Analytics operators against the fake server: validation, XCom limit, streaming, atomic writes, scopes.

Operators run their real ``execute`` in-process (real HTTP to the fake, real local files); the
Airflow run itself is covered by the e2e test of the example DAG.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from iblai_provider._compat import AirflowException
from iblai_provider.exceptions import IblaiApiError, IblaiConfigError
from iblai_provider.operators.analytics import (
    IblaiAnalyticsOperator,
    IblaiAuditLogsOperator,
    IblaiLearnerAnalyticsOperator,
    IblaiTranscriptsToObjectStorageOperator,
)
from iblai_provider.testing import audit_data
from iblai_provider.testing.analytics_data import N_USERS, SPIKE_CONVERSATIONS, SPIKE_DAY, dataset
from iblai_provider.utils.records_sink import to_json

UUID = "00000000-0000-4000-8000-000000000001"
An, Tr, Au, Le = (
    IblaiAnalyticsOperator,
    IblaiTranscriptsToObjectStorageOperator,
    IblaiAuditLogsOperator,
    IblaiLearnerAnalyticsOperator,
)

# (operator, kwargs, words the one error must contain: the parameter and what it accepts)
RULES = [
    (An, {"endpoint": "userz/"}, ["endpoint", "users/details/", "financial/"]),
    (An, {"endpoint": "users/", "query_params": {"metric": "nope"}}, ["query_params['metric']", "active_users"]),
    (An, {"endpoint": "users/"}, ["query_params['metric']", "registered_users"]),
    (An, {"endpoint": "financial/"}, ["query_params['metric']", "weekly_costs"]),
    (An, {"endpoint": "financial/details/"}, ["query_params['group_by']", "llm_model"]),
    (An, {"endpoint": "messages/details/"}, ["query_params['session_id']"]),
    (An, {"endpoint": "learner/details"}, ["query_params['username']"]),
    (An, {"endpoint": "content/"}, ["query_params['metric']", "pathways"]),
    (An, {"endpoint": "topics/", "query_params": {"colour": "red"}}, ["query_params['colour']", "granularity"]),
    (An, {"endpoint": "topics/", "date_filter": "yesterday"}, ["date_filter", "all_time", "custom"]),
    (
        An,
        {"endpoint": "topics/", "date_filter": "custom", "from_date": "2026-06-01"},
        ["custom", "from_date", "to_date"],
    ),
    (An, {"endpoint": "topics/", "date_filter": "custom", "to_date": "2026-06-01"}, ["custom", "from_date", "to_date"]),
    (
        An,
        {"endpoint": "topics/", "date_filter": "7d", "from_date": "2026-06-01", "to_date": "2026-06-02"},
        ["from_date", "date_filter='custom'"],
    ),
    (
        An,
        {"endpoint": "topics/", "date_filter": "custom", "from_date": "2026-06-10", "to_date": "2026-06-01"},
        ["to_date", "from_date"],
    ),
    (
        An,
        {"endpoint": "topics/", "date_filter": "custom", "from_date": "06/01/2026", "to_date": "2026-06-02"},
        ["from_date", "YYYY-MM-DD"],
    ),
    (An, {"endpoint": "topics/", "usergroup_ids": ["a"]}, ["usergroup_ids", "integers"]),
    (An, {"endpoint": "topics/", "usergroup_ids": [1.5]}, ["usergroup_ids", "integers"]),
    (An, {"endpoint": "topics/", "usergroup_ids": [True]}, ["usergroup_ids", "integers"]),
    (An, {"endpoint": "topics/", "mentor_unique_id": "tutor"}, ["mentor_unique_id", "UUID"]),
    (An, {"endpoint": "financial/invoice/", "mentor_unique_id": UUID}, ["mentor_unique_id", "financial/invoice/"]),
    (An, {"endpoint": "messages/", "query_params": {"limit": 101}}, ["query_params['limit']", "<= 100"]),
    (An, {"endpoint": "messages/", "query_params": {"sentiment": "happy"}}, ["query_params['sentiment']", "neutral"]),
    (An, {"endpoint": "messages/", "query_params": {"page": 2}}, ["query_params['page']", "all_pages"]),
    (
        An,
        {"endpoint": "messages/", "query_params": {"start_date": "2026-06-01"}},
        ["query_params['start_date']", "from_date"],
    ),
    (An, {"endpoint": "content/details/{content_id}/", "query_params": {"metric": "course"}}, ["content_id"]),
    (
        An,
        {
            "endpoint": "content/details/{content_id}/",
            "content_id": "c",
            "query_params": {"metric": "course", "limit": 31},
        },
        ["query_params['limit']", "<= 30"],
    ),
    (An, {"endpoint": "topics/", "output_format": "xml"}, ["output_format", "jsonl", "csv"]),
    (An, {"endpoint": "topics/", "max_xcom_bytes": 0}, ["max_xcom_bytes"]),
    (An, {"endpoint": "topics/", "all_pages": "yes"}, ["all_pages"]),
    (An, {"endpoint": "topics/", "overwrite": "yes"}, ["overwrite"]),
    (Tr, {"from_date": None, "to_date": "2026-06-01", "dest": "file:///tmp/x.jsonl"}, ["from_date", "to_date"]),
    (Tr, {"from_date": "2026-06-01", "to_date": "2026-06-01", "dest": None}, ["dest"]),
    (Au, {"action": "archive"}, ["action", "create, update, delete", "0, 1, 2"]),
    (Au, {"action": 3}, ["action", "create, update, delete"]),
    (Au, {"mentor": "tutor"}, ["mentor", "UUID"]),
    (Au, {"from_date": "2026-06-10", "to_date": "2026-06-01"}, ["to_date", "from_date"]),
    (Le, {"metrics": "courses"}, ["metrics", "username"]),
    (Le, {"username": "a", "metrics": "grades"}, []),  # unknown section: the server's 400, see below
]


@pytest.mark.parametrize(("cls", "kwargs", "words"), [r for r in RULES if r[2]], ids=lambda v: None)
def test_bad_arguments_fail_with_one_clear_error(cls, kwargs, words):
    with pytest.raises(IblaiConfigError) as err:
        cls(task_id="t", **kwargs)
    for word in words:
        assert word in str(err.value), (word, str(err.value))


INIT_ONLY = {
    "output_format",
    "max_xcom_bytes",
    "all_pages",
    "overwrite",
}  # not template fields: checked in __init__ only


@pytest.mark.parametrize(
    ("cls", "kwargs", "words"),
    [r for r in RULES if r[2] and r[0] is not Tr and not INIT_ONLY & set(r[1])],
    ids=lambda v: None,
)
def test_rendered_bad_arguments_fail_before_any_request(iblai_conn, cls, kwargs, words):
    """The same rules at run time, for values that only exist once templates are rendered."""
    op = cls(task_id="t", **({"endpoint": "topics/"} if cls is An else {}), from_date="{{ ds }}")  # checks deferred
    op.from_date = None
    for name, value in kwargs.items():
        setattr(op, name, value)
    with pytest.raises(IblaiConfigError) as err:
        op.execute({})
    assert all(word in str(err.value) for word in words), str(err.value)
    assert iblai_conn.requests == []


def test_dest_must_be_an_object_uri(iblai_conn):
    op = An(task_id="t", endpoint="topics/", dest="not a uri")
    with pytest.raises(IblaiConfigError, match="dest must be"):
        op.execute({})
    assert iblai_conn.requests == []


def test_small_results_go_to_xcom_with_exact_decimals(iblai_conn):
    body = An(
        task_id="t", endpoint="financial/", query_params={"metric": "total_costs"}, date_filter="all_time"
    ).execute({})
    assert body["value"] == format(sum((r.cost for r in dataset().costs), Decimal(0)), "f")
    overview = An(task_id="t", endpoint="topics/", date_filter="all_time").execute({})
    assert overview["sessions"]["percentage_change"] == "83.8"  # a JSON float, kept as its exact text
    rows = An(task_id="t", endpoint="users/details/", date_filter="all_time").execute({})
    assert len(rows) == N_USERS
    assert to_json({"x": Decimal("0.10000"), "y": Decimal("-1.5E+3")}) == '{"x":0.10000,"y":-1.5E+3}'


def test_xcom_limit_asks_for_dest(iblai_conn):
    op = An(task_id="t", endpoint="users/details/", date_filter="all_time", max_xcom_bytes=4000)
    with pytest.raises(AirflowException, match=r"max_xcom_bytes=4000.*set dest") as err:
        op.execute({})
    assert iblai_conn.api_key not in str(err.value)


def test_one_page_when_all_pages_is_false(iblai_conn):
    body = An(
        task_id="t",
        endpoint="users/details/",
        date_filter="all_time",
        all_pages=False,
        query_params={"page": 2, "limit": 50},
    ).execute({})
    assert body["pagination"]["page"] == 2 and len(body["results"]) == 50


def test_agent_scope_and_user_groups_reach_the_wire(iblai_conn):
    mentor = dataset().mentors[0]
    rows = An(task_id="t", endpoint="messages/", mentor_unique_id=mentor.unique_id, usergroup_ids=[1, "3"]).execute({})
    sent = iblai_conn.requests_to(r"/analytics/messages/$")[0].query
    assert sent["mentor_unique_id"] == [mentor.unique_id] and sent["usergroup_ids"] == ["1", "3"]
    assert sent["platform_key"] == [iblai_conn.org] and "date_filter" not in sent  # messages/ has no date_filter
    expected = [c for c in dataset().conversations if c.mentor is mentor and {1, 3} & set(c.user.groups)]
    assert len(rows) == len(expected) and {r["mentor_unique_id"] for r in rows} == {mentor.unique_id}


def test_stream_to_jsonl_and_csv(iblai_conn, tmp_path):
    jsonl = An(
        task_id="t",
        endpoint="financial/details/",
        date_filter="all_time",
        query_params={"group_by": "username", "limit": 25},
        dest=f"file://{tmp_path}/costs.jsonl",
    ).execute({})
    assert jsonl == {"uri": f"file://{tmp_path}/costs.jsonl", "records": N_USERS}
    lines = (tmp_path / "costs.jsonl").read_text().splitlines()
    rows = [json.loads(line, parse_float=Decimal) for line in lines]
    assert sum(Decimal(r["total_cost"]) for r in rows) == sum((c.cost for c in dataset().costs), Decimal(0))
    csv = An(
        task_id="t",
        endpoint="users/details/",
        date_filter="all_time",
        output_format="csv",
        dest=f"file://{tmp_path}/users.csv",
    ).execute({})
    text = (tmp_path / "users.csv").read_text().splitlines()
    assert csv["records"] == N_USERS == len(text) - 1
    assert text[0] == "email,full_name,messages,conversations,last_activity"


def test_transcripts_list_plus_details(iblai_conn, tmp_path):
    day = str(SPIKE_DAY)
    result = Tr(task_id="t", from_date=day, to_date=day, dest=f"file://{tmp_path}/t.jsonl", page_size=20).execute({})
    assert result["records"] == SPIKE_CONVERSATIONS
    records = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    by_session = dataset().conversation_by_session
    assert all(len(r["messages"]) == by_session[r["session"]].message_count // 2 for r in records)
    assert {r["session"] for r in records} == {c.session for c in dataset().conversations if c.day == SPIKE_DAY}
    assert len(iblai_conn.requests_to(r"/messages/$")) == 3
    assert len(iblai_conn.requests_to(r"/messages/details/$")) == SPIKE_CONVERSATIONS


def test_a_failure_midway_leaves_the_previous_object_intact(iblai_conn, tmp_path):
    target = tmp_path / "t.jsonl"
    target.write_text("previous run\n")
    iblai_conn.faults.add(r"/messages/details/$", "delay", times=10, seconds=0)
    iblai_conn.faults.add(r"/messages/details/$", "status", times=1, status=400, body={"session_id": ["bad"]})
    day = str(SPIKE_DAY)
    with pytest.raises(IblaiApiError):
        Tr(task_id="t", from_date=day, to_date=day, dest=f"file://{target}").execute({})
    assert target.read_text() == "previous run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.jsonl"]  # no temporary object left
    Tr(task_id="t", from_date=day, to_date=day, dest=f"file://{target}").execute({})
    assert len(target.read_text().splitlines()) == SPIKE_CONVERSATIONS


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"action": "create"}, audit_data.matching(action="create")),
        ({"action": 0}, audit_data.matching(action="create")),
        (
            {"action": "delete", "actor": "jane@example.com"},
            audit_data.matching(action="delete", actor_email="jane@example.com"),
        ),
        ({"actor": "JANE@example.com"}, audit_data.matching(actor_email="jane@example.com")),
        ({"actor": "li.wei"}, audit_data.matching(actor_username="li.wei")),
        (
            {"from_date": "2026-05-01", "to_date": "2026-05-31"},
            audit_data.matching(from_date=date(2026, 5, 1), to_date=date(2026, 5, 31)),
        ),
    ],
)
def test_audit_logs_operator(iblai_conn, kwargs, expected):
    mentor = dataset().mentors[1].unique_id
    got = Au(task_id="t", page_size=25, **kwargs).execute({})
    assert [e["id"] for e in got] == [e.id for e in expected] and expected
    scoped = Au(task_id="t", mentor=mentor, **kwargs).execute({})
    assert [e["id"] for e in scoped] == [e.id for e in expected if e.mentor == mentor]


def test_learner_operator(iblai_conn):
    user = dataset().users[3]
    one = Le(task_id="t", username=user.username, metrics=["courses", "time_spent"]).execute({})
    assert one["user"]["username"] == user.username and set(one["data"]) == {"courses", "time_spent"}
    everyone = Le(task_id="t", query_params={"limit": 50}).execute({})
    assert len(everyone) == N_USERS
    with pytest.raises(IblaiApiError, match="400"):  # sections are checked by the server
        Le(task_id="t", username=user.username, metrics="grades").execute({})


def test_content_details_path_id_travels_intact(iblai_conn):
    """Course ids hold ``:`` and ``+``; the operator fills the path and pages the learner rows."""
    data = dataset()
    course = max(
        (c for c in data.content if c.kind == "course"),
        key=lambda c: sum(1 for e in data.enrollments if e.content is c),
    )
    rows = An(
        task_id="t",
        endpoint="content/details/{content_id}/",
        content_id=course.content_id,
        date_filter="all_time",
        query_params={"metric": "courses", "limit": 3},
    ).execute({})
    assert sorted(r["username"] for r in rows) == sorted(
        e.user.username for e in data.enrollments if e.content is course
    )
    assert len(iblai_conn.requests_to(r"/content/details/")) > 3


def test_overwrite_false_refuses_before_any_request(iblai_conn, tmp_path):
    from iblai_provider.utils.atomic_write import DestinationExistsError

    target = tmp_path / "users.jsonl"
    target.write_text("keep me\n")
    op = An(task_id="t", endpoint="users/details/", dest=f"file://{target}", overwrite=False)
    with pytest.raises(DestinationExistsError):
        op.execute({})
    assert target.read_text() == "keep me\n" and iblai_conn.requests == []
