"""Periodic-agent operators against the fake server over real HTTP: upsert, update/pause, delete, validation."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from iblai_provider.exceptions import IblaiApiError, IblaiConfigError
from iblai_provider.operators.periodic_agents import (
    IblaiCreatePeriodicAgentOperator,
    IblaiDeletePeriodicAgentOperator,
    IblaiUpdatePeriodicAgentOperator,
)
from iblai_provider.testing import FakeIblaiServer
from iblai_provider.testing.agent_store import DEFAULT_MENTOR
from iblai_provider.utils.agent_validation import crontab_from_schedule

AGENTS = r"/periodic-agents/"
SECRET = "cb-secret-7f3a9d1e"


def create_op(**overrides: Any) -> IblaiCreatePeriodicAgentOperator:
    args: dict[str, Any] = {"task_id": "upsert", "mentor": DEFAULT_MENTOR, "title": "Weekday digest",
                            "prompt": "Summarise yesterday.", "schedule": "0 8 * * 1-5"}
    args.update(overrides)
    return IblaiCreatePeriodicAgentOperator(**args)


def agents_titled(server: FakeIblaiServer, title: str) -> list[dict[str, Any]]:
    return [a for a in server.state["agents"].agents.values() if a["title"] == title]


def writes(server: FakeIblaiServer) -> list[Any]:
    return [r for r in server.requests_to(AGENTS) if r.method in ("POST", "PATCH", "PUT", "DELETE")]


def test_upsert_creates_then_is_idempotent_then_updates(iblai_conn: FakeIblaiServer) -> None:
    first = create_op().execute({})
    assert first == {"id": first["id"], "title": "Weekday digest", "mentor": DEFAULT_MENTOR,
                     "schedule": "0 8 * * 1-5", "enabled": True, "action": "created"}
    posted = iblai_conn.requests_to(AGENTS, "POST")[0].json()
    assert posted["task"] == {"crontab": {"minute": "0", "hour": "8", "day_of_month": "*", "month_of_year": "*",
                                          "day_of_week": "1-5"}, "one_off": False, "enabled": True}
    assert "enabled" not in posted and "one_off" not in posted  # read-only at the top level

    iblai_conn.reset()
    again = create_op().execute({})
    assert again["action"] == "unchanged" and again["id"] == first["id"]
    assert writes(iblai_conn) == []

    changed = create_op(schedule="30 7 * * 1-5", prompt="Summarise the week so far.").execute({})
    assert changed["action"] == "updated" and changed["schedule"] == "30 7 * * 1-5"
    patch = iblai_conn.requests_to(AGENTS, "PATCH")[0].json()
    assert patch["prompt"] == "Summarise the week so far." and patch["task"]["crontab"]["minute"] == "30"
    (stored,) = agents_titled(iblai_conn, "Weekday digest")
    assert stored["task"]["crontab"]["minute"] == "30" and stored["prompt"] == "Summarise the week so far."


def test_if_exists_skip_and_fail(iblai_conn: FakeIblaiServer) -> None:
    created = create_op().execute({})
    skipped = create_op(schedule="0 9 * * *", if_exists="skip").execute({})
    assert skipped["action"] == "skipped" and skipped["schedule"] == "0 8 * * 1-5"
    with pytest.raises(Exception, match=rf"exists \(ids \[{created['id']}\]\) and if_exists='fail'"):
        create_op(if_exists="fail").execute({})
    assert len(agents_titled(iblai_conn, "Weekday digest")) == 1


def test_duplicates_are_reported_not_guessed(iblai_conn: FakeIblaiServer) -> None:
    store = iblai_conn.state["agents"]
    for _ in range(2):
        store.create({"mentor": DEFAULT_MENTOR, "title": "Twin", "task": {"crontab": {}}}, schedule=False)
    with pytest.raises(Exception, match="2 periodic agents are titled 'Twin'"):
        create_op(title="Twin").execute({})
    assert writes(iblai_conn) == []


def test_secret_is_sent_but_never_returned_or_logged(
    iblai_conn: FakeIblaiServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    op = create_op(callback_url="https://hooks.example.com/iblai", callback_secret=SECRET)
    result = op.execute({})
    assert iblai_conn.requests_to(AGENTS, "POST")[0].json()["callback_secret"] == SECRET
    assert SECRET not in json.dumps(result)
    again = create_op(callback_url="https://hooks.example.com/iblai", callback_secret=SECRET).execute({})
    assert again["action"] == "unchanged"  # the stored secret matches: nothing to write
    rotated = create_op(callback_url="https://hooks.example.com/iblai", callback_secret=SECRET + "-v2").execute({})
    assert rotated["action"] == "updated"
    assert iblai_conn.requests_to(AGENTS, "PATCH")[0].json() == {"callback_secret": SECRET + "-v2"}
    assert SECRET not in caplog.text
    assert "callback_secret" in IblaiCreatePeriodicAgentOperator.template_fields  # redacted by name when rendered


def test_update_and_pause_use_the_task_shape(iblai_conn: FakeIblaiServer) -> None:
    agent_id = create_op().execute({})["id"]
    iblai_conn.reset()
    paused = IblaiUpdatePeriodicAgentOperator(task_id="pause", agent_id=str(agent_id), enabled=False).execute({})
    assert paused["enabled"] is False and paused["action"] == "updated"
    resumed = IblaiUpdatePeriodicAgentOperator(task_id="resume", agent_id=agent_id, enabled=True).execute({})
    assert resumed["enabled"] is True
    IblaiUpdatePeriodicAgentOperator(
        task_id="change", agent_id=agent_id, schedule={"hour": 6}, one_off=True,
        start_time="2030-01-02T03:04:05+02:00", title="Renamed",
    ).execute({})
    bodies = [r.json() for r in iblai_conn.requests_to(rf"{AGENTS}{agent_id}/$", "PATCH")]
    assert bodies[0] == {"task": {"enabled": False}}
    assert bodies[1] == {"task": {"enabled": True}}
    assert bodies[2] == {"title": "Renamed", "task": {
        "crontab": {"minute": "*", "hour": "6", "day_of_month": "*", "month_of_year": "*", "day_of_week": "*"},
        "one_off": True, "start_time": "2030-01-02T01:04:05Z"}}
    stored = iblai_conn.state["agents"].agents[agent_id]
    assert stored["title"] == "Renamed" and stored["task"]["one_off"] is True and stored["task"]["enabled"] is True


def test_update_with_nothing_to_change(iblai_conn: FakeIblaiServer) -> None:
    with pytest.raises(IblaiConfigError, match="nothing to change"):
        IblaiUpdatePeriodicAgentOperator(task_id="noop", agent_id=42).execute({})
    assert iblai_conn.requests == []


def test_delete_twice_with_missing_ok(iblai_conn: FakeIblaiServer) -> None:
    agent_id = create_op().execute({})["id"]
    delete = IblaiDeletePeriodicAgentOperator(task_id="delete", agent_id=agent_id)
    assert delete.execute({}) == {"deleted": [agent_id]}
    assert delete.execute({}) == {"deleted": []}
    assert [r.method for r in iblai_conn.requests_to(rf"{AGENTS}{agent_id}/$")] == ["DELETE", "DELETE"]
    with pytest.raises(IblaiApiError) as raised:
        IblaiDeletePeriodicAgentOperator(task_id="strict", agent_id=agent_id, missing_ok=False).execute({})
    assert raised.value.status == 404


def test_delete_by_mentor_and_title(iblai_conn: FakeIblaiServer) -> None:
    agent_id = create_op(title="Temp").execute({})["id"]
    keep = create_op(title="Keep").execute({})["id"]
    by_name = IblaiDeletePeriodicAgentOperator(task_id="d", mentor=DEFAULT_MENTOR, title="Temp")
    assert by_name.execute({}) == {"deleted": [agent_id]}
    assert by_name.execute({}) == {"deleted": []}
    with pytest.raises(Exception, match="No periodic agent titled 'Temp'"):
        IblaiDeletePeriodicAgentOperator(task_id="d", mentor=DEFAULT_MENTOR, title="Temp", missing_ok=False).execute({})
    assert keep in iblai_conn.state["agents"].agents


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"schedule": "0 8 * * 1-5 2026"}, "schedule"),  # 6 fields
        ({"schedule": "61 8 * * *"}, "schedule"),
        ({"schedule": "0 8 * * 8"}, "schedule"),
        ({"schedule": "0 8 L * *"}, "schedule"),
        ({"schedule": "@daily"}, "schedule"),
        ({"schedule": {"hour": "25"}}, "schedule"),
        ({"schedule": {"hours": "8"}}, "schedule"),
        ({"schedule": None}, "schedule"),  # required for a recurring agent
        ({"previous_agent_status": "done"}, "previous_agent_status"),
        ({"callback_url": "http://hooks.example.com/iblai"}, "callback_url"),
        ({"callback_url": "ftp://127.0.0.1/x"}, "callback_url"),
        ({"callback_url": "https://x.example.com/" + "a" * 200}, "callback_url"),
        ({"mentor": "campus-guide"}, "mentor"),
        ({"title": "t" * 256}, "title"),
        ({"title": " "}, "title"),
        ({"start_time": "next tuesday"}, "start_time"),
        ({"if_exists": "replace"}, "if_exists"),
        ({"previous_agent": "abc"}, "previous_agent"),
        ({"enabled": "yes"}, "enabled"),
        ({"callback_secret": "s" * 256}, "callback_secret"),
    ],
)
def test_bad_input_fails_before_any_request(iblai_conn: FakeIblaiServer, overrides: dict[str, Any], param: str) -> None:
    with pytest.raises(IblaiConfigError) as raised:
        create_op(**overrides).execute({})
    message = str(raised.value)
    assert message.startswith(param) or f" {param} " in message or f"{param}=" in message
    assert "accepts" in message
    assert "s" * 256 not in message  # a secret is never echoed
    assert iblai_conn.requests == []


@pytest.mark.parametrize(
    ("op", "param"),
    [
        (IblaiUpdatePeriodicAgentOperator(task_id="u", agent_id="abc", enabled=False), "agent_id"),
        (IblaiUpdatePeriodicAgentOperator(task_id="u", agent_id=1, schedule="* * *"), "schedule"),
        (IblaiUpdatePeriodicAgentOperator(task_id="u", agent_id=1, previous_agent_status="ok"),
         "previous_agent_status"),
        (IblaiUpdatePeriodicAgentOperator(task_id="u", agent_id=1, callback_url="http://10.0.0.5/cb"), "callback_url"),
        (IblaiDeletePeriodicAgentOperator(task_id="d", agent_id=0), "agent_id"),
        (IblaiDeletePeriodicAgentOperator(task_id="d"), "agent_id"),
        (IblaiDeletePeriodicAgentOperator(task_id="d", agent_id=1, title="x"), "agent_id"),
    ],
)
def test_update_and_delete_bad_input(iblai_conn: FakeIblaiServer, op: Any, param: str) -> None:
    with pytest.raises(IblaiConfigError, match=param):
        op.execute({})
    assert iblai_conn.requests == []


def test_loopback_http_callback_and_one_off_defaults(iblai_conn: FakeIblaiServer) -> None:
    for url in ("http://127.0.0.1:9/cb", "http://localhost/cb", "http://[::1]:8080/cb"):
        create_op(title=f"cb {url}", callback_url=url, callback_secret=SECRET).execute({})
    one_off = create_op(title="Once", schedule=None, one_off=True, start_time="2030-01-01T00:00:00Z").execute({})
    assert one_off["schedule"] == "* * * * *"
    body = iblai_conn.requests_to(AGENTS, "POST")[-1].json()
    assert body["task"]["one_off"] is True and body["task"]["start_time"] == "2030-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("*/15 0-6,20-23 1,15 */2 mon-fri", ("*/15", "0-6,20-23", "1,15", "*/2", "mon-fri")),
        ("0 8 * * 7", ("0", "8", "*", "*", "7")),
        ("0 8 * * 0", ("0", "8", "*", "*", "0")),
        ("5-55/10 *  * * 5-7", ("5-55/10", "*", "*", "*", "5-7")),
        ({"hour": 8, "day_of_week": "1-5"}, ("*", "8", "*", "*", "1-5")),
    ],
)
def test_cron_to_crontab(schedule: Any, expected: tuple[str, ...]) -> None:
    crontab = crontab_from_schedule(schedule)
    keys = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
    assert tuple(crontab[k] for k in keys) == expected and set(crontab) == set(keys)
