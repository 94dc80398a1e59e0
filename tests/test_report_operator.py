"""IblaiCreateReportOperator against the fake server: body, validation, waiting (sync and deferred), retries."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from importlib import import_module
from typing import Any

import pytest

from iblai_provider._compat import AirflowTaskTimeout, TaskDeferred
from iblai_provider.exceptions import IblaiApiError, IblaiConfigError
from iblai_provider.operators.reports import IblaiCreateReportOperator
from iblai_provider.testing.server import FakeIblaiServer
from iblai_provider.utils.report_state import IblaiReportError, IblaiReportTimeout
from tests.report_helpers import CREATE_PATH, MENTOR, REPORT, conn_json, log_text, poll_requests, run_trigger

TERMINAL = ["completed", "error", "cancelled", "expired"]
WAITING = ["pending", "running", "accumulating", "processing", "storing", "queued-for-gpu"]


def operator(**kwargs: Any) -> IblaiCreateReportOperator:
    args: dict[str, Any] = {"task_id": "create", "report_name": REPORT, "mentor": MENTOR,
                            "from_date": "2026-06-01", "to_date": "2026-06-02", "poll_interval": 0.05}
    args.update(kwargs)
    return IblaiCreateReportOperator(**args)


def run_sync(task: IblaiCreateReportOperator) -> tuple[Any, BaseException | None, TaskDeferred | None]:
    try:
        return task.execute({}), None, None
    except (Exception, AirflowTaskTimeout) as exc:  # noqa: BLE001 - the outcome under comparison
        return None, exc, None


def run_deferred(task: IblaiCreateReportOperator) -> tuple[Any, BaseException | None, TaskDeferred | None]:
    try:
        return task.execute({}), None, None
    except TaskDeferred as exc:
        deferred = exc
    classpath, kwargs = deferred.trigger.serialize()
    module, _, name = classpath.rpartition(".")
    event = run_trigger(getattr(import_module(module), name)(**json.loads(json.dumps(kwargs))))
    try:
        next_kwargs = {"event": event.payload, **(deferred.kwargs or {})}
        return task.resume_execution(deferred.method_name, next_kwargs, {}), None, deferred
    except (Exception, AirflowTaskTimeout) as exc:  # noqa: BLE001 - the outcome under comparison
        return None, exc, deferred


def test_body_and_result(iblai_conn: FakeIblaiServer) -> None:
    iblai_conn.report_polls = 0  # done at once: the create answer carries the presigned url
    result = operator(
        from_date=date(2026, 6, 1),
        to_date=datetime(2026, 6, 2, 23, 0, tzinfo=timezone.utc),
        usergroup_ids=[3, "7"],
        course_id="course-v1:acme+x+2026",
        query="message.str.len() > 0",
        extra_params={"sentiment": "negative", "topics": ["billing"], "force": False},
    ).execute({})
    (create,) = iblai_conn.requests_to(CREATE_PATH, "POST")
    assert create.json() == {
        "report_name": REPORT, "mentor": MENTOR, "start_date": "2026-06-01", "end_date": "2026-06-02",
        "usergroup_ids": [3, 7], "course_id": "course-v1:acme+x+2026", "query": "message.str.len() > 0",
        "sentiment": "negative", "topics": ["billing"], "force": False,
    }
    assert create.auth == "valid"
    assert set(result) == {"report_id", "report_name", "state", "started_on", "expires"}
    assert result["state"] == "completed" and result["expires"]
    assert "X-Amz-Signature" not in json.dumps(result)


def test_without_wait_returns_the_pending_run(iblai_conn: FakeIblaiServer) -> None:
    iblai_conn.report_polls = 3
    result = operator().execute({})
    assert result["state"] == "pending" and result["report_id"]
    assert poll_requests(iblai_conn) == []


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"report_name": "Chat History!"}, "report_name"),
        ({"report_name": None}, "report_name"),
        ({"mentor": "mentor-42"}, "mentor"),
        ({"from_date": "2026/06/01"}, "from_date"),
        ({"from_date": "2026-02-30"}, "from_date"),
        ({"to_date": 20260602}, "to_date"),
        ({"from_date": "2026-06-03", "to_date": "2026-06-02"}, "to_date"),
        ({"usergroup_ids": ["admins"]}, "usergroup_ids"),
        ({"usergroup_ids": [True]}, "usergroup_ids"),
        ({"usergroup_ids": {"a": 1}}, "usergroup_ids"),
        ({"course_id": 42}, "course_id"),
        ({"query": ["a > 1"]}, "query"),
        ({"extra_params": ["force"]}, "extra_params"),
        ({"extra_params": {"start_date": "2026-06-01"}}, "extra_params['start_date']"),
        ({"extra_params": {"colour": "blue"}}, "extra_params['colour']"),
    ],
)
def test_bad_arguments_fail_before_any_request(iblai_conn: FakeIblaiServer, kwargs: dict, param: str) -> None:
    with pytest.raises(IblaiConfigError) as err:
        operator(**kwargs).execute({})
    assert str(err.value).startswith(param), str(err.value)
    assert iblai_conn.requests == []


def test_extra_params_error_points_to_the_parameter(iblai_conn: FakeIblaiServer) -> None:
    with pytest.raises(IblaiConfigError, match="pass it as the operator parameter 'from_date'"):
        operator(extra_params={"start_date": "2026-06-01"}).execute({})
    with pytest.raises(IblaiConfigError, match="allowed: learner_id, force, filters, departments, sentiment, topics"):
        operator(extra_params={"colour": "blue"}).execute({})


@pytest.mark.parametrize(("kwargs", "param"), [({"poll_interval": 0}, "poll_interval"), ({"timeout": -5}, "timeout")])
def test_bad_wait_settings_fail_at_construction(kwargs: dict, param: str) -> None:
    with pytest.raises(IblaiConfigError, match=f"^{param} must be a positive number"):
        operator(**kwargs)


def test_templated_arguments_render(iblai_conn: FakeIblaiServer) -> None:
    iblai_conn.report_polls = 0
    task = operator(
        from_date="{{ day }}", to_date="{{ day }}", mentor="{{ mentor }}", extra_params={"topics": "{{ t }}"}
    )
    task.render_template_fields({"day": "2026-07-04", "mentor": MENTOR, "t": "refunds"})
    task.execute({})
    body = iblai_conn.requests_to(CREATE_PATH, "POST")[0].json()
    assert (body["start_date"], body["end_date"], body["mentor"], body["topics"]) == (
        "2026-07-04", "2026-07-04", MENTOR, "refunds")


@pytest.mark.parametrize("state", TERMINAL + WAITING)
def test_sync_wait_and_deferred_wait_parity(iblai_conn: FakeIblaiServer, state: str) -> None:
    iblai_conn.set_report_outcome(REPORT, state)
    iblai_conn.report_polls = 2 if state in TERMINAL else 0
    timeout = 30 if state in TERMINAL else 0.6
    value_s, err_s, _ = run_sync(operator(wait_for_completion=True, deferrable=False, timeout=timeout))
    value_d, err_d, deferred = run_deferred(
        operator(wait_for_completion=True, deferrable=True, timeout=timeout, from_date="2026-06-02")
    )
    assert deferred is not None and deferred.timeout is None
    runs = list(iblai_conn.state["reports"].runs)  # one per mode (different from_date)
    assert len(runs) == 2

    def norm(value: Any, err: BaseException | None) -> tuple:
        if err is not None:
            text = str(err)
            for rid in runs:
                text = text.replace(rid, "<run>")
            return type(err).__name__, text
        return value["report_name"], value["state"], value["report_id"] in runs, "url" not in value

    assert norm(value_s, err_s) == norm(value_d, err_d)
    if state == "completed":
        assert value_s["state"] == "completed"
    elif state in TERMINAL:
        assert isinstance(err_s, IblaiReportError) and f"ended in state '{state}'" in str(err_s)
    else:
        assert isinstance(err_d, IblaiReportTimeout)
        assert f"did not finish before the timeout (last state '{state}')" in str(err_d)


def test_retry_reuses_the_pending_run(iblai_conn: FakeIblaiServer) -> None:
    """A task retry posts again; the API hands back the same run, so no duplicate is started."""
    iblai_conn.report_polls = 3
    with pytest.raises(TaskDeferred) as first_try:
        operator(wait_for_completion=True, deferrable=True).execute({})
    first_run = first_try.value.kwargs["report_id"]
    # try 1 dies while deferred; try 2 runs execute() from the start
    value, err, deferred = run_deferred(operator(wait_for_completion=True, deferrable=True))
    assert err is None and deferred is not None
    assert deferred.kwargs["report_id"] == first_run == value["report_id"]
    assert value["state"] == "completed"
    assert len(iblai_conn.requests_to(CREATE_PATH, "POST")) == 2
    assert list(iblai_conn.state["reports"].runs) == [first_run]


def test_retry_after_a_failed_run_starts_a_new_one(iblai_conn: FakeIblaiServer) -> None:
    iblai_conn.report_polls = 1
    iblai_conn.set_report_outcome(REPORT, "error")
    with pytest.raises(IblaiReportError, match="ended in state 'error'"):
        operator(wait_for_completion=True).execute({})
    iblai_conn.set_report_outcome(REPORT, "completed")
    result = operator(wait_for_completion=True).execute({})
    assert result["state"] == "completed"
    assert len(iblai_conn.state["reports"].runs) == 2


def test_sync_wait_polls_with_the_mentor(iblai_conn: FakeIblaiServer) -> None:
    iblai_conn.report_polls = 3
    result = operator(wait_for_completion=True).execute({})
    assert result["state"] == "completed"
    polls = poll_requests(iblai_conn)
    assert len(polls) == 3 and all(p.query == {"mentor_unique_id": [MENTOR]} for p in polls)
    assert all(r.auth == "valid" for r in iblai_conn.requests)


def test_deferred_wait_hands_the_run_to_the_trigger(iblai_conn: FakeIblaiServer) -> None:
    iblai_conn.report_polls = 3
    with pytest.raises(TaskDeferred) as deferred:
        operator(wait_for_completion=True, deferrable=True, poll_interval=4, timeout=900).execute({})
    trigger = deferred.value.trigger
    assert trigger.report_id == deferred.value.kwargs["report_id"]
    assert (trigger.mentor_unique_id, trigger.poll_interval, trigger.execution_deadline) == (MENTOR, 4.0, None)
    assert poll_requests(iblai_conn) == []  # the create answer was the first look


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_wrong_key_fails_naming_401_without_the_key(
    iblai_server: FakeIblaiServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str], deferrable: bool,
) -> None:
    wrong = "c" * 64
    monkeypatch.setenv("AIRFLOW_CONN_IBLAI_DEFAULT", conn_json(iblai_server, api_key=wrong))
    with pytest.raises(IblaiApiError) as err:
        operator(wait_for_completion=True, deferrable=deferrable).execute({})
    assert err.value.status == 401 and "401" in str(err.value) and "POST" in str(err.value)
    assert wrong not in str(err.value) and wrong not in log_text(caplog, capsys)
    assert [r.auth for r in iblai_server.requests] == ["invalid"]
