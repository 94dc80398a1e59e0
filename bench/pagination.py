"""Benchmark: paging 100,000 analytics records (1,000 pages of 100) through ``IblaiHook.paginate``
versus a hand-written keep-alive ``requests`` loop, in the same run, against the fake server
running in a subprocess; then the hook's peak memory while iterating, for several page sizes and
totals (it must follow the page size, not the total).

Usage (from the repository root)::

    python bench/pagination.py [--rounds 5] [--no-readme]

The server side is the fake ibl.ai server plus one synthetic route, ``/api/analytics/bench/``,
which serves conversation-list items (``messages/`` shaped, P8 pagination) computed from their
index, so both clients read the same bytes and the server's own cost stays flat. Prints the
figures and writes them into the "Analytics pagination" section of ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import re
import socket
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PATH = "/api/analytics/bench/"
KEY = "b" * 64
TOTAL, LIMIT = 100_000, 100
SECTION = "## Analytics pagination: `bench/pagination.py`"


def _item(i: int) -> dict:
    return {
        "platform_name": "Acme Academy",
        "platform_key": "acme",
        "mentor": "Tutor",
        "mentor_unique_id": "d5a47a86-eec2-43d5-b48f-58075dfcdd0b",
        "model": "gpt-4o-mini",
        "cost": f"0.{i % 100000:05d}",
        "username": f"learner{i % 5000}",
        "name": f"Learner {i % 5000}",
        "first_user_message": f"Can you help me with question {i}?",
        "topics": ["Algebra", "Geometry"],
        "message_count": 2 + i % 20,
        "user_queries": 1 + i % 10,
        "assistant_responses": 1 + i % 10,
        "average_sentiment": round((i % 200) / 100 - 1, 2),
        "sentiment": ("positive", "neutral", "negative")[i % 3],
        "created_at": f"2026-06-{1 + i % 30:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
        "platform": 1,
        "session": f"00000000-0000-4000-8000-{i:012d}",
        "user": 100 + i % 5000,
    }


def serve(port: int) -> None:
    """Run the fake server with the synthetic route (the subprocess side)."""
    from iblai_provider.testing.http import Request, Response
    from iblai_provider.testing.server import FakeIblaiServer

    server = FakeIblaiServer(port=port, api_key=KEY)

    @server.route("GET", PATH)
    def bench_page(request: Request) -> Response:
        total, limit = int(request.arg("total", str(TOTAL))), int(request.arg("limit", str(LIMIT)))
        page = int(request.arg("page", "1"))
        pages = max(1, math.ceil(total / limit))
        start = (page - 1) * limit
        results = [_item(i) for i in range(start, min(start + limit, total))]
        return Response.json(
            {
                "summary": {"total_conversations": total},
                "results": results,
                "pagination": {
                    "page": page,
                    "limit": limit,
                    "total_pages": pages,
                    "total_records": total,
                    "has_next": page < pages,
                    "has_previous": page > 1,
                    "next_page": page + 1 if page < pages else None,
                    "previous_page": page - 1 if page > 1 else None,
                },
            }
        )

    server.serve_forever()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"fake server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("fake server did not start")


def hand_written(base: str, total: int = TOTAL, limit: int = LIMIT) -> int:
    """The baseline a user would write: one keep-alive session, follow has_next."""
    import requests

    count, page = 0, 1
    with requests.Session() as session:
        session.headers["Authorization"] = f"Api-Token {KEY}"
        while True:
            response = session.get(base + PATH, params={"total": total, "limit": limit, "page": page}, timeout=60)
            response.raise_for_status()
            body = response.json()
            count += len(body["results"])
            if not body["pagination"]["has_next"]:
                return count
            page += 1


def through_hook(total: int = TOTAL, limit: int = LIMIT, parse_float: type | None = None) -> int:
    from iblai_provider.hooks.iblai import IblaiHook

    count = 0
    for _ in IblaiHook().paginate(PATH, {"total": total, "limit": limit}, parse_float=parse_float):
        count += 1
    return count


def peak_bytes(total: int, limit: int) -> int:
    """tracemalloc peak while the hook iterates (records are consumed, not kept)."""
    from iblai_provider.hooks.iblai import IblaiHook

    hook = IblaiHook()
    hook.get(PATH, {"total": 1, "limit": 1})  # session, connection and imports outside the measurement
    gc.collect()
    tracemalloc.start()
    count = sum(1 for _ in hook.paginate(PATH, {"total": total, "limit": limit}))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == total, count
    return peak


def _timed(fn, *args, **kwargs) -> float:
    gc.collect()
    start = time.perf_counter()
    assert fn(*args, **kwargs) == kwargs.get("total", TOTAL)
    return time.perf_counter() - start


def _write_readme(lines: list[str]) -> None:
    readme = ROOT / "bench" / "README.md"
    text = readme.read_text() if readme.exists() else "# Benchmarks\n"
    block = SECTION + "\n\n" + "\n".join(lines) + "\n"
    pattern = re.compile(re.escape(SECTION) + r"\n.*?(?=\n## |\Z)", re.S)
    text = (
        pattern.sub(lambda _m: block.rstrip("\n") + "\n", text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block
    )
    readme.write_text(text if text.endswith("\n") else text + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port)],
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        _wait(port, proc)
        base = f"http://127.0.0.1:{port}/dm"
        os.environ["AIRFLOW_CONN_IBLAI_DEFAULT"] = json.dumps(
            {"conn_type": "iblai", "host": base, "login": "admin", "password": KEY, "extra": {"org": "acme"}}
        )
        through_hook(total=1000)  # warm up imports and connection lookup on both sides
        hand_written(base, total=1000)
        hook_s, base_s, dec_s = [], [], []
        for _ in range(args.rounds):  # interleaved, so machine noise hits both alike
            base_s.append(_timed(hand_written, base, total=TOTAL))
            hook_s.append(_timed(through_hook, total=TOTAL))
            dec_s.append(_timed(through_hook, total=TOTAL, parse_float=__import__("decimal").Decimal))
        best_hook, best_base, best_dec = min(hook_s), min(base_s), min(dec_s)
        peaks = {(t, lim): peak_bytes(t, lim) for t, lim in ((20_000, 100), (100_000, 100), (20_000, 20), (20_000, 50))}
    finally:
        proc.terminate()
        proc.wait(10)
    pages = TOTAL // LIMIT
    lines = [
        f"{TOTAL:,} records over {pages:,} pages of {LIMIT} "
        f"(messages/-shaped items, ~{len(json.dumps(_item(0)))} B each)",
        "from the fake server in a subprocess on loopback; best of "
        f"{args.rounds} interleaved rounds, `python bench/pagination.py`:",
        "",
        "| client | seconds | records/s | vs hand-written |",
        "|---|---|---|---|",
        f"| hand-written keep-alive `requests` loop | {best_base:.2f} | {TOTAL / best_base:,.0f} | 1.00x |",
        f"| `IblaiHook.paginate` | {best_hook:.2f} | {TOTAL / best_hook:,.0f} | {best_base / best_hook:.2f}x |",
        f"| `IblaiHook.paginate(parse_float=Decimal)` (what `iter_analytics` does) | {best_dec:.2f} | "
        f"{TOTAL / best_dec:,.0f} | {best_base / best_dec:.2f}x |",
        "",
        f"Goal: hook >= 0.9x the hand-written loop. Measured: **{best_base / best_hook:.2f}x**.",
        "",
        "Peak memory (tracemalloc) while the hook iterates, records consumed as they come:",
        "",
        "| total records | page size | peak |",
        "|---|---|---|",
        *[f"| {t:,} | {lim} | {p / 1024:,.0f} KiB |" for (t, lim), p in peaks.items()],
        "",
        "The peak follows the page size and not the total (20k and 100k records at 100 a page peak alike): O(page).",
        f"Measured on {time.strftime('%Y-%m-%d')}, Python {sys.version.split()[0]}, {os.cpu_count()} cores (shared).",
    ]
    print("\n".join(lines))
    if not args.no_readme:
        _write_readme(lines)


if __name__ == "__main__":
    main()
