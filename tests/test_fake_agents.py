"""The fake server's periodic-agents API (§3) over real HTTP: shapes, validation, pagination, runs."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from iblai_provider.testing import FakeIblaiServer
from iblai_provider.testing.agent_store import DEFAULT_MENTOR, MENTOR_SEED

OTHER_MENTOR = MENTOR_SEED[2][0]


class Api:
    """Plain ``requests`` against the fake: these tests must not depend on the provider's hook."""

    def __init__(self, server: FakeIblaiServer) -> None:
        self.server = server
        self.base = f"{server.base_url}/api/ai-mentor/orgs/{server.org}/users/{server.username}/"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Api-Token {server.api_key}"

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.base + path, timeout=10, **kwargs)


@pytest.fixture
def api() -> Api:
    with FakeIblaiServer(agent_run_seconds=0.2) as server:
        yield Api(server)


def body(**overrides: Any) -> dict[str, Any]:
    data = {
        "mentor": DEFAULT_MENTOR,
        "title": "Daily digest",
        "prompt": "Summarise yesterday's activity.",
        "task": {"crontab": {"minute": "0", "hour": "8", "day_of_week": "1-5"}, "enabled": True, "one_off": False},
    }
    data.update(overrides)
    return data


def wait_for(predicate, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def logs_of(api: Api, agent_id: int, **params: Any) -> list[dict[str, Any]]:
    response = api("GET", "periodic-agent-logs/", params={"periodic_agent": agent_id, **params})
    assert response.status_code == 200, response.text
    return response.json()["results"]


def test_create_get_list_shapes(api: Api) -> None:
    created = api("POST", "periodic-agents/", json=body(callback_secret="s3cr3t"))
    assert created.status_code == 201
    agent = created.json()
    assert agent["mentor"] == DEFAULT_MENTOR  # PeriodicAgentCreate: the UUID
    assert agent["task"]["crontab"] == {"minute": "0", "hour": "8", "day_of_week": "1-5",
                                        "day_of_month": "*", "month_of_year": "*"}
    assert agent["enabled"] is True and agent["one_off"] is False and agent["platform_key"] == api.server.org
    assert isinstance(agent["id"], int) and agent["task"]["name"]

    got = api("GET", f"periodic-agents/{agent['id']}/").json()
    assert got["mentor"]["unique_id"] == DEFAULT_MENTOR and isinstance(got["mentor"]["id"], int)
    listed = api("GET", "periodic-agents/", params={"mentor_id": DEFAULT_MENTOR}).json()
    assert [a["id"] for a in listed["results"]] == [agent["id"]]
    assert listed["results"][0]["mentor"]["name"] == "Campus Guide"


def test_top_level_flags_are_read_only(api: Api) -> None:
    agent = api("POST", "periodic-agents/", json=body(enabled=False, one_off=True)).json()
    assert agent["task"]["enabled"] is True and agent["enabled"] is True and agent["one_off"] is False

    ignored = api("PATCH", f"periodic-agents/{agent['id']}/", json={"enabled": False}).json()
    assert ignored["enabled"] is True
    paused = api("PATCH", f"periodic-agents/{agent['id']}/", json={"task": {"enabled": False}})
    assert paused.status_code == 200
    assert paused.json()["enabled"] is False and paused.json()["task"]["crontab"]["day_of_week"] == "1-5"
    assert api("GET", f"periodic-agents/{agent['id']}/").json()["task"]["enabled"] is False


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({"title": "x"}, {"mentor": ["This field is required."], "task": ["This field is required."]}),
        (body(mentor=None, title=None), {"mentor": ["This field may not be null."],
                                         "title": ["This field may not be null."]}),
        (body(title="t" * 256), {"title": ["Ensure this field has no more than 255 characters."]}),
        (body(title="  "), {"title": ["This field may not be blank."]}),
        (body(mentor="not-a-mentor"), {"mentor": ["Object with unique_id=not-a-mentor does not exist."]}),
        (body(previous_agent_status="done"), {"previous_agent_status": ['"done" is not a valid choice.']}),
        (body(previous_agent=999999), {"previous_agent": ['Invalid pk "999999" - object does not exist.']}),
        (body(callback_url="ftp://x"), {"callback_url": ["Enter a valid URL."]}),
    ],
)
def test_field_errors(api: Api, payload: dict[str, Any], errors: dict[str, Any]) -> None:
    response = api("POST", "periodic-agents/", json=payload)
    assert response.status_code == 400
    assert response.json() == errors
    assert api("GET", "periodic-agents/").json()["count"] == 1  # only the seeded agent


@pytest.mark.parametrize(
    ("crontab", "field"),
    [({"hour": "25"}, "hour"), ({"minute": "*/0"}, "minute"), ({"day_of_week": "8"}, "day_of_week"),
     ({"day_of_month": "0"}, "day_of_month"), ({"month_of_year": "13"}, "month_of_year"),
     ({"day_of_week": "mon-xyz"}, "day_of_week"), ({"hour": 8}, "hour")],
)
def test_bad_crontab(api: Api, crontab: dict[str, Any], field: str) -> None:
    response = api("POST", "periodic-agents/", json=body(task={"crontab": crontab}))
    assert response.status_code == 400
    assert list(response.json()["task"]["crontab"]) == [field]


def test_good_crontab_grammar(api: Api) -> None:
    crontab = {"minute": "*/15", "hour": "0-6,20-23", "day_of_week": "mon-fri", "day_of_month": "1,15",
               "month_of_year": "*/2"}
    assert api("POST", "periodic-agents/", json=body(task={"crontab": crontab})).status_code == 201
    sunday = api("POST", "periodic-agents/", json=body(title="s", task={"crontab": {"day_of_week": "0,7"}}))
    assert sunday.status_code == 201


def test_bad_start_time_and_body(api: Api) -> None:
    response = api("POST", "periodic-agents/", json=body(task={"crontab": {}, "start_time": "tomorrow"}))
    assert response.status_code == 400 and "start_time" in response.json()["task"]
    assert api("POST", "periodic-agents/", json=[1]).status_code == 400
    assert api("POST", "periodic-agents/", data=b"{", headers={"Content-Type": "application/json"}).status_code == 400


def test_pagination_and_filters(api: Api) -> None:
    for i in range(12):
        mentor = DEFAULT_MENTOR if i % 2 else OTHER_MENTOR
        api("POST", "periodic-agents/", json=body(title=f"Agent {i:02d}", mentor=mentor))
    first = api("GET", "periodic-agents/", params={"page_size": 5, "ordering": "title"}).json()
    assert first["count"] == 13 and first["previous"] is None and len(first["results"]) == 5
    assert "page=2" in first["next"] and first["next"].startswith(api.server.root_url)
    last = requests.get(first["next"].replace("page=2", "page=3"), headers=api.session.headers, timeout=10).json()
    assert len(last["results"]) == 3 and last["next"] is None and last["previous"]
    assert api("GET", "periodic-agents/", params={"page_size": 5, "page": 4}).status_code == 404

    by_title = api("GET", "periodic-agents/", params={"title": "Agent 03"}).json()
    assert [a["title"] for a in by_title["results"]] == ["Agent 03"]
    mine = api("GET", "periodic-agents/", params={"mentor_id": DEFAULT_MENTOR, "page_size": 100}).json()
    assert mine["count"] == 6
    api("PATCH", f"periodic-agents/{by_title['results'][0]['id']}/", json={"task": {"enabled": False}})
    assert api("GET", "periodic-agents/", params={"enabled": "false"}).json()["count"] == 1
    assert api("GET", "periodic-agents/", params={"search": "onboarding"}).json()["count"] == 1
    unknown = api("GET", "periodic-agents/", params={"mentor": DEFAULT_MENTOR})
    assert unknown.status_code == 400 and "mentor" in unknown.json()
    assert api("GET", "periodic-agents/", params={"status": "done"}).status_code == 400


def test_put_replaces_and_delete(api: Api) -> None:
    agent = api("POST", "periodic-agents/", json=body(description="old", pathway="p1")).json()
    put = api("PUT", f"periodic-agents/{agent['id']}/", json=body(title="New", task={"crontab": {"hour": "9"}}))
    assert put.status_code == 200
    assert put.json()["description"] == "" and put.json()["pathway"] is None and put.json()["title"] == "New"
    assert put.json()["task"]["crontab"]["day_of_week"] == "*"  # PUT replaces the whole crontab
    assert api("PUT", f"periodic-agents/{agent['id']}/", json={"title": "x"}).status_code == 400

    assert api("DELETE", f"periodic-agents/{agent['id']}/").status_code == 204
    assert api("GET", f"periodic-agents/{agent['id']}/").status_code == 404
    assert api("DELETE", f"periodic-agents/{agent['id']}/").status_code == 404


def test_scope_and_auth(api: Api) -> None:
    other = api.base.replace(f"/users/{api.server.username}/", "/users/someone/")
    assert api.session.get(other + "periodic-agents/", timeout=10).status_code == 403
    assert requests.get(api.base + "periodic-agents/", timeout=10).status_code == 401


def test_one_off_runs_once_then_disables(api: Api) -> None:
    now = datetime.now(timezone.utc).isoformat()
    agent = api("POST", "periodic-agents/", json=body(task={"crontab": {}, "one_off": True, "start_time": now})).json()
    running = wait_for(lambda: logs_of(api, agent["id"]))
    assert running[0]["status"] in ("running", "success")
    done = wait_for(lambda: [log for log in logs_of(api, agent["id"]) if log["status"] == "success"])
    assert done[0]["end_time"] and agent["title"] in done[0]["content"] and len(done[0]["content"]) > 200
    assert api("GET", f"periodic-agents/{agent['id']}/").json()["task"]["enabled"] is False
    time.sleep(0.3)
    assert len(logs_of(api, agent["id"])) == 1


def test_future_start_time_and_fail_marker(api: Api) -> None:
    start = (datetime.now(timezone.utc) + timedelta(seconds=0.6)).isoformat()
    task = {"crontab": {}, "one_off": True, "start_time": start}
    agent = api("POST", "periodic-agents/", json=body(prompt="Do it [fail]", task=task)).json()
    time.sleep(0.3)
    assert logs_of(api, agent["id"]) == []
    failed = wait_for(lambda: logs_of(api, agent["id"], status="error"), timeout=5)
    assert "[fail]" in failed[0]["content"]
    stats = api("GET", "periodic-agents/statistics/", params={"mentor_id": DEFAULT_MENTOR}).json()
    assert stats == {"total_tasks": 1, "succeeded_tasks": 0, "failed_tasks": 1, "running_tasks": 0,
                     "pending_tasks": 0}


def test_disabling_before_start_cancels_the_run(api: Api) -> None:
    start = (datetime.now(timezone.utc) + timedelta(seconds=0.4)).isoformat()
    task = {"crontab": {}, "one_off": True, "start_time": start}
    agent = api("POST", "periodic-agents/", json=body(task=task)).json()
    api("PATCH", f"periodic-agents/{agent['id']}/", json={"task": {"enabled": False}})
    time.sleep(0.8)
    assert logs_of(api, agent["id"]) == []


def test_logs_ordering_filters_and_controls(api: Api) -> None:
    agent = api("POST", "periodic-agents/", json=body()).json()
    first = api.server.run_agent_now(agent["id"])
    assert first["status"] == "running" and first["periodic_agent"] == agent["id"]
    control = requests.post(f"{api.server.root_url}/_fake/periodic-agents/{agent['id']}/run", timeout=10)
    assert control.status_code == 201
    second = control.json()
    assert requests.post(f"{api.server.root_url}/_fake/periodic-agents/999/run", timeout=10).status_code == 404

    newest_first = logs_of(api, agent["id"])
    assert [log["id"] for log in newest_first] == [second["id"], first["id"]]
    oldest_first = logs_of(api, agent["id"], ordering="created_at")
    assert [log["id"] for log in oldest_first] == [first["id"], second["id"]]
    wait_for(lambda: len(logs_of(api, agent["id"], status="success")) == 2)
    one = api("GET", f"periodic-agent-logs/{first['id']}/").json()
    assert one["status"] == "success" and one["periodic_agent"] == agent["id"]
    assert api("GET", "periodic-agent-logs/1/").status_code == 404
    assert api("GET", "periodic-agent-logs/", params={"status": "pending"}).status_code == 400
    assert api("GET", "periodic-agent-logs/", params={"ordering": "nope"}).status_code == 400
    searched = api("GET", "periodic-agent-logs/", params={"search": "onboarding"}).json()
    assert searched["count"] == 1 and searched["results"][0]["periodic_agent"] != agent["id"]
    assert api("GET", "periodic-agent-logs/", params={"mentor_id": DEFAULT_MENTOR}).json()["count"] == 2
    # A recurring agent stays enabled after a run; deleting it removes its logs.
    assert api("GET", f"periodic-agents/{agent['id']}/").json()["task"]["enabled"] is True
    api("DELETE", f"periodic-agents/{agent['id']}/")
    assert api("GET", "periodic-agent-logs/", params={"periodic_agent": agent["id"]}).json()["count"] == 0


def test_previous_agent_chain(api: Api) -> None:
    first = api("POST", "periodic-agents/", json=body(title="first")).json()
    on_success = api("POST", "periodic-agents/", json=body(title="then", previous_agent=first["id"],
                                                           previous_agent_status="success")).json()
    on_error = api("POST", "periodic-agents/", json=body(title="else", previous_agent=first["id"],
                                                         previous_agent_status="error")).json()
    api.server.run_agent_now(first["id"])
    wait_for(lambda: logs_of(api, on_success["id"], status="success"))
    assert logs_of(api, on_error["id"]) == []
    chained = api("GET", f"periodic-agents/{on_success['id']}/").json()
    assert chained["previous_agent_output"].startswith("Run ")
