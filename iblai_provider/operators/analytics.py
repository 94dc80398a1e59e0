"""Operators that read ibl.ai analytics, transcripts, learner data and mentor audit logs.

Results go to XCom when small (``max_xcom_bytes``, 1 MiB by default) or, with ``dest``, stream
page by page into an :class:`ObjectStoragePath` as JSON lines or CSV, written atomically; the
operator then returns ``{"uri": ..., "records": ...}``. Every argument is checked against the
endpoint catalogue before any request. Costs and other decimals stay exact, never floats: files
keep the API's digits, and XCom gets numbers with a fraction as exact strings (Airflow's XCom
serialiser would pass a Decimal through float).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from iblai_provider._compat import BaseOperator, Context
from iblai_provider.exceptions import IblaiConfigError
from iblai_provider.hooks.iblai import IblaiHook
from iblai_provider.utils.analytics_params import AnalyticsRequest, as_date, build_analytics_request, build_audit_query
from iblai_provider.utils.records_sink import (
    DEFAULT_MAX_XCOM_BYTES,
    FORMATS,
    collect_for_xcom,
    dest_path,
    write_records,
)


def _templated(*values: Any) -> bool:
    """Whether any value still holds Jinja (then checks wait for the rendered values)."""
    text = repr(values)
    return "{{" in text or "{%" in text


class _IblaiRecordsOperator(BaseOperator):
    """Shared skeleton: validate, read records through the hook, return them or stream them to ``dest``.

    :param dest: object URI to write to (``file:///...``, ``s3://bucket/key``); None returns
        the result through XCom.
    :param dest_conn_id: Airflow connection for ``dest``'s storage (e.g. an ``aws`` connection).
    :param output_format: ``jsonl`` (one JSON object a line) or ``csv`` (header from the first record).
    :param max_xcom_bytes: largest result returned through XCom; past it the task fails and asks for ``dest``.
    :param overwrite: replace an object already at ``dest`` (default: a re-run of a date refreshes
        its snapshot); False fails instead and leaves it untouched.
    :param iblai_conn_id: the ``iblai`` connection.
    """

    template_fields: Sequence[str] = ("dest",)
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        dest: Any = None,
        dest_conn_id: str | None = None,
        output_format: str = "jsonl",
        max_xcom_bytes: int = DEFAULT_MAX_XCOM_BYTES,
        overwrite: bool = True,
        iblai_conn_id: str = IblaiHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if output_format not in FORMATS:
            raise IblaiConfigError(f"output_format must be one of {', '.join(FORMATS)}; got {output_format!r}")
        if isinstance(max_xcom_bytes, bool) or not isinstance(max_xcom_bytes, int) or max_xcom_bytes < 1:
            raise IblaiConfigError(f"max_xcom_bytes must be a positive integer (bytes); got {max_xcom_bytes!r}")
        if not isinstance(overwrite, bool):
            raise IblaiConfigError(f"overwrite must be True or False; got {overwrite!r}")
        self.dest = dest
        self.overwrite = overwrite
        self.dest_conn_id = dest_conn_id
        self.output_format = output_format
        self.max_xcom_bytes = max_xcom_bytes
        self.iblai_conn_id = iblai_conn_id

    def validate(self) -> Any:
        """Check the (rendered) arguments; return what :meth:`records` needs. Raises before any request."""
        raise NotImplementedError

    def records(self, hook: IblaiHook, plan: Any) -> Iterator[Any]:
        raise NotImplementedError

    def single_result(self, plan: Any) -> bool:
        """Whether the result is one body (returned as is) rather than a list of records."""
        return False

    def execute(self, context: Context) -> Any:
        plan = self.validate()
        target = dest_path(self.dest, self.dest_conn_id) if self.dest is not None else None
        hook = IblaiHook(iblai_conn_id=self.iblai_conn_id)
        records = self.records(hook, plan)
        if target is not None:
            return write_records(records, target, self.output_format, overwrite=self.overwrite)
        return collect_for_xcom(records, self.max_xcom_bytes, single=self.single_result(plan))


class IblaiAnalyticsOperator(_IblaiRecordsOperator):
    """Read any analytics endpoint of the catalogue (API reference §4, §8), org-wide or for one agent.

    :param endpoint: the path below ``/api/analytics/`` as the API reference spells it, e.g.
        ``"users/"``, ``"users/details/"``, ``"financial/details/"``, ``"learner/details"``.
    :param query_params: the endpoint's other query params (``metric``, ``group_by``,
        ``granularity``, ``limit``...), checked against the catalogue. ``platform_key``
        defaults to the connection's org; pass ``{"platform_key": None}`` to send none.
    :param mentor_unique_id: one agent (wire ``mentor_unique_id``); None for platform scope.
    :param date_filter: wire ``date_filter``: ``today``, ``7d``, ``30d``, ``90d``, ``all_time`` or
        ``custom`` (needs ``from_date`` and ``to_date``). Not sent to endpoints without it.
    :param from_date: first day, wire ``start_date`` (``YYYY-MM-DD``, date or datetime; templated).
    :param to_date: last day, wire ``end_date``.
    :param usergroup_ids: user groups (ints), sent as repeated ``usergroup_ids`` keys.
    :param content_id: the id in ``content/details/{content_id}/``.
    :param all_pages: read every page of a paginated endpoint (records are the page items);
        False sends one request and returns its whole body (``query_params["page"]`` allowed).
    """

    template_fields: Sequence[str] = (
        "query_params",
        "mentor_unique_id",
        "date_filter",
        "from_date",
        "to_date",
        "usergroup_ids",
        "content_id",
        "dest",
    )
    template_fields_renderers = {"query_params": "json"}

    def __init__(
        self,
        *,
        endpoint: str,
        query_params: Mapping[str, Any] | None = None,
        mentor_unique_id: str | None = None,
        date_filter: str = "30d",
        from_date: Any = None,
        to_date: Any = None,
        usergroup_ids: Sequence[int | str] | None = None,
        content_id: str | None = None,
        all_pages: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(all_pages, bool):
            raise IblaiConfigError(f"all_pages must be True or False; got {all_pages!r}")
        self.endpoint = endpoint
        self.query_params = dict(query_params or {})
        self.mentor_unique_id = mentor_unique_id
        self.date_filter = date_filter
        self.from_date = from_date
        self.to_date = to_date
        self.usergroup_ids = usergroup_ids
        self.content_id = content_id
        self.all_pages = all_pages
        if not _templated(
            self.query_params, mentor_unique_id, date_filter, from_date, to_date, usergroup_ids, content_id
        ):
            self.validate()  # fail when the DAG is parsed, not at run time, when nothing is templated

    def validate(self) -> AnalyticsRequest:
        return build_analytics_request(
            self.endpoint,
            query_params=self.query_params,
            mentor_unique_id=self.mentor_unique_id,
            date_filter=self.date_filter,
            from_date=self.from_date,
            to_date=self.to_date,
            usergroup_ids=self.usergroup_ids,
            content_id=self.content_id,
            all_pages=self.all_pages,
        )

    def single_result(self, plan: AnalyticsRequest) -> bool:
        return not (plan.endpoint.pagination and self.all_pages)

    def records(self, hook: IblaiHook, plan: AnalyticsRequest) -> Iterator[Any]:
        if self.single_result(plan):
            yield hook.analytics(plan.endpoint.key, plan.query, content_id=plan.content_id)
        else:
            yield from hook.iter_analytics(plan.endpoint.key, plan.query, content_id=plan.content_id)


class IblaiTranscriptsToObjectStorageOperator(IblaiAnalyticsOperator):
    """Every transcript in a window (``messages/`` list, then ``messages/details/`` per session) as JSON lines.

    Each line is the conversation list item plus its ``messages`` (``[{"human", "ai"}]``).
    Memory holds one list page and one transcript.

    :param from_date: first day (wire ``start_date``), required.
    :param to_date: last day (wire ``end_date``), required.
    :param query_params: list filters: ``search``, ``sentiment``, ``topic``, ``min_messages``, ``max_messages``.
    :param page_size: list page size (wire ``limit``, at most 100).
    """

    def __init__(
        self,
        *,
        from_date: Any,
        to_date: Any,
        dest: Any,
        query_params: Mapping[str, Any] | None = None,
        page_size: int = 100,
        **kwargs: Any,
    ) -> None:
        if from_date is None or to_date is None:
            raise IblaiConfigError("from_date and to_date are both required: the transcript window (YYYY-MM-DD)")
        if dest is None:
            raise IblaiConfigError("dest is required: transcripts go to object storage, e.g. 'file:///data/t.jsonl'")
        kwargs.pop("endpoint", None)
        super().__init__(
            endpoint="messages/",
            query_params={**(query_params or {}), "limit": page_size},
            from_date=from_date,
            to_date=to_date,
            dest=dest,
            output_format="jsonl",
            **kwargs,
        )

    def records(self, hook: IblaiHook, plan: AnalyticsRequest) -> Iterator[Any]:
        scope = {k: plan.query[k] for k in ("mentor_unique_id", "platform_key") if k in plan.query}
        for item in hook.iter_transcripts(plan.query):
            detail = hook.get_transcript(item["session"], **scope)
            yield {**item, "messages": detail.get("messages", [])}


class IblaiLearnerAnalyticsOperator(IblaiAnalyticsOperator):
    """Learner data: one learner's profile (``learner/details``) or the platform's learner list (``learners/list/``).

    :param username: the learner; None lists every learner of the platform (paginated).
    :param metrics: with ``username``: sections of ``learner/details`` (``courses``, ``programs``,
        ``pathways``, ``mentors``, ``skills``, ``credentials``, ``time_spent``); list or CSV.
    """

    template_fields: Sequence[str] = (*IblaiAnalyticsOperator.template_fields, "username", "metrics")

    def __init__(
        self, *, username: str | None = None, metrics: str | Sequence[str] | None = None, **kwargs: Any
    ) -> None:
        self.username = username
        self.metrics = metrics
        kwargs.pop("endpoint", None)
        super().__init__(endpoint="learner/details" if username else "learners/list/", **kwargs)

    def validate(self) -> AnalyticsRequest:
        extra: dict[str, Any] = {}
        if self.username:
            extra["username"] = self.username
            if self.metrics:
                extra["metrics"] = self.metrics if isinstance(self.metrics, str) else ",".join(self.metrics)
        elif self.metrics:
            raise IblaiConfigError("metrics applies to one learner: set username, or drop metrics to list learners")
        self.query_params = {**self.query_params, **extra}
        return super().validate()


class IblaiAuditLogsOperator(_IblaiRecordsOperator):
    """Mentor audit-log entries (API reference §5), newest first, every page.

    :param mentor: an agent's unique_id (wire ``mentor``).
    :param action: ``create``, ``update`` or ``delete`` (or 0/1/2; wire ``action`` integer).
        The server ignores ``action=0``, so entries are filtered again here.
    :param actor: an e-mail (wire ``actor_email``) or username (``actor_username``).
    :param from_date: first day, inclusive (wire ``from_date``).
    :param to_date: last day, inclusive (wire ``to_date``).
    :param page_size: entries a page (wire ``limit``).
    """

    template_fields: Sequence[str] = ("mentor", "action", "actor", "from_date", "to_date", "dest")

    def __init__(
        self,
        *,
        mentor: str | None = None,
        action: str | int | None = None,
        actor: str | None = None,
        from_date: Any = None,
        to_date: Any = None,
        page_size: int = 100,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.mentor, self.action, self.actor = mentor, action, actor
        self.from_date, self.to_date, self.page_size = from_date, to_date, page_size
        if not _templated(mentor, action, actor, from_date, to_date):
            self.validate()

    def validate(self) -> dict[str, Any]:
        build_audit_query(
            mentor=self.mentor,
            action=self.action,
            actor=self.actor,
            from_date=self.from_date,
            to_date=self.to_date,
            page_size=self.page_size,
        )
        return {
            "mentor": self.mentor,
            "action": self.action,
            "actor": self.actor,
            "page_size": self.page_size,
            "from_date": as_date("from_date", self.from_date),
            "to_date": as_date("to_date", self.to_date),
        }

    def records(self, hook: IblaiHook, plan: dict[str, Any]) -> Iterator[Any]:
        return hook.iter_audit_logs(**plan)
