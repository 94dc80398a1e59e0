"""Request-body and query checks of the fake periodic-agents API (API doc §3), DRF-style.

Kept apart from the store so the rules the fake enforces can be read in one place. Errors are
raised as :class:`~iblai_provider.testing.server.HttpError` with DRF field-error bodies such as
``{"title": ["This field is required."]}`` or ``{"task": {"crontab": {"hour": ["..."]}}}``.
Standard library only.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode, urlsplit

from iblai_provider.testing.server import HttpError

RUN_STATUSES = ("success", "error", "running", "pending")
LOG_STATUSES = ("success", "error", "running")
REQUIRED = "This field is required."
# CrontabSchedule fields: (low, high, max_length); day_of_week 0 and 7 are both Sunday.
CRON_FIELDS: dict[str, tuple[int, int, int]] = {
    "minute": (0, 59, 240),
    "hour": (0, 23, 96),
    "day_of_week": (0, 7, 64),
    "day_of_month": (1, 31, 124),
    "month_of_year": (1, 12, 64),
}
CRON_NAMES = {
    "day_of_week": {n: i for i, n in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))},
    "month_of_year": {n: i + 1 for i, n in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))},
}
MAX_LENGTHS = {"title": 255, "pathway": 255, "callback_url": 200, "callback_secret": 255, "parent_session_id": 200}
TEXT_FIELDS = ("description", "prompt", "pathway", "callback_url", "callback_secret", "parent_session_id")
AGENT_QUERY = {
    "enabled", "mentor_id", "ordering", "page", "page_size", "parent_mentor_id", "parent_session_id",
    "previous_agent", "previous_agent_status", "search", "status", "title", "username", "start_date", "end_date",
}
LOG_QUERY = {
    "periodic_agent", "status", "mentor_id", "parent_mentor_id", "parent_session_id", "search", "username",
    "ordering", "page", "page_size",
}
AGENT_ORDERING = {"id", "title", "created_at", "modified_at"}
LOG_ORDERING = {"id", "created_at", "modified_at", "start_time", "end_time", "status"}
DATETIME_ERROR = ("Datetime has wrong format. Use one of these formats instead: "
                  "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].")


def iso(moment: datetime | None) -> str | None:
    """DRF's datetime rendering (UTC, microseconds, ``Z``)."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_datetime(value: Any) -> datetime | None:
    """An aware datetime from ISO text (naive means UTC), or None if it does not parse."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def cron_field_error(name: str, value: Any) -> str | None:
    """Why ``value`` is not a valid crontab ``name`` field (celery's grammar), or None."""
    low, high, max_length = CRON_FIELDS[name]
    if not isinstance(value, str) or not value.strip():
        return "Not a valid string." if not isinstance(value, str) else "This field may not be blank."
    if len(value) > max_length:
        return f"Ensure this field has no more than {max_length} characters."
    names = CRON_NAMES.get(name, {})

    def number(token: str) -> int | None:
        if token.isdigit():
            return int(token)
        return names.get(token.lower())

    for item in value.split(","):
        base, _, step = item.partition("/")
        if step and not (step.isdigit() and int(step) > 0):
            return f"Invalid {name} value: {value!r} (bad step {step!r})."
        if base == "*":
            continue
        start, dash, end = base.partition("-")
        bounds = [number(start)] + ([number(end)] if dash else [])
        # A range may wrap (``fri-mon``), as celery's crontab parser allows.
        if any(b is None or not low <= b <= high for b in bounds):
            return f"Invalid {name} value: {value!r} (allowed {low}-{high})."
    return None


def _check_text(body: dict[str, Any], errors: dict[str, Any]) -> None:
    for key in TEXT_FIELDS + ("title",):
        if key not in body or body[key] is None:
            continue
        value = body[key]
        if not isinstance(value, str):
            errors[key] = ["Not a valid string."]
        elif key in MAX_LENGTHS and len(value) > MAX_LENGTHS[key]:
            errors[key] = [f"Ensure this field has no more than {MAX_LENGTHS[key]} characters."]
    url = body.get("callback_url")
    if isinstance(url, str) and url and "callback_url" not in errors:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            errors["callback_url"] = ["Enter a valid URL."]


def _check_task(task: Any, partial: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """(cleaned task, errors). ``task.id``/``task.name`` are read-only and dropped."""
    if not isinstance(task, dict):
        kind = type(task).__name__
        return {}, {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]}
    errors: dict[str, Any] = {}
    clean: dict[str, Any] = {}
    if "crontab" in task:
        crontab = task["crontab"]
        if not isinstance(crontab, dict):
            errors["crontab"] = {"non_field_errors": ["Invalid data. Expected a dictionary."]}
        else:
            cron_errors = {}
            for name in CRON_FIELDS:
                if name in crontab:
                    problem = cron_field_error(name, crontab[name])
                    if problem:
                        cron_errors[name] = [problem]
            if cron_errors:
                errors["crontab"] = cron_errors
            clean["crontab"] = {k: crontab[k] for k in CRON_FIELDS if k in crontab}
    elif not partial:
        errors["crontab"] = [REQUIRED]
    for flag in ("enabled", "one_off"):
        if flag in task:
            if isinstance(task[flag], bool):
                clean[flag] = task[flag]
            else:
                errors[flag] = ["Must be a valid boolean."]
    if "start_time" in task:
        if task["start_time"] is None:
            clean["start_time"] = None
        else:
            moment = parse_datetime(task["start_time"])
            if moment is None:
                errors["start_time"] = [DATETIME_ERROR]
            clean["start_time"] = moment
    return clean, errors


def clean_agent_body(body: Any, *, partial: bool, mentors: dict[str, Any], agents: dict[int, Any]) -> dict[str, Any]:
    """Validate a POST/PUT (``partial=False``) or PATCH body; return only writable fields.

    Top-level ``enabled``/``one_off`` and other read-only fields are ignored, as the API does.
    """
    if not isinstance(body, dict):
        kind = type(body).__name__
        raise HttpError(400, {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]})
    errors: dict[str, Any] = {}
    clean: dict[str, Any] = {}
    for key in ("mentor", "title", "task"):
        if not partial and (key not in body or body[key] is None):
            errors[key] = [REQUIRED if key not in body else "This field may not be null."]
    if "mentor" in body and "mentor" not in errors:
        if not isinstance(body["mentor"], str) or body["mentor"] not in mentors:
            errors["mentor"] = [f"Object with unique_id={body['mentor']} does not exist."]
        else:
            clean["mentor"] = body["mentor"]
    _check_text(body, errors)
    if isinstance(body.get("title"), str) and not body["title"].strip() and "title" not in errors:
        errors["title"] = ["This field may not be blank."]
    for key in TEXT_FIELDS + ("title",):
        if key in body and key not in errors:
            clean[key] = body[key]
    if "task" in body and "task" not in errors:
        task, task_errors = _check_task(body["task"], partial)
        if task_errors:
            errors["task"] = task_errors
        clean["task"] = task
    status = body.get("previous_agent_status")
    if status is not None and status not in RUN_STATUSES:
        errors["previous_agent_status"] = [f'"{status}" is not a valid choice.']
    elif "previous_agent_status" in body:
        clean["previous_agent_status"] = status
    previous = body.get("previous_agent")
    if previous is not None and (type(previous) is not int or previous not in agents):
        errors["previous_agent"] = [f'Invalid pk "{previous}" - object does not exist.']
    elif "previous_agent" in body:
        clean["previous_agent"] = previous
    parent = body.get("parent_mentor_id")
    if parent is not None and type(parent) is not int:
        errors["parent_mentor_id"] = ["A valid integer is required."]
    elif "parent_mentor_id" in body:
        clean["parent_mentor_id"] = parent
    if errors:
        raise HttpError(400, errors)
    return clean


def check_list_query(query: dict[str, list[str]], allowed: set[str], ordering: set[str]) -> None:
    """400 on unknown parameters or values (stricter than DRF, to catch client typos)."""
    errors: dict[str, list[str]] = {}
    for key in sorted(set(query) - allowed):
        errors[key] = [f"Unknown query parameter. Accepted: {', '.join(sorted(allowed))}."]
    for key in ("page", "page_size", "periodic_agent", "previous_agent", "parent_mentor_id"):
        value = (query.get(key) or [""])[0]
        if key in query and not value.isdigit():
            errors[key] = ["Enter a number."]
    enabled = (query.get("enabled") or [""])[0]
    if "enabled" in query and enabled.lower() not in ("true", "false", "1", "0"):
        errors["enabled"] = [f"Select a valid choice. {enabled} is not one of the available choices."]
    for key in ("status", "previous_agent_status"):
        value = (query.get(key) or [""])[0]
        choices = LOG_STATUSES if "periodic_agent" in allowed and key == "status" else RUN_STATUSES
        if key in query and value not in choices:
            errors[key] = [f"Select a valid choice. {value} is not one of the available choices."]
    for field in ((query.get("ordering") or [""])[0]).split(","):
        if field and field.lstrip("-") not in ordering:
            errors["ordering"] = [f"Unknown ordering field {field!r}. Accepted: {', '.join(sorted(ordering))}."]
    for key in ("start_date", "end_date"):
        if key in query and parse_datetime((query.get(key) or [""])[0]) is None:
            errors[key] = ["Enter a valid date."]
    if errors:
        raise HttpError(400, errors)


def order_items(items: list[dict[str, Any]], ordering: str) -> list[dict[str, Any]]:
    """Sort stored records by a DRF ``ordering`` value (comma list, ``-`` = descending); id breaks ties."""
    result = sorted(items, key=lambda item: item["id"])
    for field in reversed([f for f in ordering.split(",") if f]):
        name = field.lstrip("-")
        present = [i for i in result if i.get(name) is not None]
        missing = [i for i in result if i.get(name) is None]
        present.sort(key=lambda item: item[name], reverse=field.startswith("-"))
        result = present + missing
    return result


def page_of(items: list[Any], query: dict[str, list[str]], url: str, default_size: int = 10) -> dict[str, Any]:
    """A DRF page-number page: ``count``, ``next``, ``previous``, ``results`` (404 past the end)."""
    size = min(int((query.get("page_size") or [str(default_size)])[0]) or default_size, 100)
    page = int((query.get("page") or ["1"])[0])
    pages = max(1, -(-len(items) // size))
    if page < 1 or page > pages:
        raise HttpError(404, {"detail": "Invalid page."})

    def link(number: int) -> str:
        params = {k: v for k, v in query.items() if k != "page"}
        if number > 1:
            params["page"] = [str(number)]
        text = urlencode([(k, v) for k, values in params.items() for v in values])
        return url + ("?" + text if text else "")

    return {
        "count": len(items),
        "next": link(page + 1) if page < pages else None,
        "previous": link(page - 1) if page > 1 else None,
        "results": items[(page - 1) * size: page * size],
    }

