"""Fake Data Reports (API doc §2): list, create, poll, download, and presigned storage links.

A run moves pending -> running -> processing -> completed over ``server.report_polls`` polls
(or ``server.report_seconds`` seconds). Its ``status.url`` points at ``/_storage/...`` on the
same server: a presigned-style link that expires, and that refuses any request carrying an
``Authorization`` header, so a client leaking the API key to storage fails loudly.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from iblai_provider.testing import report_data
from iblai_provider.testing.http import Request, Response
from iblai_provider.testing.params import check_query
from iblai_provider.testing.server import HttpError

REPORTS: dict[str, dict[str, Any]] = {
    "ai-mentor-chat-history": {
        "display_name": "All Mentor Chat History",
        "description": "Get detailed mentor chat history for all participants.",
        "extra_query_params": ["mentor", "start_date", "end_date", "sentiment", "topics"],
    },
    "my-chat-history": {
        "display_name": "My Chat History",
        "description": "Your own chat history with a mentor.",
        "extra_query_params": ["mentor", "start_date", "end_date"],
    },
    "recommendation-history-report": {
        "display_name": "Recommendation History",
        "description": "Recommendations made by a mentor.",
        "extra_query_params": ["mentor", "start_date", "end_date"],
    },
    "user-report": {
        "display_name": "User Report",
        "description": "Users and their login information.",
        "extra_query_params": ["learner_id"],
    },
}
PROGRESS = ("running", "processing", "storing")
BODY_FIELDS = {
    "report_name", "start_date", "end_date", "mentor", "course_id", "usergroup_ids", "source", "query",
    "learner_id", "force", "filters", "departments", "sentiment", "topics",
}
# Fields that make two create requests "the same report" (the API reuses a pending/finished run).
IDENTITY_FIELDS = ("report_name", "mentor", "start_date", "end_date", "course_id", "usergroup_ids", "query",
                   "learner_id", "filters", "departments", "sentiment", "topics")
EXPIRED_XML = (
    "<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
    "<Message>Request has expired</Message></Error>"
)
AUTH_XML = (
    "<?xml version='1.0' encoding='UTF-8'?><Error><Code>InvalidArgument</Code><Message>Only one auth "
    "mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or "
    "the Authorization header should be specified</Message></Error>"
)
DATE_RX = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ReportRun:
    report_id: str
    report_name: str
    mentor: str | None
    identity: str
    owner: str
    created: datetime
    created_mono: float
    rows: int
    final_state: str = "completed"
    polls: int = 0
    expires_at: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.expires_at = self.created + timedelta(days=7)


class ReportStore:
    """Runs by id, plus the latest run per (report_name, mentor) for polling."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.runs: dict[str, ReportRun] = {}
        self.latest: dict[tuple[str, str | None], str] = {}
        self.outcomes: dict[str, str] = {}  # report_name -> final state of the next runs
        self.key_generation = 0  # bumped by expire_urls(): links signed with an older key are expired

    def state(self, run: ReportRun) -> str:
        srv = self.server
        if srv.report_seconds is not None:
            elapsed = time.monotonic() - run.created_mono
            done = elapsed >= srv.report_seconds
            step = None if elapsed <= 0 else int(elapsed / srv.report_seconds * len(PROGRESS))
        else:
            done = run.polls >= srv.report_polls
            # poll k of n (k < n) walks running -> processing -> storing
            step = None if run.polls == 0 else (run.polls - 1) * len(PROGRESS) // max(srv.report_polls - 1, 1)
        if done:
            if run.final_state == "completed" and datetime.now(timezone.utc) >= run.expires_at:
                return "expired"
            return run.final_state
        return "pending" if step is None else PROGRESS[min(step, len(PROGRESS) - 1)]

    def status(self, run: ReportRun) -> dict[str, Any]:
        state = self.state(run)
        return {
            "report_id": run.report_id,
            "report_name": run.report_name,
            "state": state,
            "started_on": _iso(run.created),
            "owner": run.owner,
            "expires": _iso(run.expires_at) if state == "completed" else None,
            "url": self.presigned_url(run) if state == "completed" else None,
            "created_at": _iso(run.created),
        }

    # -- presigned links -------------------------------------------------------------------

    def _signature(self, report_id: str, amz_date: str, expires: str, credential: str) -> str:
        message = f"{report_id}\n{amz_date}\n{expires}\n{credential}".encode()
        return hmac.new(self.server.signing_secret, message, hashlib.sha256).hexdigest()

    def presigned_url(self, run: ReportRun) -> str:
        amz_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        expires = str(self.server.url_ttl)
        credential = f"FAKEKEY{self.key_generation:04d}/20260601/us-east-1/s3/aws4_request"
        query = urlencode(
            {
                "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
                "X-Amz-Credential": credential,
                "X-Amz-Date": amz_date,
                "X-Amz-Expires": expires,
                "X-Amz-SignedHeaders": "host",
                "X-Amz-Signature": self._signature(run.report_id, amz_date, expires, credential),
            }
        )
        return f"{self.server.root_url}/_storage/iblai-reports/{run.report_id}.csv?{query}"

    def check_presigned(self, report_id: str, request: Request) -> Response | None:
        """None if the link is good; else the storage error response."""
        if "authorization" in request.headers:
            return _xml(400, AUTH_XML)
        amz_date, expires = request.arg("X-Amz-Date", ""), request.arg("X-Amz-Expires", "")
        credential = request.arg("X-Amz-Credential", "") or ""
        expected = self._signature(report_id, amz_date or "", expires or "", credential)
        if not hmac.compare_digest(expected, request.arg("X-Amz-Signature", "") or ""):
            return _xml(403, EXPIRED_XML.replace("Request has expired", "The request signature we calculated "
                                                  "does not match the signature you provided."))
        issued = datetime.strptime(amz_date or "", "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
        current = credential.startswith(f"FAKEKEY{self.key_generation:04d}/")
        if time.time() > issued + int(expires or 0) or not current:
            return _xml(403, EXPIRED_XML)
        return None

    def expire_urls(self) -> None:
        """Make every link issued so far expired (the next poll issues fresh ones)."""
        self.key_generation += 1


def _xml(status: int, text: str) -> Response:
    return Response(status=status, body=text.encode(), headers={"Content-Type": "application/xml"})


def _report_rows(server: Any) -> int:
    if server.report_bytes is not None:
        return report_data.rows_for_bytes(server.report_bytes)
    return server.report_rows


def _validate_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise HttpError(400, {"non_field_errors": ["Invalid data. Expected a dictionary."]})
    errors: dict[str, list[str]] = {}
    name = body.get("report_name")
    if name not in REPORTS:
        errors["report_name"] = [f'"{name}" is not a valid report.']
    for key in ("start_date", "end_date"):
        value = body.get(key)
        if value is not None and not (isinstance(value, str) and DATE_RX.match(value)):
            errors[key] = ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]
    ids = body.get("usergroup_ids")
    if ids is not None and not (isinstance(ids, list) and all(type(i) is int for i in ids)):
        errors["usergroup_ids"] = ["A valid integer is required."]
    if errors:
        raise HttpError(400, errors)
    return {k: v for k, v in body.items() if k in BODY_FIELDS}


def register(server: Any) -> None:
    store = ReportStore(server)
    server.state["reports"] = store
    base = r"/api/reports/platforms/(?P<key>[^/]+)"

    def check_org(request: Request) -> None:
        if request.params["key"] != server.org:
            raise HttpError(403, {"detail": "You do not have permission to perform this action."})

    def report_data_for(name: str, run: ReportRun | None) -> dict[str, Any]:
        meta = REPORTS[name]
        return {
            "display_name": meta["display_name"],
            "description": meta["description"],
            "report_name": name,
            "icon": "",
            "extra_query_params": meta["extra_query_params"],
            "result_columns": list(report_data.COLUMNS),
            "status": store.status(run) if run else None,
        }

    @server.route("GET", base + "/")
    def list_reports(request: Request) -> Response:
        check_query("reports/list", request.query)
        check_org(request)
        items = []
        for name in REPORTS:
            run_id = next((rid for (n, _m), rid in reversed(store.latest.items()) if n == name), None)
            items.append(report_data_for(name, store.runs.get(run_id) if run_id else None))
        return Response.json({"data": items})

    @server.route("POST", base + "/new")
    def create_report(request: Request) -> Response:
        check_org(request)
        try:
            body = _validate_body(request.json())
        except (ValueError, UnicodeDecodeError):
            raise HttpError(400, {"detail": "JSON parse error."}) from None
        identity = json.dumps({k: body.get(k) for k in IDENTITY_FIELDS}, sort_keys=True)
        if not body.get("force"):
            for run in reversed(list(store.runs.values())):
                if run.identity == identity and store.state(run) not in ("error", "cancelled", "expired"):
                    return Response.json({"data": store.status(run)})
        now = datetime.now(timezone.utc)
        name = body["report_name"]
        run = ReportRun(
            report_id=str(uuid.uuid4()),
            report_name=name,
            mentor=body.get("mentor"),
            identity=identity,
            owner=server.username,
            created=now,
            created_mono=time.monotonic(),
            rows=_report_rows(server),
            final_state=store.outcomes.get(name, "completed"),
        )
        store.runs[run.report_id] = run
        store.latest[(name, run.mentor)] = run.report_id
        return Response.json({"data": store.status(run)})

    @server.route("GET", base + r"/(?P<report_name>[a-z0-9][a-z0-9_-]*)")
    def poll_report(request: Request) -> Response:
        check_query("reports/detail", request.query)
        check_org(request)
        name = request.params["report_name"]
        if name not in REPORTS:
            raise HttpError(404, {"detail": "Not found."})
        run_id = store.latest.get((name, request.arg("mentor_unique_id")))
        run = store.runs.get(run_id) if run_id else None
        if run is not None:
            run.polls += 1
        return Response.json({"data": report_data_for(name, run)})

    @server.route("GET", base + r"/(?P<task_id>[0-9a-f-]{36})/download")
    def download_report(request: Request) -> Response:
        check_query("reports/download", request.query)
        check_org(request)
        run = store.runs.get(request.params["task_id"])
        if run is None or store.state(run) != "completed":
            raise HttpError(404, {"detail": "Not found."})
        columns = request.arg("columns")
        if request.arg("format", "csv") == "json" or columns:
            return _subset(run.rows, columns, request.arg("format", "csv"))
        return Response(
            body=report_data.iter_csv(run.rows),
            content_length=report_data.csv_size(run.rows),
            headers={"Content-Type": "text/csv", "Content-Disposition": f'attachment; filename="{run.report_name}.csv"'},
        )

    @server.route("GET", r"/_storage/iblai-reports/(?P<report_id>[0-9a-f-]{36})\.csv", auth=False)
    def storage_object(request: Request) -> Response:
        run = store.runs.get(request.params["report_id"])
        refusal = store.check_presigned(request.params["report_id"], request)
        if refusal is not None:
            return refusal
        if run is None:
            return _xml(404, "<Error><Code>NoSuchKey</Code></Error>")
        return Response(
            body=report_data.iter_csv(run.rows),
            content_length=report_data.csv_size(run.rows),
            headers={"Content-Type": "text/csv", "ETag": f'"{run.report_id}"'},
        )

    def set_outcome(name: str, state: str) -> None:
        store.outcomes[name] = state

    server.set_report_outcome = set_outcome
    server.expire_download_urls = store.expire_urls


def _subset(rows: int, columns: str | None, fmt: str | None) -> Response:
    """``columns``/``format=json`` variants of the download route (small reports only)."""
    wanted = [c for c in (columns or "").split(",") if c] or list(report_data.COLUMNS)
    unknown = [c for c in wanted if c not in report_data.COLUMNS]
    if unknown:
        raise HttpError(400, {"columns": [f"Unknown columns: {', '.join(unknown)}"]})
    index = [report_data.COLUMNS.index(c) for c in wanted]
    lines = report_data.csv_bytes(rows).splitlines(keepends=True)[1:]
    records = [[report_data.row_values(line)[i] for i in index] for line in lines]
    if fmt == "json":
        return Response.json([dict(zip(wanted, rec)) for rec in records])
    text = ",".join(wanted) + "\n" + "".join(",".join(rec) + "\n" for rec in records)
    return Response(body=text.encode(), headers={"Content-Type": "text/csv"})
