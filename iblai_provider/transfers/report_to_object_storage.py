"""Copy a finished ibl.ai Data Report (CSV) into object storage: local files, S3, GCS, ...

Failures and retries
--------------------
* Status 5xx/429 and network errors on the API: retried inside the hook (the provider's one
  policy); what survives them fails the task before anything is written.
* Storage refuses the presigned link (400/401/403, e.g. expired): the status is polled once
  more for a fresh link to the same run, and the download starts over. A second refusal fails.
* A download that breaks (reset, truncated body, timeout, 5xx/429 from storage): downloaded
  again **from the first byte** into a new temporary object, ``download_retries`` times (2 by
  default), with the connection's backoff (``tenacity``). Resuming with ``Range`` was rejected:
  it needs storage to honour ranges on a presigned GET and the object to be unchanged between
  attempts (an ``If-Match`` on the ETag), and a restart keeps the hash and row count trivially
  right; restarting even a 1 GiB report costs seconds.
* Anything else (bad arguments, storage write errors, an existing object with
  ``overwrite=False``): no retry. In every failure the temporary object is removed and ``dest``
  is untouched (:mod:`iblai_provider.utils.atomic_write`); Airflow's own ``retries`` then apply.

Lineage
-------
Outlet: when ``dest`` is a fixed URL the operator's outlet is ``Asset(dest)``. When ``dest`` is
templated (``.../{{ ds }}.csv``) each run writes a different object, and a new Asset per day
would give downstream DAGs nothing stable to schedule on, so the outlet is the per-report Asset
:func:`report_export_asset` and every event carries the object written in its ``extra``
(``uri``, ``bytes``, ``sha256``, ``rows``). Schedule a downstream DAG on it::

    @dag(schedule=[report_export_asset("ai-mentor-chat-history")])
    def consume():
        @task
        def load(triggering_asset_events=None):
            for event in triggering_asset_events[report_export_asset("ai-mentor-chat-history")]:
                print(event.extra["uri"], event.extra["rows"])

Pass ``outlets=[...]`` to choose your own Assets; each Asset outlet gets the same ``extra``.
OpenLineage facets (input: the ibl.ai report; output: the storage object, with its row count and
size on completion) are built only when the openlineage provider is installed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

import tenacity

from iblai_provider._compat import Asset, BaseOperator, ObjectStoragePath
from iblai_provider.exceptions import IblaiConfigError
from iblai_provider.hooks.iblai import IblaiHook
from iblai_provider.transfers import _report_lineage
from iblai_provider.utils import presigned_download as presigned
from iblai_provider.utils.atomic_write import (
    atomic_write,
    check_object_url,
    ensure_absent,
    object_path,
    object_uri,
)
from iblai_provider.utils.report_state import IblaiReportError, describe, evaluate
from iblai_provider.utils.stream_copy import DEFAULT_CHUNK_SIZE, CopyResult, ProgressLog, copy_stream

if TYPE_CHECKING:
    from iblai_provider._compat import Context

MIN_CHUNK, MAX_CHUNK = 64 * 1024, 64 * 1024 * 1024
PART_SIZE = 8 * 1024 * 1024
MAX_PARTS = 9_000  # S3 allows 10,000 parts per upload; keep a margin


def upload_part_size(total: int | None) -> int:
    """The storage backend's write buffer (S3 multipart part size) for an object of ``total`` bytes.

    s3fs buffers a whole part and copies it while uploading, so memory grows with the part size
    (about four parts: 50 MiB parts cost 170 MiB of RSS, 8 MiB parts 48 MiB); 8 MiB parts, larger
    only when 9,000 of them would not hold the object. Local files ignore it.
    """
    if not total:
        return PART_SIZE
    mib = 1024 * 1024
    return max(PART_SIZE, math.ceil(total / MAX_PARTS / mib) * mib)


def report_export_asset(report_name: str) -> Asset:
    """The Asset updated by every export of ``report_name`` whose ``dest`` is templated."""
    return Asset(name=f"iblai-report-export/{report_name}", uri=f"x-iblai-report-export://{report_name}")


def _templated(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _static_uri(dest: str | ObjectStoragePath) -> str:
    """The plain URL of a fixed ``dest``, computed without touching its connection (parse time)."""
    if isinstance(dest, ObjectStoragePath):
        return object_uri(dest)
    parts = urlsplit(dest)
    if not parts.scheme:
        return "file://" + dest
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()  # drop a conn_id@ prefix


class _Source(NamedTuple):
    """Where the CSV comes from: the presigned ``url``, else the API's download route."""

    report_id: str | None
    url: str | None


class IblaiReportToObjectStorageOperator(BaseOperator):
    """Stream the latest completed run of an ibl.ai report into ``dest``, all or nothing.

    The operator asks the API for a fresh status (a presigned link is never taken from XCom),
    downloads ``status.url`` with a credential-free session (``GET .../{report_id}/download`` on
    the API when the status has no link), and writes through a temporary sibling object that is
    moved onto ``dest`` only after the byte count matched ``Content-Length``: a failed run leaves
    nothing at ``dest`` and never damages an object already there. A link refused by storage
    (expired: 400/403) is replaced once by a fresh status; network failures and 5xx restart the
    download from the first byte, up to ``download_retries`` times, with the connection's backoff.
    Memory use is bounded by ``chunk_size`` (plus the storage backend's upload buffer).

    Returns ``{"uri", "bytes", "sha256", "rows"}`` (``rows``: CSV records after the header).

    :param report_name: the report slug, e.g. ``ai-mentor-chat-history`` (API ``report_name``).
    :param dest: where to write, e.g. ``s3://bucket/iblai/{{ ds }}/chat.csv`` or ``file:///data/x.csv``.
    :param mentor_unique_id: the mentor the report was created for (API ``mentor_unique_id``).
    :param report_id: the run to transfer, e.g. ``{{ ti.xcom_pull('wait')['report_id'] }}``; if the
        API's latest run is another one the task fails instead of copying the wrong data.
    :param dest_conn_id: the storage connection (e.g. an ``aws`` connection for ``s3://``).
    :param overwrite: replace an existing object at ``dest``; if False (default) an existing
        object fails the task before anything is downloaded, and is left untouched.
    :param chunk_size: bytes read and written per step (64 KiB to 64 MiB).
    :param download_retries: fresh downloads after a network failure or a 5xx from storage.
    :param iblai_conn_id: the ``iblai`` connection.
    """

    template_fields: Sequence[str] = ("report_name", "mentor_unique_id", "report_id", "dest", "dest_conn_id")
    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        report_name: str,
        dest: str | ObjectStoragePath,
        mentor_unique_id: str | None = None,
        report_id: str | None = None,
        dest_conn_id: str | None = None,
        overwrite: bool = False,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        download_retries: int = 2,
        iblai_conn_id: str = IblaiHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        if not isinstance(report_name, str) or not report_name.strip():
            raise IblaiConfigError(f"report_name must be a report slug such as 'ai-mentor-chat-history'; got {report_name!r}")
        if isinstance(dest, str) and not _templated(dest):
            check_object_url(dest, "dest")
        elif not isinstance(dest, str | ObjectStoragePath):
            raise IblaiConfigError(f"dest must be an object URL string or an ObjectStoragePath; got {type(dest).__name__}")
        if type(chunk_size) is not int or not MIN_CHUNK <= chunk_size <= MAX_CHUNK:
            raise IblaiConfigError(f"chunk_size must be an int of bytes from {MIN_CHUNK} to {MAX_CHUNK}; got {chunk_size!r}")
        if type(download_retries) is not int or download_retries < 0:
            raise IblaiConfigError(f"download_retries must be an int >= 0; got {download_retries!r}")
        if not isinstance(overwrite, bool):
            raise IblaiConfigError(f"overwrite must be True or False; got {overwrite!r}")
        if not kwargs.get("outlets") and not _templated(report_name):
            kwargs["outlets"] = [Asset(_static_uri(dest)) if not _templated(dest) else report_export_asset(report_name)]
        super().__init__(**kwargs)
        self.report_name = report_name
        self.dest = dest
        self.mentor_unique_id = mentor_unique_id
        self.report_id = report_id
        self.dest_conn_id = dest_conn_id
        self.overwrite = overwrite
        self.chunk_size = chunk_size
        self.download_retries = download_retries
        self.iblai_conn_id = iblai_conn_id
        self._result: dict[str, Any] | None = None

    @cached_property
    def hook(self) -> IblaiHook:
        return IblaiHook(iblai_conn_id=self.iblai_conn_id)

    def _dest_path(self) -> ObjectStoragePath:
        return object_path(self.dest, self.dest_conn_id or None, param="dest")

    # -- run -------------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        dest = self._dest_path()
        uri = object_uri(dest)
        if not self.overwrite:
            ensure_absent(dest)  # fail before downloading anything
        result = self._transfer(dest)
        self._result = {"uri": uri, "bytes": result.size, "sha256": result.sha256, "rows": result.rows}
        self.log.info(
            "Copied report %s to %s: %d bytes, %d rows, sha256 %s",
            self.report_name, uri, result.size, result.rows, result.sha256,
        )
        self._record_asset_events(context, self._result)
        return dict(self._result)

    def _transfer(self, dest: ObjectStoragePath) -> CopyResult:
        source = self._fresh_source(self.report_id or None)
        try:
            return self._copy_with_retries(source, dest)
        except presigned.StorageRefusedError as exc:
            self.log.warning("Storage refused the download link (%s); asking ibl.ai for a fresh one.", exc)
        # One fresh link per run, for the same run: a second refusal is not an expiry (revoked access, clock skew).
        return self._copy_with_retries(self._fresh_source(source.report_id), dest)

    def _fresh_source(self, run: str | None) -> _Source:
        """The latest run's status, straight from the API; only a completed run (``run``, if set) passes."""
        status = self.hook.get_report_status(self.report_name, self.mentor_unique_id or None)
        url = status.get("url") if status else None
        if url:
            presigned.mask_presigned_url(url)  # before anything could log it
        verdict = evaluate(status, self.report_name, self.mentor_unique_id or None, run)
        if status is None:
            raise IblaiReportError(f"{describe(self.report_name, self.mentor_unique_id)} has never run: create it first.")
        if verdict.failed:
            raise IblaiReportError(verdict.message)
        if not verdict.succeeded:
            raise IblaiReportError(f"{verdict.message} Only a completed run can be transferred: wait for it first.")
        report_id = status.get("report_id") or None
        if not url and not report_id:
            raise IblaiReportError(f"{verdict.message} But its status has neither a url nor a report_id.")
        return _Source(report_id=report_id, url=url)

    def _copy_with_retries(self, source: _Source, dest: ObjectStoragePath) -> CopyResult:
        settings = self.hook.settings
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.download_retries + 1),
            wait=tenacity.wait_exponential_jitter(initial=settings.backoff_initial, max=settings.backoff_max),
            retry=tenacity.retry_if_exception_type(presigned.TransientDownloadError),
            before_sleep=lambda state: self.log.warning(
                "Download attempt %d failed (%s); downloading again from the start.",
                state.attempt_number,
                state.outcome.exception() if state.outcome else "?",
            ),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return self._copy_once(source, dest)
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    def _copy_once(self, source: _Source, dest: ObjectStoragePath) -> CopyResult:
        settings = self.hook.settings
        if source.url:
            response = presigned.open_presigned(
                self._storage_session, source.url, (settings.connect_timeout, settings.read_timeout)
            )
        else:
            self.log.info("The status has no download link; using the API's download route.")
            response = self.hook.open_report_download(source.report_id or "")
        with response:
            total = presigned.expected_size(response)
            progress = ProgressLog(self.log, f"report {self.report_name}", total)
            chunks = presigned.iter_body(response, self.chunk_size, source.url or "")
            with atomic_write(dest, overwrite=self.overwrite, block_size=upload_part_size(total)) as out:
                return copy_stream(chunks, out, expected_size=total, progress=progress)

    @cached_property
    def _storage_session(self) -> Any:
        return presigned.bare_session()

    def _record_asset_events(self, context: Context, extra: dict[str, Any]) -> None:
        events = context.get("outlet_events") if hasattr(context, "get") else None
        if events is None:
            return
        for outlet in self.outlets or []:
            if isinstance(outlet, Asset):
                events[outlet].extra.update({"report_name": self.report_name, **extra})

    # -- OpenLineage (the provider is imported lazily inside _report_lineage) ----------------

    def get_openlineage_facets_on_start(self) -> Any:
        return _report_lineage.operator_lineage(self, None)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        return _report_lineage.operator_lineage(self, self._result)
