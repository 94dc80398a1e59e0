"""Operator that requests a Data Reports run (``POST /api/reports/platforms/{org}/new``)."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from iblai_provider._compat import AirflowTaskTimeout, BaseOperator, default_deferrable
from iblai_provider.exceptions import IblaiConfigError
from iblai_provider.hooks.iblai import IblaiHook
from iblai_provider.utils.arguments import as_date, group_ids
from iblai_provider.utils.report_state import (
    IblaiReportError,
    IblaiReportTimeout,
    check_mentor,
    check_report_name,
    evaluate,
    poll_once,
    report_trigger_class,
    resolve_event,
    timeout_message,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from iblai_provider._compat import Context

DATE_RX = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
# The documented create fields that have no parameter of their own (API reference §2.2).
EXTRA_FIELDS = ("learner_id", "force", "filters", "departments", "sentiment", "topics")
# Fields that have a parameter: naming them in extra_params would bypass its validation.
PARAMETER_FOR = {
    "start_date": "from_date",
    "end_date": "to_date",
    "mentor": "mentor",
    "report_name": "report_name",
    "usergroup_ids": "usergroup_ids",
    "course_id": "course_id",
    "query": "query",
}


def _seconds(name: str, value: Any) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
        raise IblaiConfigError(f"{name} must be a positive number of seconds (or a timedelta); got {value!r}")
    return float(seconds)


class IblaiCreateReportOperator(BaseOperator):
    """Request a report run; optionally wait for it (polling, or deferred to the triggerer).

    Returns (XCom) the run's public status: ``report_id``, ``report_name``, ``state``,
    ``started_on``, ``expires`` — never the presigned download URL. All arguments are validated
    before any request, with one error naming the parameter.

    A task retry sends the same request again. The API answers a request for a report that is
    already pending, running or finished (and not expired) with that run's status instead of
    starting a new run, so a retry resumes the same run rather than duplicating it. A run that
    ended in ``error``/``cancelled``/``expired`` is not reused: the retry starts a fresh one.
    ``extra_params={"force": True}`` asks for a new run every time.

    :param report_name: the report slug, e.g. ``ai-mentor-chat-history`` (body ``report_name``).
    :param mentor: the mentor's ``unique_id`` (UUID) for mentor reports (body ``mentor``).
    :param from_date: first day of the report's range, ``YYYY-MM-DD`` or a date/datetime
        (body ``start_date``; named so because ``start_date`` is Airflow's own argument).
    :param to_date: last day of the range, not before ``from_date`` (body ``end_date``).
    :param usergroup_ids: integer user group ids (body ``usergroup_ids``).
    :param course_id: restrict to one course (body ``course_id``).
    :param query: a pandas ``DataFrame.query`` expression applied to the rows (body ``query``).
    :param extra_params: the other documented body fields, by their wire names: ``learner_id``,
        ``force``, ``filters``, ``departments``, ``sentiment``, ``topics``.
    :param wait_for_completion: wait until the run finishes; fail on ``error``/``cancelled``/``expired``.
    :param deferrable: wait in the triggerer (same trigger as
        :class:`~iblai_provider.sensors.reports.IblaiReportSensor`); defaults to
        ``[operators] default_deferrable``.
    :param poll_interval: seconds between status polls while waiting.
    :param timeout: seconds to wait for the run (``execution_timeout`` stays the task's hard limit,
        enforced while deferred too).
    :param iblai_conn_id: the ``iblai`` connection.
    """

    template_fields: Sequence[str] = (
        "report_name", "mentor", "from_date", "to_date", "usergroup_ids", "course_id", "query", "extra_params",
        "iblai_conn_id",
    )
    ui_color = "#d9ecf7"

    def __init__(
        self,
        *,
        report_name: str,
        mentor: str | None = None,
        from_date: str | date | None = None,
        to_date: str | date | None = None,
        usergroup_ids: list[int] | None = None,
        course_id: str | None = None,
        query: str | None = None,
        extra_params: dict[str, Any] | None = None,
        wait_for_completion: bool = False,
        deferrable: bool | None = None,
        poll_interval: float | timedelta = 30.0,
        timeout: float | timedelta = 7 * 24 * 3600.0,
        iblai_conn_id: str = IblaiHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.report_name = report_name
        self.mentor = mentor
        self.from_date = from_date
        self.to_date = to_date
        self.usergroup_ids = usergroup_ids
        self.course_id = course_id
        self.query = query
        self.extra_params = extra_params
        self.wait_for_completion = wait_for_completion
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.poll_interval = _seconds("poll_interval", poll_interval)
        self.timeout = _seconds("timeout", timeout)
        self.iblai_conn_id = iblai_conn_id

    @cached_property
    def hook(self) -> IblaiHook:
        return IblaiHook(self.iblai_conn_id)

    def build_body(self) -> dict[str, Any]:
        """The create request body from the (rendered) arguments; raises :class:`IblaiConfigError`."""
        body: dict[str, Any] = {"report_name": check_report_name(self.report_name)}
        mentor = check_mentor(self.mentor, "mentor")
        if mentor:
            body["mentor"] = mentor
        start, end = as_date("from_date", self.from_date), as_date("to_date", self.to_date)
        if start and end and end < start:
            raise IblaiConfigError(f"to_date ({end}) must not be before from_date ({start})")
        if start:
            body["start_date"] = start.isoformat()
        if end:
            body["end_date"] = end.isoformat()
        if self.usergroup_ids is not None:
            body["usergroup_ids"] = group_ids(self.usergroup_ids)
        for field in ("course_id", "query"):
            value = getattr(self, field)
            if value in (None, ""):
                continue
            if not isinstance(value, str):
                raise IblaiConfigError(f"{field} must be a string; got {value!r}")
            body[field] = value
        body.update(self._extra())
        return body

    def _extra(self) -> dict[str, Any]:
        extra = self.extra_params or {}
        if not isinstance(extra, dict):
            raise IblaiConfigError(f"extra_params must be a dict of {', '.join(EXTRA_FIELDS)}; got {extra!r}")
        for key in extra:
            if key in PARAMETER_FOR:
                raise IblaiConfigError(
                    f"extra_params[{key!r}] is not allowed: pass it as the operator parameter "
                    f"{PARAMETER_FOR[key]!r} instead"
                )
            if key not in EXTRA_FIELDS:
                raise IblaiConfigError(
                    f"extra_params[{key!r}] is not a documented report field; allowed: {', '.join(EXTRA_FIELDS)}"
                )
        return dict(extra)

    def execute(self, context: Context) -> dict[str, Any]:
        body = self.build_body()
        started_wall, started = time.time(), time.monotonic()
        name, mentor = body["report_name"], body.get("mentor")
        verdict = evaluate(self.hook.create_report(body), name, mentor)
        run = verdict.status["report_id"] if verdict.status else None
        if not run:
            raise IblaiReportError(f"The API answered the request for report {name!r} without a run status.")
        self.log.info("Requested report %r: %s", name, verdict.message)
        if verdict.finished:
            return verdict.result()
        if not self.wait_for_completion:
            return verdict.status  # type: ignore[return-value]
        if self.deferrable:
            self.defer(
                trigger=report_trigger_class().for_task(
                    self, started=started_wall, timeout=self.timeout, poll_interval=self.poll_interval,
                    report_name=name, mentor_unique_id=mentor, report_id=run,
                ),
                method_name="execute_complete",
                kwargs={"report_id": run},
                timeout=None,  # the trigger carries both deadlines
            )
        return self._wait(name, mentor, run, verdict.status, started + self.timeout)

    def _wait(
        self, name: str, mentor: str | None, run: str, last: dict[str, Any] | None, deadline: float
    ) -> dict[str, Any]:
        """Poll in the worker until the run finishes (same order and texts as the trigger)."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise IblaiReportTimeout(timeout_message(name, mentor, "timeout", last))
            time.sleep(min(self.poll_interval, remaining))
            verdict = poll_once(self.hook, name, mentor, run, self.log)
            if verdict is None:
                continue
            if verdict.finished:
                return verdict.result()
            last = verdict.status or last
            self.log.info("%s", verdict.message)

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, report_id: str | None = None
    ) -> dict[str, Any]:
        """Resume after the trigger: validate its event and finish like the sync wait would.

        :param report_id: the run requested before deferring (passed through the deferral).
        """
        body = self.build_body()
        return resolve_event(
            event,
            body["report_name"],
            body.get("mentor"),
            report_id,
            timeout_errors={"timeout": IblaiReportTimeout, "execution_timeout": AirflowTaskTimeout},
        )
