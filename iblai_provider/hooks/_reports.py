"""Typed Data Reports calls (API reference §2) for the sync and async hooks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    import requests


def _status_of(report_data: Any) -> dict[str, Any] | None:
    """The poll answer nests the run under ``data.status``; None when the report never ran."""
    data = report_data.get("data") if isinstance(report_data, dict) else None
    status = data.get("status") if isinstance(data, dict) else None
    return status if isinstance(status, dict) else None


class ReportsMixin:
    """Data Reports on :class:`~iblai_provider.hooks.iblai.IblaiHook`."""

    def reports_path(self, suffix: str = "") -> str:
        return f"/api/reports/platforms/{quote(self.org, safe='')}/{suffix}"  # type: ignore[attr-defined]

    def list_reports(self, mentor_id: int | None = None) -> list[dict[str, Any]]:
        """Reports the org offers, each with the caller's last run (``status``) or None."""
        params = {"mentor_id": mentor_id} if mentor_id is not None else None
        body = self.get(self.reports_path(), params)  # type: ignore[attr-defined]
        return list(body.get("data") or []) if isinstance(body, dict) else []

    def create_report(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``/new``; returns the run status (``data``). The API hands back the existing run
        when the same report is still pending or fresh, so a retry creates no duplicate."""
        answer = self.post(self.reports_path("new"), json=body, idempotent=True)  # type: ignore[attr-defined]
        return dict(answer.get("data") or {}) if isinstance(answer, dict) else {}

    def get_report_status(self, report_name: str, mentor_unique_id: str | None = None) -> dict[str, Any] | None:
        """The latest run of ``report_name`` (for ``mentor_unique_id``), or None if it never ran."""
        params = {"mentor_unique_id": mentor_unique_id} if mentor_unique_id else None
        return _status_of(self.get(self.reports_path(quote(report_name, safe="")), params))  # type: ignore[attr-defined]

    def open_report_download(self, report_id: str, fmt: str = "csv") -> requests.Response:
        """Stream a finished report through the API's own route (with the API key, to the API host)."""
        path = self.reports_path(f"{quote(report_id, safe='')}/download")
        return self.request("GET", path, params={"format": fmt}, stream=True)  # type: ignore[attr-defined]


class AsyncReportsMixin:
    """Report polling on :class:`~iblai_provider.hooks.iblai.IblaiAsyncHook` (for triggers)."""

    async def get_report_status(self, report_name: str, mentor_unique_id: str | None = None) -> dict[str, Any] | None:
        settings = await self.get_settings()  # type: ignore[attr-defined]
        path = f"/api/reports/platforms/{quote(settings.org, safe='')}/{quote(report_name, safe='')}"
        params = {"mentor_unique_id": mentor_unique_id} if mentor_unique_id else None
        return _status_of(await self.get(path, params))  # type: ignore[attr-defined]
