"""``IblaiHook.paginate`` over real HTTP, for each envelope of API reference §6.

Each test mounts a small route on the fake server that pages ``N`` numbered records in one
envelope style, so the paging logic is checked against real requests, not a mocked client.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest

from iblai_provider.exceptions import IblaiApiError
from iblai_provider.hooks.iblai import IblaiHook
from iblai_provider.testing import FakeIblaiServer, HttpError
from iblai_provider.testing.http import Request, Response

PATH = "/api/test/items/"


def _slice(total: int, page: int, size: int) -> list[dict[str, int]]:
    return [{"n": n} for n in range((page - 1) * size, min(page * size, total))]


def mount(server: FakeIblaiServer, style: str, total: int, size: int = 10, empty_from: int | None = None) -> None:
    """Serve ``total`` records as ``style``; pages from ``empty_from`` on come back empty."""

    @server.route("GET", PATH)
    def items(request: Request) -> Response:
        url = server.base_url + PATH
        if style == "limit_offset":
            limit, offset = int(request.arg("limit", size)), int(request.arg("offset", 0))
            page = offset // limit + 1
            rows = [{"n": n} for n in range(offset, min(offset + limit, total))]
        else:
            limit = int(request.arg("page_size" if style == "page_number" else "limit", size))
            page = int(request.arg("page", 1))
            rows = _slice(total, page, limit)
        if empty_from is not None and page >= empty_from:
            rows = []
        pages = max(1, -(-total // limit))
        body: dict[str, Any]
        if style == "page_number":
            nxt = f"{url}?page={page + 1}&page_size={limit}" if page < pages else None
            body = {"count": total, "next": nxt, "previous": None, "results": rows}
        elif style == "limit_offset":
            nxt = f"http://elsewhere.example/x?limit={limit}&offset={offset + limit}" if offset + limit < total else None
            body = {"count": total, "next": nxt, "previous": None, "results": rows}
        elif style == "analytics":
            body = {
                "results": rows,
                "pagination": {"page": page, "limit": limit, "total_pages": pages, "total_records": total,
                               "has_next": page < pages, "has_previous": page > 1},
            }
        elif style == "analytics_current_page":  # learners/: no has_next, current_page + total_pages
            body = {"results": rows, "pagination": {"total_items": total, "current_page": page, "per_page": limit,
                                                    "total_pages": pages}}
        elif style == "financial":
            if page > pages:
                raise HttpError(404, {"detail": "Invalid page."})
            body = {"page": page, "limit": limit, "total_pages": pages, "total_records": total, "rows": rows,
                    "total_cost": "4.00000"}
        else:
            raise AssertionError(style)
        return Response.json(body)


STYLES = ["page_number", "limit_offset", "analytics", "analytics_current_page", "financial"]


@pytest.mark.parametrize("style", STYLES)
def test_reads_every_page(iblai_conn: FakeIblaiServer, style: str) -> None:
    mount(iblai_conn, style, total=45, size=10)
    first = {"limit": 10} if style in ("limit_offset", "analytics", "analytics_current_page", "financial") else {"page_size": 10}

    items = list(IblaiHook().paginate(PATH, first))

    assert [i["n"] for i in items] == list(range(45))
    assert len(iblai_conn.requests_to(PATH)) == 5


@pytest.mark.parametrize("style", STYLES)
def test_zero_results(iblai_conn: FakeIblaiServer, style: str) -> None:
    mount(iblai_conn, style, total=0)
    assert list(IblaiHook().paginate(PATH)) == []
    assert len(iblai_conn.requests_to(PATH)) == 1


@pytest.mark.parametrize("style", STYLES)
def test_stops_on_empty_page(iblai_conn: FakeIblaiServer, style: str) -> None:
    mount(iblai_conn, style, total=100, size=10, empty_from=3)
    items = list(IblaiHook().paginate(PATH))
    assert len(items) == 20
    assert len(iblai_conn.requests_to(PATH)) == 3


def test_drf_next_link_host_is_never_followed(iblai_conn: FakeIblaiServer) -> None:
    """limit/offset ``next`` points at another host: only its query is used, on the API host."""
    mount(iblai_conn, "limit_offset", total=25, size=10)
    assert len(list(IblaiHook().paginate(PATH, {"limit": 10}))) == 25
    offsets = [r.query.get("offset", ["0"])[0] for r in iblai_conn.requests_to(PATH)]
    assert offsets == ["0", "10", "20"]
    assert all(r.auth == "valid" for r in iblai_conn.requests_to(PATH))


def test_404_past_the_end_ends_iteration_but_not_on_first_page(iblai_conn: FakeIblaiServer) -> None:
    @iblai_conn.route("GET", "/api/test/content/")
    def content(request: Request) -> Response:
        page = int(request.arg("page", 1))
        if page > 2:
            raise HttpError(404, {"detail": "Page out of range."})
        # claims there is more, then 404s: the content endpoints do this past the end
        return Response.json({"results": [{"p": page}], "pagination": {"page": page, "has_next": True}})

    assert [i["p"] for i in IblaiHook().paginate("/api/test/content/")] == [1, 2]
    with pytest.raises(IblaiApiError):
        list(IblaiHook().paginate("/api/test/missing/"))


def test_is_lazy_and_holds_one_page(iblai_conn: FakeIblaiServer) -> None:
    mount(iblai_conn, "analytics", total=5000, size=100)
    pages = IblaiHook().paginate(PATH, {"limit": 100})
    next(pages)
    assert len(iblai_conn.requests_to(PATH)) == 1  # nothing fetched ahead

    tracemalloc.start()
    count = sum(1 for _ in pages)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 4999
    # 50 pages of 100 small records: the peak stays near one page (a few hundred KB), not 50.
    assert peak < 2_000_000


def test_repeated_keys_for_list_params(iblai_conn: FakeIblaiServer) -> None:
    mount(iblai_conn, "analytics", total=3)
    list(IblaiHook().paginate(PATH, {"usergroup_ids": [1, 2]}))
    (seen,) = iblai_conn.requests_to(PATH)
    assert seen.query["usergroup_ids"] == ["1", "2"]
