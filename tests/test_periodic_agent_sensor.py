"""The run sensor in poke and deferrable mode, its trigger, and the log-listing hook methods."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from airflow.sdk.exceptions import TaskDeferred

from iblai_provider._compat import AirflowException, AirflowSensorTimeout, BaseHook
from iblai_provider.exceptions import IblaiConfigError
from iblai_provider.hooks.iblai import IblaiAsyncHook, IblaiHook
from iblai_provider.sensors.periodic_agents import IblaiPeriodicAgentRunSensor
from iblai_provider.testing import FakeIblaiServer
from iblai_provider.testing.agent_store import DEFAULT_MENTOR
from iblai_provider.triggers.periodic_agents import IblaiPeriodicAgentRunTrigger

LOGS = r"/periodic-agent-logs/$"


@pytest.fixture
def server(iblai_conn: FakeIblaiServer) -> FakeIblaiServer:
    iblai_conn.agent_run_seconds = 0.3
    return iblai_conn


def now() -> datetime:
    return datetime.now(timezone.utc)


def make_agent(server: FakeIblaiServer, prompt: str = "Summarise.", one_off: bool = False) -> int:
    task = {"crontab": {}, "one_off": one_off, "enabled": True}
    agent = server.state["agents"].create({"mentor": DEFAULT_MENTOR, "title": f"Agent {time.monotonic()}",
                                           "prompt": prompt, "task": task}, schedule=False)
    return agent["id"]


def sensor(agent_id: Any, **kwargs: Any) -> IblaiPeriodicAgentRunSensor:
    args = {"task_id": "wait", "poke_interval": 0.1, "timeout": 10, "content_chars": 40, "deferrable": False}
    args.update(kwargs)
    return IblaiPeriodicAgentRunSensor(agent_id=agent_id, **args)


async def run_trigger(trigger: IblaiPeriodicAgentRunTrigger) -> list[dict[str, Any]]:
    """Every event the trigger yields (it must be exactly one)."""
    return [event.payload async for event in trigger.run()]


def defer_and_resume(op: IblaiPeriodicAgentRunSensor) -> tuple[IblaiPeriodicAgentRunTrigger, dict[str, Any]]:
    """Run the sensor until it defers; return the trigger and its serialized kwargs."""
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({})
    assert deferred.value.method_name == "execute_complete" and deferred.value.timeout is None
    trigger = deferred.value.trigger
    path, kwargs = trigger.serialize()
    assert path == "iblai_provider.triggers.periodic_agents.IblaiPeriodicAgentRunTrigger"
    json.dumps(kwargs)  # JSON-only kwargs
    assert IblaiPeriodicAgentRunTrigger(**kwargs).serialize() == (path, kwargs)
    return trigger, kwargs


def test_poke_mode_success(server: FakeIblaiServer) -> None:
    agent_id = make_agent(server)
    started = now()
    server.call_later(0.3, lambda: server.state["agents"].start_run(agent_id))
    result = sensor(agent_id).execute({})  # after defaults to the sensor's start
    stored = server.state["agents"].logs[result["log_id"]]
    assert result["status"] == "success" and result["agent_id"] == agent_id
    assert result["content"] == stored["content"][:40] and len(stored["content"]) > 40
    assert result["start_time"] and result["end_time"]
    assert stored["created_at"] >= started
    assert len(server.requests_to(LOGS)) >= 2  # it waited: the run started after the first poke


def test_poke_mode_error_fails_with_excerpt(server: FakeIblaiServer) -> None:
    agent_id = make_agent(server, prompt="Break it [fail]")
    log = server.run_agent_now(agent_id)
    with pytest.raises(AirflowException, match=rf"run {log['id']} ended with status error: .*\[fail\]"):
        sensor(agent_id, after=log["created_at"], content_chars=0).execute({})


def test_deferrable_success_matches_poke_mode(server: FakeIblaiServer) -> None:
    agent_id = make_agent(server)
    after = now().isoformat()
    server.run_agent_now(agent_id)  # running for 0.3 s: the first poke sees no finished run
    op = sensor(agent_id, after=after, deferrable=True)
    trigger, kwargs = defer_and_resume(op)
    assert kwargs["agent_id"] == agent_id and kwargs["after"] == after
    assert kwargs["deadline"] > time.time() + 5  # absolute: now + timeout
    events = asyncio.run(run_trigger(trigger))
    assert len(events) == 1 and events[0]["status"] == "success"
    deferred_result = op.execute_complete({}, events[0])
    poke_result = sensor(agent_id, after=after).execute({})
    assert deferred_result == poke_result and deferred_result["status"] == "success"


async def test_deferrable_error_fails_like_poke_mode(server: FakeIblaiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("sync connection lookup inside the trigger")

    agent_id = make_agent(server, prompt="[fail] on purpose")
    after = now().isoformat()
    log = server.run_agent_now(agent_id)
    trigger = IblaiPeriodicAgentRunTrigger(agent_id=agent_id, after=after, deadline=time.time() + 10, poll_interval=0.1)
    with monkeypatch.context() as patch:
        patch.setattr(BaseHook, "get_connection", classmethod(forbidden))
        events = await run_trigger(trigger)
    assert len(events) == 1 and events[0]["status"] == "error" and events[0]["log_id"] == log["id"]
    with pytest.raises(AirflowException) as deferred_error:
        sensor(agent_id, after=after).execute_complete({}, events[0])
    with pytest.raises(AirflowException) as poke_error:
        sensor(agent_id, after=after).execute({})
    assert str(deferred_error.value) == str(poke_error.value)
    assert "ended with status error" in str(poke_error.value)


def test_deferrable_returns_without_deferring_when_already_done(server: FakeIblaiServer) -> None:
    agent_id = make_agent(server)
    log = server.run_agent_now(agent_id)
    time.sleep(0.5)
    result = sensor(agent_id, after=log["created_at"], deferrable=True).execute({})
    assert result["log_id"] == log["id"]


def test_runs_before_after_are_ignored(server: FakeIblaiServer) -> None:
    agent_id = make_agent(server)
    old = server.run_agent_now(agent_id)
    time.sleep(0.5)
    op = sensor(agent_id, after=now().isoformat())
    assert op.poke({}) is False
    new = server.run_agent_now(agent_id)
    time.sleep(0.5)
    assert op.poke({}).xcom_value["log_id"] == new["id"] != old["id"]


async def test_trigger_timeout_and_transient_errors(server: FakeIblaiServer) -> None:
    agent_id = make_agent(server)
    after = now().isoformat()
    started = time.monotonic()
    timeout = IblaiPeriodicAgentRunTrigger(agent_id=agent_id, after=after, deadline=time.time() + 0.4,
                                           poll_interval=0.1)
    events = await run_trigger(timeout)
    assert [e["status"] for e in events] == ["timeout"] and time.monotonic() - started < 3
    with pytest.raises(AirflowSensorTimeout):
        sensor(agent_id).execute_complete({}, events[0])

    server.faults.add(LOGS, "status", times=2, status=503)
    server.run_agent_now(agent_id)
    ok = IblaiPeriodicAgentRunTrigger(agent_id=agent_id, after=after, deadline=time.time() + 10, poll_interval=0.1)
    events = await run_trigger(ok)
    assert [e["status"] for e in events] == ["success"]

    server.faults.add(LOGS, "status", times=1, status=403, body={"detail": "Forbidden."})
    failed = await run_trigger(ok)
    assert [e["status"] for e in failed] == ["failed"] and "403" in failed[0]["message"]
    with pytest.raises(AirflowException, match="Could not read the runs"):
        sensor(agent_id).execute_complete({}, failed[0])


def test_poke_mode_timeout_and_retried_errors(server: FakeIblaiServer) -> None:
    agent_id = make_agent(server)
    with pytest.raises(AirflowSensorTimeout):
        sensor(agent_id, timeout=0.3).execute({})
    server.faults.add(LOGS, "status", times=2, status=502)
    log = server.run_agent_now(agent_id)
    assert sensor(agent_id, after=log["created_at"]).execute({})["log_id"] == log["id"]


@pytest.mark.parametrize(
    "event",
    [
        None,
        "success",
        {"status": "done", "agent_id": 41},
        {"status": "success", "agent_id": 999},
        {"status": "success", "agent_id": 41},  # keys missing
        {"status": "success", "agent_id": 41, "log_id": "9001", "start_time": None, "end_time": None,
         "created_at": None, "content": ""},
        {"status": "success", "agent_id": 41, "log_id": 9001, "start_time": None, "end_time": None,
         "created_at": None, "content": "", "extra": 1},
    ],
)
def test_execute_complete_fails_closed(event: Any) -> None:
    with pytest.raises(AirflowException):
        IblaiPeriodicAgentRunSensor(task_id="w", agent_id=41).execute_complete({}, event)


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [({"agent_id": "abc"}, "agent_id"), ({"after": "yesterday-ish"}, "after"),
     ({"content_chars": -1}, "content_chars")],
)
def test_bad_arguments_fail_before_any_request(server: FakeIblaiServer, kwargs: dict[str, Any], param: str) -> None:
    args = {"agent_id": 41, **kwargs}
    with pytest.raises(IblaiConfigError, match=param):
        sensor(**args, deferrable=True).execute({})
    assert server.requests == []


async def test_hook_lists_logs_with_filters(server: FakeIblaiServer) -> None:
    agent_id = make_agent(server)
    logs = [server.run_agent_now(agent_id) for _ in range(3)]
    time.sleep(0.5)
    hook = IblaiHook()
    found = hook.list_periodic_agent_logs(agent_id=agent_id, status="success", ordering="created_at",
                                          search="Agent", page_size=2)
    assert [log["id"] for log in found] == [log["id"] for log in logs]
    queries = [r.query for r in server.requests_to(LOGS)]
    assert queries[0] == {"periodic_agent": [str(agent_id)], "status": ["success"], "ordering": ["created_at"],
                          "search": ["Agent"], "page_size": ["2"]}
    assert queries[1]["page"] == ["2"] and len(queries) == 2
    assert hook.list_periodic_agent_logs(agent_id=agent_id, status="error") == []
    assert [log["id"] for log in hook.list_periodic_agent_logs(agent_id=agent_id, limit=1)] == [logs[-1]["id"]]
    newest = await IblaiAsyncHook().latest_periodic_agent_logs(agent_id, count=2)
    assert [log["id"] for log in newest] == [logs[2]["id"], logs[1]["id"]]


def test_after_default_in_reschedule_mode_uses_first_try(server: FakeIblaiServer) -> None:
    agent_id = make_agent(server)
    first_try = now() - timedelta(minutes=5)
    early = server.run_agent_now(agent_id)  # after the first try, before this reschedule
    time.sleep(0.5)

    class TI:
        def get_first_reschedule_date(self, context: Any) -> datetime:
            return first_try

    result = sensor(agent_id, mode="reschedule").execute({"ti": TI()})
    assert result["log_id"] == early["id"]


def test_evaluate_run_rule() -> None:
    from iblai_provider.triggers.periodic_agents import evaluate_run

    after = datetime(2026, 7, 1, 8, 0, tzinfo=timezone.utc)

    def log(log_id: int, minute: int, status: str, agent: int = 7) -> dict[str, Any]:
        return {"id": log_id, "periodic_agent": agent, "status": status, "content": "x" * 30,
                "created_at": f"2026-07-01T08:{minute:02d}:00Z", "start_time": None, "end_time": None}

    assert evaluate_run([log(1, 0, "running")], 7, after, 5) is None  # still running
    assert evaluate_run([log(1, 0, "success", agent=8)], 7, after, 5) is None  # another agent
    old = dict(log(1, 0, "success"), created_at="2026-07-01T07:59:59Z")
    assert evaluate_run([old], 7, after, 5) is None  # before `after`
    # The first run since `after` decides, even if a later one already finished differently.
    first = evaluate_run([log(3, 5, "success"), log(2, 1, "error")], 7, after, 5)
    assert first is not None and first["log_id"] == 2 and first["status"] == "error"
    assert len(first["content"]) == 30  # an error keeps its excerpt whatever content_chars says
    done = evaluate_run([log(3, 5, "success")], 7, after, 5)
    assert done is not None and done["content"] == "xxxxx"
    unknown = evaluate_run([log(4, 2, "cancelled")], 7, after, 5)
    assert unknown is not None and unknown["status"] == "error" and "cancelled" in unknown["content"]


@pytest.mark.parametrize("deferrable", [False, True])
def test_outage_longer_than_hook_retries_keeps_waiting(
    server: FakeIblaiServer, monkeypatch: pytest.MonkeyPatch, deferrable: bool
) -> None:
    conn = json.loads(server.connection_uri_json())
    conn["extra"]["max_retries"] = 1  # two attempts per call, so the outage outlasts them
    monkeypatch.setenv("AIRFLOW_CONN_IBLAI_DEFAULT", json.dumps(conn))
    agent_id = make_agent(server)
    after = now().isoformat()
    log = server.run_agent_now(agent_id)
    server.faults.add(LOGS, "status", times=5, status=503)
    op = sensor(agent_id, after=after, deferrable=deferrable)
    if deferrable:
        server.faults.add(LOGS, "status", times=2, status=503)  # the first poke: 2 failed attempts
        trigger, _ = defer_and_resume(op)
        events = asyncio.run(run_trigger(trigger))
        result = op.execute_complete({}, events[0])
    else:
        result = op.execute({})
    assert result["log_id"] == log["id"] and result["status"] == "success"
    assert len(server.requests_to(LOGS)) >= 6  # failed polls were retried by the hook, then polled again
    server.faults.add(LOGS, "status", times=1, status=404)
    with pytest.raises(AirflowException):  # a non-transient error still fails at once
        sensor(agent_id, after=after).execute({})
