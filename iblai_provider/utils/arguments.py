"""Checks shared by operators whose arguments become API fields: dates and user group ids."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from iblai_provider.exceptions import IblaiConfigError

DATE_RX = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


def as_date(name: str, value: Any) -> date | None:
    """A date from a ``date``/``datetime`` or a ``YYYY-MM-DD`` string (what templates render)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and DATE_RX.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise IblaiConfigError(f"{name} must be a date (YYYY-MM-DD, a date or a datetime); got {value!r}")


def group_ids(value: Any) -> list[int]:
    """``usergroup_ids``: a list of integers (digit strings from templates are accepted)."""
    if value is None:
        return []
    items = [value] if isinstance(value, int | str) else value
    if not isinstance(items, Sequence) or isinstance(items, bytes):
        raise IblaiConfigError(f"usergroup_ids must be a list of integers; got {value!r}")
    out = []
    for item in items:
        if isinstance(item, bool) or not (isinstance(item, int) or (isinstance(item, str) and item.strip().isdigit())):
            raise IblaiConfigError(f"usergroup_ids must be a list of integers; got {item!r} in {value!r}")
        out.append(int(item))
    return out
