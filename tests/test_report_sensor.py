"""IblaiReportSensor: poke mode and deferrable mode give the same result and the same error text.

The deferrable path is run the way Airflow runs it: ``execute`` raises TaskDeferred, the trigger
is rebuilt from its own ``serialize()``, run to its first event in a fresh event loop, and the
task resumes through ``resume_execution`` (Airflow's entry point) into ``execute_complete``.
"""

from __future__ import annotations

import time
from datetime import timedelta
from importlib import import_module
from typing import Any

import pytest

from iblai_provider._compat import AirflowSensorTimeout, AirflowTaskTimeout, TaskDeferred
from iblai_provider.exceptions import IblaiApiError, IblaiConfigError
from iblai_provider.sensors.reports import IblaiReportSensor
from iblai_provider.testing.server import FakeIblaiServer
from iblai_provider.utils.report_state import IblaiReportError
from tests.report_helpers import MENTOR, REPORT, conn_json, create_run, log_text, poll_requests, run_trigger

UNKNOWN = "queued-for-gpu"
TERMINAL = ["completed", "error", "cancelled", "expired"]
WAITING = ["pending", "running", "accumulating", "processing", "storing", UNKNOWN]


def sensor(**kwargs: Any) -> IblaiReportSensor:
    args: dict[str, Any] = {"task_id": "wait", "report_name": REPORT, "mentor_unique_id": MENTOR,
                            "poke_interval": 0.05, "timeout": 30}
    args.update(kwargs)
    return IblaiReportSensor(**args)


class Outcome:
    """What a task run ended with: a return value or an exception, and whether it deferred."""

    def __init__(self, fn: Any) -> None:
        self.deferred: TaskDeferred | None = None
        self.value: Any = None
        self.error: BaseException | None = None
        try:
            self.value = fn(self)
        except (Exception, AirflowTaskTimeout) as exc:  # noqa: BLE001 - the outcome under comparison
            self.error = exc

    def normalized(self, run_ids: list[str]) -> tuple[Any, ...]:
        """Result/error with run ids and timestamps masked: the two modes use two runs."""
        if self.error is not None:
            text = str(self.error)
            for rid in run_ids:
                text = text.replace(rid, "<run>")
            return ("error", type(self.error).__name__, text)
        value = dict(self.value)
        assert set(value) == {"report_id", "report_name", "state", "started_on", "expires"}
        assert value["report_id"] in run_ids
        return ("ok", value["report_name"], value["state"], bool(value["expires"]))


def run_poke(task: IblaiReportSensor) -> Outcome:
    return Outcome(lambda outcome: task.execute({}))


def run_deferrable(task: IblaiReportSensor) -> Outcome:
    def go(outcome: Outcome) -> Any:
        try:
            return task.execute({})
        except TaskDeferred as exc:
            outcome.deferred = deferred = exc
        classpath, kwargs = deferred.trigger.serialize()
        module, _, name = classpath.rpartition(".")
        event = run_trigger(getattr(import_module(module), name)(**kwargs))
        next_kwargs = {"event": event.payload, **(deferred.kwargs or {})}
        return task.resume_execution(deferred.method_name, next_kwargs, {})

    return Outcome(go)


@pytest.mark.parametrize("state", TERMINAL + WAITING)
def test_poke_and_deferrable_parity(iblai_conn: FakeIblaiServer, state: str) -> None:
    """Every state: same return value or same exception class and text in both modes."""
    iblai_conn.set_report_outcome(REPORT, state)
    # Terminal states finish on the 2nd poll, so the deferrable sensor defers first and the trigger
    # sees the end; waiting states never end and both modes hit the same 0.6 s timeout.
    iblai_conn.report_polls = 2 if state in TERMINAL else 0
    timeout = 30 if state in TERMINAL else 0.6
    run_a = create_run(iblai_conn, start_date="2026-06-01")["report_id"]
    poke = run_poke(sensor(timeout=timeout, poke_interval=0.2))
    run_b = create_run(iblai_conn, start_date="2026-06-02")["report_id"]  # a fresh run, now the latest
    deferrable = run_deferrable(sensor(timeout=timeout, poke_interval=0.2, deferrable=True))

    assert deferrable.deferred is not None, "the sensor should have deferred"
    assert poke.normalized([run_a, run_b]) == deferrable.normalized([run_a, run_b])
    if state == "completed":
        assert poke.value["report_id"] == run_a and deferrable.value["report_id"] == run_b
    elif state in TERMINAL:
        assert isinstance(poke.error, IblaiReportError)
        assert f"ended in state '{state}'" in str(poke.error) and MENTOR in str(poke.error)
    else:
        assert isinstance(poke.error, AirflowSensorTimeout) and isinstance(deferrable.error, AirflowSensorTimeout)
        expected_state = state
        assert f"did not finish before the timeout (last state '{expected_state}')" in str(deferrable.error)


def test_finished_report_never_defers(iblai_conn: FakeIblaiServer) -> None:
    iblai_conn.report_polls = 0
    run = create_run(iblai_conn)
    outcome = run_deferrable(sensor(deferrable=True))
    assert outcome.deferred is None and outcome.error is None
    assert outcome.value["report_id"] == run["report_id"] and outcome.value["state"] == "completed"
    assert "url" not in outcome.value
    assert len(poll_requests(iblai_conn)) == 1


def test_defers_without_timeout_and_hands_over_absolute_deadlines(iblai_conn: FakeIblaiServer) -> None:
    iblai_conn.report_polls = 5
    create_run(iblai_conn)
    task = sensor(deferrable=True, timeout=3600, poke_interval=7, execution_timeout=timedelta(minutes=10))
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        task.execute({})
    after = time.time()
    assert deferred.value.timeout is None
    assert deferred.value.method_name == "execute_complete"
    trigger = deferred.value.trigger
    assert before + 3600 <= trigger.end_time <= after + 3600
    assert before + 600 <= trigger.execution_deadline <= after + 600
    assert trigger.poll_interval == 7 and trigger.mentor_unique_id == MENTOR
    assert len(poll_requests(iblai_conn)) == 1  # exactly one poke before deferring


def test_execution_timeout_is_honoured_while_deferred(iblai_conn: FakeIblaiServer) -> None:
    iblai_conn.report_polls = 10_000
    create_run(iblai_conn)
    started = time.monotonic()
    outcome = run_deferrable(
        sensor(deferrable=True, timeout=600, poke_interval=0.1, execution_timeout=timedelta(seconds=0.5))
    )
    assert outcome.deferred is not None
    assert isinstance(outcome.error, AirflowTaskTimeout), outcome.error
    assert "execution_timeout" in str(outcome.error)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferrable"])
def test_wrong_key_fails_naming_401_without_the_key(
    iblai_server: FakeIblaiServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str], deferrable: bool,
) -> None:
    wrong = "e" * 64
    monkeypatch.setenv("AIRFLOW_CONN_IBLAI_DEFAULT", conn_json(iblai_server, api_key=wrong))
    run = run_deferrable if deferrable else run_poke
    outcome = run(sensor(deferrable=deferrable))
    assert isinstance(outcome.error, IblaiApiError) and outcome.error.status == 401
    assert "401" in str(outcome.error) and wrong not in str(outcome.error)
    assert wrong not in log_text(caplog, capsys)
    assert [r.auth for r in iblai_server.requests] == ["invalid"]  # final: no retry, no deferral


def test_wrong_key_same_text_in_both_modes(iblai_server: FakeIblaiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_IBLAI_DEFAULT", conn_json(iblai_server, api_key="d" * 64))
    assert str(run_poke(sensor()).error) == str(run_deferrable(sensor(deferrable=True)).error)


def test_transient_errors_in_poke_mode(
    iblai_server: FakeIblaiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # max_retries=0: the 503s reach the sensor, which keeps poking instead of failing.
    monkeypatch.setenv("AIRFLOW_CONN_IBLAI_DEFAULT", conn_json(iblai_server, max_retries=0))
    iblai_server.report_polls = 2
    create_run(iblai_server)
    iblai_server.faults.add(r"ai-mentor-chat-history\Z", "status", status=503, times=2)
    iblai_server.faults.add(r"ai-mentor-chat-history\Z", "retry_after", retry_after="0", times=1)
    outcome = run_poke(sensor())
    assert outcome.error is None and outcome.value["state"] == "completed"
    assert len(poll_requests(iblai_server)) == 5


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"report_name": "Not A Slug"}, "report_name"),
        ({"report_name": ""}, "report_name"),
        ({"mentor_unique_id": "mentor-42"}, "mentor_unique_id"),
    ],
)
@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferrable"])
def test_bad_arguments_fail_before_any_request(
    iblai_conn: FakeIblaiServer, kwargs: dict, param: str, deferrable: bool
) -> None:
    outcome = (run_deferrable if deferrable else run_poke)(sensor(deferrable=deferrable, **kwargs))
    assert isinstance(outcome.error, IblaiConfigError)
    assert str(outcome.error).startswith(param)
    assert iblai_conn.requests == []


@pytest.mark.parametrize("event", [None, {"status": "success"}, {"status": "weird"}, {"status": "failed"}])
def test_execute_complete_fails_closed(iblai_conn: FakeIblaiServer, event: Any) -> None:
    with pytest.raises(IblaiReportError):
        sensor(deferrable=True).resume_execution("execute_complete", {"event": event}, {})
