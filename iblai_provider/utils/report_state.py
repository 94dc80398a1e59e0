"""Report run states (API reference §2.4) and the one place that decides what a status means.

:func:`evaluate` turns a run status into a :class:`Verdict`. The sensor's poke, the trigger, both
``execute_complete`` methods and the create operator's own wait all call it, so poke mode and
deferrable mode finish, fail and word their errors identically. The trigger's events carry only
the public projection of the status (:func:`public_status`, never the presigned ``url``), and the
task side re-evaluates that projection with the same function (:func:`resolve_event`).
"""

from __future__ import annotations

import logging
import re
import uuid
from enum import Enum
from typing import Any, NamedTuple

from iblai_provider._compat import AirflowException
from iblai_provider.exceptions import IblaiApiError, IblaiConfigError
from iblai_provider.hooks._retry import is_transient  # noqa: F401 - re-exported: the waits' "keep polling" rule

log = logging.getLogger(__name__)


class ReportState(str, Enum):
    """``ReportStatus.state`` values (``StateEnum`` of the API)."""

    PENDING = "pending"
    RUNNING = "running"
    ACCUMULATING = "accumulating"
    PROCESSING = "processing"
    STORING = "storing"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ERROR = "error"
    EXPIRED = "expired"


TERMINAL_SUCCESS = frozenset({ReportState.COMPLETED})
# ``expired`` means the result is gone: a new run has to be requested (POST /new again).
TERMINAL_FAILURE = frozenset({ReportState.CANCELLED, ReportState.ERROR, ReportState.EXPIRED})
IN_PROGRESS = frozenset(ReportState) - TERMINAL_SUCCESS - TERMINAL_FAILURE

# What a task returns (XCom) and what trigger events carry: no ``url`` (a presigned link is a secret).
PUBLIC_FIELDS = ("report_id", "report_name", "state", "started_on", "expires")

# Trigger event ``status`` values execute_complete accepts; anything else fails the task.
EVENT_STATUSES = frozenset({"success", "failed", "timeout", "error"})
TIMEOUT_REASONS = frozenset({"timeout", "execution_timeout"})


# Same shape as the report slugs the API routes (``/{report_name}``).
REPORT_NAME_RX = re.compile(r"[a-z0-9][a-z0-9_-]{0,127}\Z")


def check_report_name(value: object, param: str = "report_name") -> str:
    """The report slug, or :class:`IblaiConfigError` naming ``param``."""
    name = value.strip() if isinstance(value, str) else value
    if not isinstance(name, str) or not REPORT_NAME_RX.match(name):
        raise IblaiConfigError(
            f"{param} must be a report slug (lower-case letters, digits, '-' or '_'), "
            f"e.g. 'ai-mentor-chat-history'; got {value!r}"
        )
    return name


def check_mentor(value: object, param: str) -> str | None:
    """A mentor ``unique_id`` (UUID) or None, or :class:`IblaiConfigError` naming ``param``."""
    if value is None or value == "":
        return None
    text = value.strip() if isinstance(value, str) else value
    try:
        uuid.UUID(str(text))
    except ValueError:
        raise IblaiConfigError(f"{param} must be the mentor's unique_id (a UUID); got {value!r}") from None
    return str(text)


class IblaiReportError(AirflowException):
    """A report run ended in a failure state, or the wait for it could not be trusted."""


class IblaiReportTimeout(IblaiReportError):
    """The report did not finish before the operator's ``timeout``."""


def public_status(status: dict[str, Any] | None) -> dict[str, Any] | None:
    """The status without ``url`` (and other fields): ``report_id, report_name, state, started_on, expires``."""
    if not isinstance(status, dict):
        return None
    return {name: _text(status.get(name)) for name in PUBLIC_FIELDS}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def describe(report_name: str, mentor_unique_id: str | None) -> str:
    return f"Report {report_name!r}" + (f" for mentor {mentor_unique_id}" if mentor_unique_id else "")


class Verdict(NamedTuple):
    """What a status means for a waiting task.

    :param finished: the run reached a terminal state (success or failure).
    :param failed: the terminal state is a failure (``error``, ``cancelled``, ``expired``) or the
        status belongs to a different run than the one waited for.
    :param status: the public projection of the status (None if the report never ran).
    :param message: a human sentence; it is the exception text when ``failed``.
    """

    finished: bool
    failed: bool
    status: dict[str, Any] | None
    message: str

    @property
    def succeeded(self) -> bool:
        return self.finished and not self.failed

    def result(self) -> dict[str, Any]:
        """The public status of a successful run; raises :class:`IblaiReportError` on failure."""
        if self.failed:
            raise IblaiReportError(self.message)
        if not self.finished or self.status is None:
            raise IblaiReportError(f"internal error: result() of an unfinished report ({self.message})")
        return self.status


def evaluate(
    status: dict[str, Any] | None,
    report_name: str,
    mentor_unique_id: str | None = None,
    report_id: str | None = None,
) -> Verdict:
    """Decide what ``status`` (a full or public ``ReportStatus``) means.

    :param status: the latest run, as the hook returns it (None: the report never ran).
    :param report_name: the report waited for (for messages).
    :param mentor_unique_id: the mentor the run belongs to (for messages).
    :param report_id: when set, the run waited for; a status of another run fails closed, because
        the API reports only the latest run per report and mentor.
    """
    who = describe(report_name, mentor_unique_id)
    public = public_status(status)
    if public is None:
        return Verdict(False, False, None, f"{who} has no run yet; waiting.")
    raw_state, run = public["state"], public["report_id"]
    if report_id and run and run != report_id:
        return Verdict(
            True,
            True,
            public,
            f"{who}: the API now reports run {run} (state {raw_state!r}) instead of run {report_id}; another run "
            "of this report was requested meanwhile, and the API shows only the latest run per report and mentor.",
        )
    try:
        state = ReportState(raw_state)
    except ValueError:
        log.warning("%s run %s is in unknown state %r; treating it as still running until the timeout.",
                    who, run, raw_state)
        return Verdict(False, False, public, f"{who} run {run} is in unknown state {raw_state!r}.")
    if state in TERMINAL_SUCCESS:
        return Verdict(True, False, public, f"{who} run {run} completed.")
    if state in TERMINAL_FAILURE:
        return Verdict(
            True,
            True,
            public,
            f"{who} run {run} ended in state {state.value!r}; request the report again for a new run.",
        )
    return Verdict(False, False, public, f"{who} run {run} is {state.value}.")


def timeout_message(report_name: str, mentor_unique_id: str | None, reason: str, last: dict[str, Any] | None) -> str:
    """The text of a timeout, identical in poke mode, sync waits and deferrable mode."""
    limit = "the task's execution_timeout" if reason == "execution_timeout" else "the timeout"
    state = last.get("state") if last else None
    seen = f" (last state {state!r})" if state else " (no run seen)"
    return f"{describe(report_name, mentor_unique_id)} did not finish before {limit}{seen}."


# -- the trigger event contract -------------------------------------------------------------------


def verdict_event(verdict: Verdict) -> dict[str, Any]:
    """Event for a finished run: ``success`` or ``failed`` with the public status."""
    return {"status": "failed" if verdict.failed else "success", "message": verdict.message, "report": verdict.status}


def timeout_event(reason: str, message: str, last: dict[str, Any] | None) -> dict[str, Any]:
    return {"status": "timeout", "reason": reason, "message": message, "report": last}


def error_event(exc: BaseException) -> dict[str, Any]:
    """Event for a final error; API errors keep their parts so the task re-raises the same error."""
    event: dict[str, Any] = {"status": "error", "message": str(exc), "error": type(exc).__name__}
    if isinstance(exc, IblaiApiError):
        event["api_error"] = {"status": exc.status, "method": exc.method, "path": exc.path, "detail": exc.detail}
    return event


def resolve_event(
    event: Any,
    report_name: str,
    mentor_unique_id: str | None,
    report_id: str | None = None,
    *,
    timeout_errors: dict[str, type[BaseException]],
) -> dict[str, Any]:
    """Validate a trigger event against the allow-list and turn it into a result or an exception.

    Fails closed: an event that is not a dict, has an unknown ``status``, or whose report status
    does not agree with its ``status`` raises :class:`IblaiReportError`.

    :param timeout_errors: the exception class per timeout reason (``timeout``, ``execution_timeout``).
    """
    if not isinstance(event, dict) or event.get("status") not in EVENT_STATUSES:
        shown = event.get("status") if isinstance(event, dict) else type(event).__name__
        raise IblaiReportError(f"Unexpected trigger event for {describe(report_name, mentor_unique_id)}: {shown!r}")
    kind = event["status"]
    if kind in ("success", "failed"):
        report = event.get("report")
        if not isinstance(report, dict):
            raise IblaiReportError(f"Trigger event {kind!r} without a report status; refusing to guess.")
        verdict = evaluate(report, report_name, mentor_unique_id, report_id)
        if not verdict.finished or verdict.failed != (kind == "failed"):
            raise IblaiReportError(
                f"Trigger event {kind!r} disagrees with the report state {report.get('state')!r}; refusing to guess."
            )
        return verdict.result()
    if kind == "timeout":
        reason = event.get("reason")
        if reason not in TIMEOUT_REASONS:
            raise IblaiReportError(f"Trigger timeout event with unknown reason {reason!r}.")
        last = event.get("report") if isinstance(event.get("report"), dict) else None
        raise timeout_errors[reason](timeout_message(report_name, mentor_unique_id, reason, last))
    api_error = _api_error_from(event.get("api_error"))
    if api_error is not None:
        raise api_error
    if event.get("error") == "IblaiConfigError":
        raise IblaiConfigError(str(event.get("message")))
    raise IblaiReportError(str(event.get("message") or "the report trigger failed without a message"))


def _api_error_from(parts: Any) -> IblaiApiError | None:
    if not isinstance(parts, dict):
        return None
    try:
        return IblaiApiError(int(parts["status"]), str(parts["method"]), str(parts["path"]), str(parts["detail"]))
    except (KeyError, TypeError, ValueError):
        return None


def report_trigger_class() -> type:
    """``IblaiReportTrigger``, imported when a task defers: DAG parsing need not load Airflow's
    trigger machinery."""
    from iblai_provider.triggers.reports import IblaiReportTrigger

    return IblaiReportTrigger


def poll_once(hook: Any, name: str, mentor: str | None, run: str | None, logger: Any) -> Verdict | None:
    """One status read and its verdict, for the sync waits (poke mode, the operator's wait).

    None when a transient error outlived the hook's retries: the wait polls again until its
    deadline, as the trigger does. Any other error is raised.
    """
    try:
        status = hook.get_report_status(name, mentor)
    except Exception as exc:
        if not is_transient(exc):
            raise
        logger.warning("Report %r: %s; polling again until the timeout.", name, exc)
        return None
    return evaluate(status, name, mentor, run)
