"""The one pagination routine: reads any of the API's page envelopes (API reference §6).

``next_page`` looks at one page body and says which records it holds and which query
parameters fetch the next page (None: this was the last). The hooks loop on it, holding one
page at a time. Envelopes:

- DRF page-number and limit/offset: ``count``/``next``/``previous``/``results``. Only the query
  of ``next`` is used, never its host: the key must not follow a link to another host.
- analytics: ``results`` (or ``learners``) plus a ``pagination`` object, whose shape varies:
  ``has_next``, or ``page``/``total_pages``, or ``current_page``/``total_pages``.
- financial: ``rows`` plus flat ``page``/``total_pages``.
An empty page ends the iteration whatever the envelope says.
"""

from __future__ import annotations

from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

ITEM_KEYS = ("results", "rows", "learners", "data")
PAGING_PARAMS = ("page", "page_size", "limit", "offset")


class Page(NamedTuple):
    items: list[Any]
    next_params: dict[str, Any] | None


def _items(body: Any, items_key: str | None) -> list[Any]:
    if isinstance(body, list):
        return body
    if not isinstance(body, dict):
        return []
    if items_key is not None:
        value = body.get(items_key)
        return value if isinstance(value, list) else []
    for key in ITEM_KEYS:
        if isinstance(body.get(key), list):
            return body[key]
    return []


def _as_int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def next_page(body: Any, params: dict[str, Any], items_key: str | None = None) -> Page:
    """Records of this page and the paging params of the next one (None when this is the last)."""
    items = _items(body, items_key)
    if not items or not isinstance(body, dict):
        return Page(items, None)
    current = _as_int(params.get("page"), 1)
    if "next" in body and ("count" in body or "previous" in body):  # DRF
        link = body.get("next")
        if not link:
            return Page(items, None)
        query = parse_qs(urlsplit(str(link)).query)
        nxt = {k: query[k][0] for k in PAGING_PARAMS if k in query}
        return Page(items, nxt or None)
    pagination = body.get("pagination")
    if isinstance(pagination, dict):
        page = _as_int(pagination.get("page", pagination.get("current_page")), current)
        has_next = pagination.get("has_next")
        if has_next is None:
            has_next = page < _as_int(pagination.get("total_pages"), page)
        return Page(items, {"page": page + 1} if has_next else None)
    if "total_pages" in body:  # financial details
        page = _as_int(body.get("page"), current)
        return Page(items, {"page": page + 1} if page < _as_int(body["total_pages"], page) else None)
    return Page(items, None)
