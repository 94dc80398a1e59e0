"""How a periodic-agent run is judged, shared by the run sensor (poke mode) and its trigger.

:func:`evaluate_run` is the single rule both modes apply to a page of logs, so poke mode and
deferrable mode succeed, fail and return exactly alike. Kept apart from the trigger so that
importing the sensor (every DAG parse) does not import Airflow's trigger machinery.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from iblai_provider.hooks._agents import PeriodicAgentLogStatus

# Event statuses: the run ended (success / error), the deadline passed, or the API could not be read.
EVENT_SUCCESS, EVENT_ERROR, EVENT_TIMEOUT, EVENT_FAILED = "success", "error", "timeout", "failed"
EVENT_STATUSES = frozenset({EVENT_SUCCESS, EVENT_ERROR, EVENT_TIMEOUT, EVENT_FAILED})
RUN_KEYS = ("agent_id", "log_id", "status", "start_time", "end_time", "created_at", "content")
LOG_COUNT = 50  # newest logs read per poll; runs are far rarer than polls


def parse_instant(value: Any) -> datetime | None:
    """An aware UTC datetime from a datetime or ISO-8601 text (naive means UTC); None if unusable."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def evaluate_run(
    logs: list[dict[str, Any]], agent_id: int, after: datetime, content_chars: int
) -> dict[str, Any] | None:
    """The outcome of the first run of ``agent_id`` created at or after ``after``; None while there is
    none or it is still running.

    The outcome is a JSON-safe dict with :data:`RUN_KEYS`; ``status`` is ``success`` or ``error``
    (a log status this provider does not know counts as ``error``: fail closed).
    """
    runs = []
    for log in logs:
        created = parse_instant(log.get("created_at"))
        if log.get("periodic_agent") == agent_id and created is not None and created >= after:
            runs.append((created, log.get("id") or 0, log))
    if not runs:
        return None
    log = min(runs, key=lambda run: (run[0], run[1]))[2]
    status = log.get("status")
    if status == PeriodicAgentLogStatus.RUNNING.value:
        return None
    known = status in {s.value for s in PeriodicAgentLogStatus.terminal()}
    content = log.get("content") if isinstance(log.get("content"), str) else ""
    # An error keeps at least an excerpt, whatever content_chars says: it becomes the failure message.
    limit = max(content_chars, 0) if status == PeriodicAgentLogStatus.SUCCESS.value else max(content_chars, 500)
    return {
        "agent_id": agent_id,
        "log_id": log.get("id"),
        "status": status if known else EVENT_ERROR,
        "start_time": log.get("start_time"),
        "end_time": log.get("end_time"),
        "created_at": log.get("created_at"),
        "content": content[:limit] if known else f"unknown run status {status!r}",
    }
