"""Checks for periodic-agent arguments, run before any request is sent.

Each check raises one :class:`~iblai_provider.exceptions.IblaiConfigError` that names the
parameter and says what it accepts. The cron check turns a 5-field expression into the API's
crontab dict (``task.crontab``, API reference §3.1).
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from iblai_provider.exceptions import IblaiConfigError
from iblai_provider.hooks._agents import PREVIOUS_AGENT_STATUSES

# Cron field order, mapped to the API's crontab keys.
CRONTAB_KEYS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
CRON_HELP = (
    "a 5-field cron expression 'minute hour day_of_month month day_of_week' such as '0 8 * * 1-5' "
    "(numbers, *, ranges a-b, lists a,b, steps */n or a-b/n; day_of_week 0-7 where 0 and 7 are Sunday; "
    "month and weekday names like jan or mon-fri), or a dict with some of the keys "
    f"{', '.join(CRONTAB_KEYS)} (missing keys mean '*')"
)
_NUMERIC_FIELD = re.compile(r"[0-9*,/-]+\Z")
_NAMED_FIELD = re.compile(r"[0-9A-Za-z*,/-]+\Z")
MAX_LENGTHS = {"title": 255, "pathway": 255, "callback_url": 200, "callback_secret": 255}
IF_EXISTS = ("update", "skip", "fail")


def _field_ok(index: int, value: str) -> bool:
    pattern = _NAMED_FIELD if CRONTAB_KEYS[index] in ("month_of_year", "day_of_week") else _NUMERIC_FIELD
    if not pattern.match(value):
        return False  # croniter also knows L, W, #, ?, which the API's crontab does not
    probe = ["*"] * 5
    probe[index] = value
    from croniter import croniter  # imported on use: it costs ~15 ms, paid only by DAGs that validate

    return croniter.is_valid(" ".join(probe))


def crontab_from_schedule(schedule: Any, param: str = "schedule") -> dict[str, str]:
    """The API crontab dict for a cron string or a (partial) crontab dict; raises naming ``param``.

    >>> crontab_from_schedule("0 8 * * 1-5")["day_of_week"]
    '1-5'
    """
    if isinstance(schedule, str):
        fields = schedule.split()
        if len(fields) != 5:
            raise IblaiConfigError(f"{param}={schedule!r} has {len(fields)} fields; {param} accepts {CRON_HELP}.")
        crontab = dict(zip(CRONTAB_KEYS, fields, strict=True))
    elif isinstance(schedule, dict):
        unknown = sorted(set(map(str, schedule)) - set(CRONTAB_KEYS))
        if unknown:
            raise IblaiConfigError(f"{param} has unknown keys {unknown}; {param} accepts {CRON_HELP}.")
        crontab = {}
        for key in CRONTAB_KEYS:
            value = schedule.get(key, "*")
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise IblaiConfigError(f"{param}[{key!r}]={value!r} is not a string; {param} accepts {CRON_HELP}.")
            crontab[key] = str(value).strip()
    else:
        raise IblaiConfigError(f"{param} must be a cron string or a crontab dict, got {type(schedule).__name__}; "
                               f"{param} accepts {CRON_HELP}.")
    for index, key in enumerate(CRONTAB_KEYS):
        if not _field_ok(index, crontab[key]):
            raise IblaiConfigError(f"{param} has an invalid {key} field {crontab[key]!r}; {param} accepts {CRON_HELP}.")
    return crontab


def cron_from_crontab(crontab: Any) -> str | None:
    """The 5-field cron string of an API crontab dict (None if it is not one)."""
    if not isinstance(crontab, dict):
        return None
    return " ".join(str(crontab.get(key, "*")) for key in CRONTAB_KEYS)


def check_previous_agent_status(value: Any, param: str = "previous_agent_status") -> str | None:
    if value is None or value in PREVIOUS_AGENT_STATUSES:
        return value
    raise IblaiConfigError(f"{param}={value!r} is not allowed; {param} accepts one of {list(PREVIOUS_AGENT_STATUSES)}.")


def check_callback_url(value: Any, param: str = "callback_url") -> str | None:
    """https only; http is accepted for loopback hosts (local tests) and nothing else."""
    if value is None:
        return None
    accepts = f"{param} accepts an https:// URL of at most 200 characters (http:// only for localhost/127.0.0.1/::1)"
    if not isinstance(value, str) or len(value) > MAX_LENGTHS["callback_url"]:
        raise IblaiConfigError(f"{param} is not usable; {accepts}.")
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return value
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return value
    # Quote only scheme and host: the path/query of a callback URL may carry a token.
    shown = f"{parts.scheme or 'no scheme'}://{parts.hostname or ''}"
    raise IblaiConfigError(f"{param} ({shown}) is not allowed; {accepts}.")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_agent_id(value: Any, param: str = "agent_id") -> int:
    """A positive integer (templated values arrive as digit strings)."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and value > 0:
        return value
    raise IblaiConfigError(f"{param}={value!r} is not usable; {param} accepts a positive integer periodic agent id.")


def check_mentor(value: Any, param: str = "mentor") -> str:
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value.strip()))
        except ValueError:
            pass
    raise IblaiConfigError(f"{param}={value!r} is not usable; {param} accepts a mentor unique_id (a UUID string).")


def check_text(value: Any, param: str, *, required: bool = False) -> str | None:
    """A string (non-blank when ``required``), within the API's length limit for ``param``."""
    if value is None and not required:
        return None
    limit = MAX_LENGTHS.get(param)
    if not isinstance(value, str) or (required and not value.strip()) or (limit and len(value) > limit):
        what = "a non-empty string" if required else "a string"
        suffix = f" of at most {limit} characters" if limit else ""
        shown = "<hidden>" if "secret" in param else repr(value)[:80]
        raise IblaiConfigError(f"{param}={shown} is not usable; {param} accepts {what}{suffix}.")
    return value


def check_bool(value: Any, param: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise IblaiConfigError(f"{param}={value!r} is not usable; {param} accepts True or False.")


def check_start_time(value: Any, param: str = "start_time", now: datetime | None = None) -> str | None:
    """ISO-8601 UTC text for ``task.start_time``: a datetime, ISO text, or ``"now"`` (resolved here)."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() == "now":
        value = now or datetime.now(timezone.utc)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            value = None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)  # the API works in UTC
        return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    raise IblaiConfigError(
        f"{param} is not usable; {param} accepts a datetime, ISO-8601 text such as '2026-07-01T08:00:00Z' "
        "(naive means UTC), or 'now'."
    )


def check_choice(value: Any, param: str, choices: tuple[str, ...]) -> str:
    if value in choices:
        return value
    raise IblaiConfigError(f"{param}={value!r} is not allowed; {param} accepts one of {list(choices)}.")


def check_optional_int(value: Any, param: str) -> int | None:
    if value is None:
        return None
    return check_agent_id(value, param)


def build_task(
    crontab: dict[str, str] | None = None,
    *,
    one_off: bool | None = None,
    start_time: str | None = None,
    enabled: bool | None = None,
) -> dict[str, Any]:
    """The ``task`` object with only the given keys: the one place ``enabled``/``one_off``/``start_time``
    are placed, because the API ignores them at the top level."""
    task: dict[str, Any] = {}
    if crontab is not None:
        task["crontab"] = crontab
    for key, value in (("one_off", one_off), ("start_time", start_time), ("enabled", enabled)):
        if value is not None:
            task[key] = value
    return task
