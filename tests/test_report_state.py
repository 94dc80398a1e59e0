"""The one evaluation function: every state, the public projection, and the event allow-list."""

from __future__ import annotations

import logging

import pytest

from iblai_provider._compat import AirflowTaskTimeout
from iblai_provider.exceptions import IblaiApiError, IblaiConfigError, IblaiTransportError
from iblai_provider.utils.report_state import (
    IN_PROGRESS,
    TERMINAL_FAILURE,
    TERMINAL_SUCCESS,
    IblaiReportError,
    IblaiReportTimeout,
    ReportState,
    error_event,
    evaluate,
    is_transient,
    public_status,
    resolve_event,
    timeout_event,
    verdict_event,
)

NAME, MENTOR = "ai-mentor-chat-history", "d17dc729-60fd-4363-81a0-f67d9318b03e"
RUN = "5f0c2a9e-0000-4000-8000-000000000001"
URL = "https://bucket.s3.amazonaws.com/r/5f0c.csv?X-Amz-Signature=deadbeefsecret"
TIMEOUTS = {"timeout": IblaiReportTimeout, "execution_timeout": AirflowTaskTimeout}


def status(state: str, **more: object) -> dict:
    return {"report_id": RUN, "report_name": NAME, "state": state, "started_on": "2026-06-01T10:00:00Z",
            "owner": "admin", "expires": "2026-06-08T10:00:00Z", "url": URL, "created_at": "x", **more}


def test_state_sets_partition_the_documented_enum() -> None:
    documented = {"pending", "running", "accumulating", "processing", "storing", "completed", "cancelled",
                  "error", "expired"}
    assert {s.value for s in ReportState} == documented
    assert {s.value for s in TERMINAL_SUCCESS} == {"completed"}
    assert {s.value for s in TERMINAL_FAILURE} == {"cancelled", "error", "expired"}
    assert {s.value for s in IN_PROGRESS} == {"pending", "running", "accumulating", "processing", "storing"}
    assert ReportState("error") == "error"  # a str Enum compares with the wire value


def test_public_status_drops_url_and_extras() -> None:
    public = public_status(status("completed"))
    assert public == {"report_id": RUN, "report_name": NAME, "state": "completed",
                      "started_on": "2026-06-01T10:00:00Z", "expires": "2026-06-08T10:00:00Z"}
    assert public_status(None) is None


@pytest.mark.parametrize("state", [s.value for s in ReportState])
def test_evaluate_every_state(state: str) -> None:
    verdict = evaluate(status(state), NAME, MENTOR)
    assert URL not in verdict.message and "deadbeef" not in repr(verdict)
    if state == "completed":
        assert verdict.succeeded and verdict.result()["state"] == "completed"
        assert "url" not in verdict.result()
    elif state in ("cancelled", "error", "expired"):
        assert verdict.finished and verdict.failed
        assert f"state '{state}'" in verdict.message and MENTOR in verdict.message
        with pytest.raises(IblaiReportError, match=f"ended in state '{state}'"):
            verdict.result()
    else:
        assert not verdict.finished and not verdict.failed
        assert state in verdict.message


def test_unknown_state_is_logged_and_treated_as_running(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        verdict = evaluate(status("queued-for-gpu"), NAME, MENTOR)
    assert not verdict.finished and not verdict.failed
    assert "unknown state 'queued-for-gpu'" in caplog.text


def test_no_run_yet_waits() -> None:
    verdict = evaluate(None, NAME, MENTOR)
    assert not verdict.finished and verdict.status is None and "no run yet" in verdict.message


def test_other_run_fails_closed() -> None:
    verdict = evaluate(status("completed", report_id="another-run"), NAME, MENTOR, report_id=RUN)
    assert verdict.failed and "another-run" in verdict.message and RUN in verdict.message


def test_transient_classification() -> None:
    assert is_transient(IblaiApiError(502, "GET", "/p", "bad gateway"))
    assert is_transient(IblaiApiError(429, "GET", "/p", "slow down"))
    assert is_transient(IblaiTransportError("reset"))
    assert not is_transient(IblaiApiError(401, "GET", "/p", "Invalid token."))
    assert not is_transient(IblaiApiError(404, "GET", "/p", "Not found."))
    assert not is_transient(IblaiConfigError("no key"))


@pytest.mark.parametrize("state", [s.value for s in ReportState if s in TERMINAL_SUCCESS | TERMINAL_FAILURE])
def test_events_resolve_exactly_like_the_verdict(state: str) -> None:
    verdict = evaluate(status(state), NAME, MENTOR)
    event = verdict_event(verdict)
    assert "url" not in event["report"]
    if verdict.failed:
        with pytest.raises(IblaiReportError) as direct:
            verdict.result()
        with pytest.raises(IblaiReportError) as resolved:
            resolve_event(event, NAME, MENTOR, timeout_errors=TIMEOUTS)
        assert str(resolved.value) == str(direct.value)
    else:
        assert resolve_event(event, NAME, MENTOR, timeout_errors=TIMEOUTS) == verdict.result()


@pytest.mark.parametrize(
    "event",
    [
        None,
        "success",
        {},
        {"status": "SUCCESS", "report": public_status(status("completed"))},
        {"status": "done", "report": public_status(status("completed"))},
        {"status": "success"},  # no report: refuse to guess
        {"status": "success", "report": public_status(status("running"))},  # claims success, is not
        {"status": "success", "report": public_status(status("error"))},
        {"status": "failed", "report": public_status(status("completed"))},  # claims failure, is not
        {"status": "timeout", "reason": "because"},
    ],
)
def test_execute_complete_event_allow_list_fails_closed(event: object) -> None:
    with pytest.raises(IblaiReportError):
        resolve_event(event, NAME, MENTOR, timeout_errors=TIMEOUTS)


def test_timeout_events_raise_the_callers_classes() -> None:
    last = public_status(status("running"))
    with pytest.raises(IblaiReportTimeout, match="did not finish before the timeout \\(last state 'running'\\)"):
        resolve_event(timeout_event("timeout", "m", last), NAME, MENTOR, timeout_errors=TIMEOUTS)
    with pytest.raises(AirflowTaskTimeout, match="execution_timeout"):
        resolve_event(timeout_event("execution_timeout", "m", None), NAME, MENTOR, timeout_errors=TIMEOUTS)


def test_error_events_rebuild_the_same_error() -> None:
    original = IblaiApiError(403, "GET", "/api/reports/platforms/acme/x", "You do not have permission.")
    with pytest.raises(IblaiApiError) as rebuilt:
        resolve_event(error_event(original), NAME, MENTOR, timeout_errors=TIMEOUTS)
    assert str(rebuilt.value) == str(original) and rebuilt.value.status == 403
    with pytest.raises(IblaiConfigError, match="no API key"):
        resolve_event(error_event(IblaiConfigError("no API key")), NAME, MENTOR, timeout_errors=TIMEOUTS)
    with pytest.raises(IblaiReportError, match="boom"):
        resolve_event(error_event(RuntimeError("boom")), NAME, MENTOR, timeout_errors=TIMEOUTS)
