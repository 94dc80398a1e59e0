"""IblaiReportTrigger against the fake server on loopback (real HTTP, the real async hook)."""

from __future__ import annotations

import inspect
import json
import time
from importlib import import_module

import pytest

from iblai_provider.testing.server import FakeIblaiServer
from iblai_provider.triggers.reports import IblaiReportTrigger
from tests.report_helpers import MENTOR, REPORT, collect_events, conn_json, create_run, log_text, poll_requests


def make_trigger(**overrides: object) -> IblaiReportTrigger:
    kwargs: dict = {"report_name": REPORT, "end_time": time.time() + 30, "mentor_unique_id": MENTOR,
                    "poll_interval": 0.05}
    kwargs.update(overrides)
    return IblaiReportTrigger(**kwargs)


def rebuild(trigger: IblaiReportTrigger) -> IblaiReportTrigger:
    """What the triggerer does: import the class path, call it with the (JSON round-tripped) kwargs."""
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    return getattr(import_module(module), name)(**json.loads(json.dumps(kwargs)))


def test_serialize_matches_init_exactly() -> None:
    trigger = make_trigger(report_id="r-1", execution_deadline=123.5, iblai_conn_id="other")
    classpath, kwargs = trigger.serialize()
    assert classpath == "iblai_provider.triggers.reports.IblaiReportTrigger"
    params = set(inspect.signature(IblaiReportTrigger.__init__).parameters) - {"self"}
    assert set(kwargs) == params
    assert json.loads(json.dumps(kwargs)) == kwargs  # JSON types only
    again = rebuild(trigger)
    assert again.serialize() == trigger.serialize()
    assert (again.report_id, again.execution_deadline, again.iblai_conn_id) == ("r-1", 123.5, "other")


async def test_rebuilt_trigger_behaves_the_same(iblai_conn: FakeIblaiServer) -> None:
    iblai_conn.report_polls = 2
    create_run(iblai_conn)
    original = make_trigger()
    first = await collect_events(original)
    create_run(iblai_conn, mentor=None)  # a second, independent run of the same shape
    twin_events = await collect_events(rebuild(make_trigger(mentor_unique_id=None)))
    assert [e.payload["status"] for e in first] == [e.payload["status"] for e in twin_events] == ["success"]
    assert first[0].payload["report"]["state"] == twin_events[0].payload["report"]["state"] == "completed"


async def test_one_success_event_after_several_polls(iblai_conn: FakeIblaiServer) -> None:
    iblai_conn.report_polls = 3
    run = create_run(iblai_conn)
    events = await collect_events(make_trigger(report_id=run["report_id"]))
    assert len(events) == 1
    payload = events[0].payload
    assert payload["status"] == "success"
    assert payload["report"] == {k: run[k] if k not in ("state", "expires") else payload["report"][k]
                                 for k in ("report_id", "report_name", "state", "started_on", "expires")}
    assert payload["report"]["state"] == "completed" and payload["report"]["expires"]
    assert "url" not in json.dumps(payload) and "X-Amz-Signature" not in json.dumps(payload)
    polls = poll_requests(iblai_conn)
    assert len(polls) == 3
    assert all(p.query == {"mentor_unique_id": [MENTOR]} and p.auth == "valid" for p in polls)


@pytest.mark.parametrize("outcome", ["error", "cancelled", "expired"])
async def test_failure_state_event(iblai_conn: FakeIblaiServer, outcome: str) -> None:
    iblai_conn.set_report_outcome(REPORT, outcome)
    iblai_conn.report_polls = 1
    create_run(iblai_conn)
    events = await collect_events(make_trigger())
    assert [e.payload["status"] for e in events] == ["failed"]
    assert events[0].payload["report"]["state"] == outcome
    assert f"ended in state '{outcome}'" in events[0].payload["message"]


async def test_deadline_gives_timeout_event(iblai_conn: FakeIblaiServer) -> None:
    iblai_conn.report_polls = 10_000
    create_run(iblai_conn)
    start = time.time()
    events = await collect_events(make_trigger(end_time=start + 0.6, poll_interval=0.25))
    elapsed = time.time() - start
    assert [e.payload["status"] for e in events] == ["timeout"]
    assert events[0].payload["reason"] == "timeout"
    assert "did not finish before the timeout (last state 'running')" in events[0].payload["message"]
    assert 0.6 <= elapsed < 2.0
    # It polled right at the deadline (woke early, not a full interval late): 0, 0.25, 0.5, 0.6 s.
    assert len(poll_requests(iblai_conn)) == 4


async def test_execution_deadline_first_gives_its_reason(iblai_conn: FakeIblaiServer) -> None:
    iblai_conn.report_polls = 10_000
    create_run(iblai_conn)
    now = time.time()
    events = await collect_events(make_trigger(end_time=now + 60, execution_deadline=now + 0.3, poll_interval=0.1))
    assert events[0].payload["status"] == "timeout" and events[0].payload["reason"] == "execution_timeout"
    assert "execution_timeout" in events[0].payload["message"]


@pytest.mark.parametrize(
    ("fault", "min_elapsed"),
    [
        ({"kind": "status", "status": 502, "times": 3}, 0.0),
        ({"kind": "retry_after", "retry_after": "1", "times": 1}, 1.0),
        ({"kind": "reset", "times": 2}, 0.0),
    ],
    ids=["502-burst", "429-retry-after", "connection-reset"],
)
async def test_transient_errors_still_succeed(iblai_conn: FakeIblaiServer, fault: dict, min_elapsed: float) -> None:
    iblai_conn.report_polls = 3
    create_run(iblai_conn)
    spec = dict(fault)
    iblai_conn.faults.add(r"/api/reports/platforms/acme/ai-mentor-chat-history\Z", spec.pop("kind"), **spec)
    start = time.monotonic()
    events = await collect_events(make_trigger())
    assert [e.payload["status"] for e in events] == ["success"]
    assert time.monotonic() - start >= min_elapsed  # Retry-After honoured, not hammered
    attempts = poll_requests(iblai_conn)
    assert len(attempts) == 3 + fault["times"]


async def test_keeps_polling_when_the_hook_gives_up_on_a_transient_error(
    iblai_server: FakeIblaiServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # No retries in the hook: each 503 reaches the trigger, which must wait on, not fail.
    monkeypatch.setenv("AIRFLOW_CONN_IBLAI_DEFAULT", conn_json(iblai_server, max_retries=0))
    iblai_server.report_polls = 2
    create_run(iblai_server)
    iblai_server.faults.add(r"ai-mentor-chat-history\Z", "status", status=503, times=3)
    events = await collect_events(make_trigger())
    assert [e.payload["status"] for e in events] == ["success"]
    assert len(poll_requests(iblai_server)) == 5
    logs = log_text(caplog, capsys)
    assert "503" in logs and "polling again until the deadline" in logs


async def test_wrong_key_is_an_error_event_without_the_key(
    iblai_server: FakeIblaiServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong = "f" * 64
    monkeypatch.setenv("AIRFLOW_CONN_IBLAI_DEFAULT", conn_json(iblai_server, api_key=wrong))
    events = await collect_events(make_trigger())
    assert [e.payload["status"] for e in events] == ["error"]
    payload = events[0].payload
    assert payload["api_error"]["status"] == 401 and "401" in payload["message"]
    logs = log_text(caplog, capsys)
    assert wrong not in json.dumps(payload) and wrong not in logs
    assert len(poll_requests(iblai_server)) == 1  # 401 is final: no retries


async def test_run_does_no_blocking_call(iblai_conn: FakeIblaiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sync connection lookup, ``requests`` and ``time.sleep`` all explode inside run(); it still succeeds."""
    import requests

    from iblai_provider._compat import BaseHook

    iblai_conn.report_polls = 3
    create_run(iblai_conn)

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("blocking call inside the trigger")

    monkeypatch.setattr(BaseHook, "get_connection", classmethod(forbidden))
    monkeypatch.setattr(requests.Session, "request", forbidden)
    monkeypatch.setattr(time, "sleep", forbidden)
    iblai_conn.faults.add(r"ai-mentor-chat-history\Z", "status", status=502, times=1)  # exercise the backoff too
    events = await collect_events(make_trigger())
    assert [e.payload["status"] for e in events] == ["success"]
