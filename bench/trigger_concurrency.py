"""1,000 IblaiReportTriggers in one event loop against the fake server (in its own process).

Measures what a triggerer cares about:

* event-loop lag: a ticker sleeps 10 ms in a loop; the overshoot is how late every other
  coroutine on the loop (other triggers, the triggerer's own heartbeat) gets to run. Goal p99 <= 20 ms.
* wall time vs the ideal: a report needing ``P`` polls is seen finished ``(P - 1) * poll_interval``
  after the first poll at best; goal <= 1.2x (per trigger, median and worst).
* peak TCP sockets held by this process (``/proc/self/fd`` matched against ``/proc/self/net/tcp*``).

and, to justify the async client of :class:`~iblai_provider.hooks.iblai.IblaiAsyncHook` (aiohttp),
runs the same polling schedule with bare clients: one shared ``httpx.AsyncClient`` (no hook; the
other candidate, in Airflow core's own dependencies), one shared ``aiohttp.ClientSession``, and measures what building a client costs (a client per poll would pay it
1,000 times per interval, blocking the loop each time).

Run (about a minute)::

    python bench/trigger_concurrency.py                     # 1,000 triggers, 5 s interval (200 polls/s), 3 polls
    python bench/trigger_concurrency.py --poll-interval 2   # stress: 500 polls/s
    python bench/trigger_concurrency.py --in-phase          # all triggers start at once (worst case)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPORT = "ai-mentor-chat-history"


# -- measurement helpers --------------------------------------------------------------------------


def tcp_sockets() -> int:
    """TCP sockets open in this process: socket fds whose inode is listed in /proc/self/net/tcp(6)."""
    inodes: set[str] = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            with open(table) as fh:
                next(fh)
                inodes.update(line.split()[9] for line in fh)
        except OSError:
            pass
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            count += 1
    return count


class SocketSampler(threading.Thread):
    """Samples the TCP socket count every 100 ms off the event loop."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            self.peak = max(self.peak, tcp_sockets())


async def ticker(lags: list[float], done: asyncio.Event, period: float = 0.01) -> None:
    loop = asyncio.get_running_loop()
    while not done.is_set():
        start = loop.time()
        await asyncio.sleep(period)
        lags.append(loop.time() - start - period)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# -- the fake server in its own process -----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(report_polls: int) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "iblai_provider.testing.server", "--port", str(free_port()),
           "--report-polls", str(report_polls)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert proc.stdout is not None
    for line in proc.stdout:
        match = re.match(r"AIRFLOW_CONN_IBLAI_DEFAULT='(.*)'$", line.strip())
        if match:
            # Keep draining its output so the server never blocks on a full pipe.
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            return proc, match.group(1)
    raise RuntimeError("fake server did not start")


# -- one measured run -----------------------------------------------------------------------------


async def create_reports(mentors: list[str]) -> None:
    from iblai_provider.hooks.iblai import IblaiAsyncHook

    hook = IblaiAsyncHook()
    settings = await hook.get_settings()
    path = f"/api/reports/platforms/{settings.org}/new"
    gate = asyncio.Semaphore(64)

    async def one(mentor: str) -> None:
        async with gate:
            await hook.request("POST", path, json={"report_name": REPORT, "mentor": mentor}, idempotent=True)

    await asyncio.gather(*(one(m) for m in mentors))


async def measure(
    name: str, waiters: list[Callable[[], Awaitable[Any]]], stagger: float, ideal: float
) -> dict[str, Any]:
    """Start every waiter (spread over ``stagger`` seconds), time each, watch the loop and sockets."""
    lags: list[float] = []
    done = asyncio.Event()
    sampler = SocketSampler()
    sampler.start()
    tick = asyncio.create_task(ticker(lags, done))
    durations: list[float] = []
    results: list[Any] = []

    async def timed(index: int, waiter: Callable[[], Awaitable[Any]]) -> None:
        await asyncio.sleep(stagger * index / max(len(waiters), 1))
        start = time.monotonic()
        results.append(await waiter())
        durations.append(time.monotonic() - start)

    cpu, wall = time.process_time(), time.monotonic()
    await asyncio.gather(*(timed(i, w) for i, w in enumerate(waiters)))
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    done.set()
    await tick
    sampler.stop.set()
    sampler.join()
    return {
        "variant": name,
        "n": len(waiters),
        "ok": sum(1 for r in results if r == "success"),
        "lag_p50_ms": 1000 * pct(lags, 0.50),
        "lag_p99_ms": 1000 * pct(lags, 0.99),
        "lag_max_ms": 1000 * max(lags, default=float("nan")),
        "per_trigger_p50_x": statistics.median(durations) / ideal,
        "per_trigger_max_x": max(durations) / ideal,
        "wall_s": wall,
        "wall_ideal_s": stagger + ideal,
        "wall_x": wall / (stagger + ideal),
        "cpu_s": cpu,
        "peak_tcp_sockets": sampler.peak,
    }


def hook_waiters(mentors: list[str], interval: float) -> list[Callable[[], Awaitable[Any]]]:
    from iblai_provider.triggers.reports import IblaiReportTrigger

    def make(mentor: str) -> Callable[[], Awaitable[Any]]:
        async def wait() -> Any:
            trigger = IblaiReportTrigger(REPORT, time.time() + 600, mentor_unique_id=mentor, poll_interval=interval)
            event = await anext(trigger.run())
            return event.payload["status"]

        return wait

    return [make(m) for m in mentors]


def raw_waiters(
    mentors: list[str], interval: float, get_json: Callable[[str], Awaitable[Any]]
) -> list[Callable[[], Awaitable[Any]]]:
    """The trigger's schedule without the hook: poll, evaluate, sleep — only the client differs."""
    from iblai_provider.utils.report_state import evaluate

    def make(mentor: str) -> Callable[[], Awaitable[Any]]:
        async def wait() -> Any:
            while True:
                body = await get_json(mentor)
                verdict = evaluate(body["data"]["status"], REPORT, mentor)
                if verdict.finished:
                    return "failed" if verdict.failed else "success"
                await asyncio.sleep(interval)

        return wait

    return [make(m) for m in mentors]


async def client_costs(repeat: int = 20) -> dict[str, float]:
    """Milliseconds of (blocking) work to build one client, and to build + close one."""
    import aiohttp
    import httpx

    out: dict[str, float] = {}
    start = time.perf_counter()
    clients = [httpx.AsyncClient() for _ in range(repeat)]
    out["httpx_build_ms"] = 1000 * (time.perf_counter() - start) / repeat
    for client in clients:
        await client.aclose()
    start = time.perf_counter()
    sessions = [aiohttp.ClientSession() for _ in range(repeat)]
    out["aiohttp_build_ms"] = 1000 * (time.perf_counter() - start) / repeat
    for session in sessions:
        await session.close()
    return out


async def run_all(args: argparse.Namespace, conn: dict[str, Any]) -> list[dict[str, Any]]:
    import aiohttp
    import httpx

    from iblai_provider.hooks import _async_session as session_module

    pool = session_module.POOL_CONNECTIONS
    base, key, org = conn["host"], conn["password"], conn["extra"]["org"]
    url = f"{base}/api/reports/platforms/{org}/{REPORT}"
    headers = {"Authorization": f"Api-Token {key}", "Accept": "application/json"}
    ideal = (args.report_polls - 1) * args.poll_interval
    stagger = 0.0 if args.in_phase else args.poll_interval
    rows = []
    for variant in args.variants.split(","):
        mentors = [str(uuid.uuid4()) for _ in range(args.triggers)]
        await create_reports(mentors)
        if variant == "hook":
            waiters = hook_waiters(mentors, args.poll_interval)
            rows.append(await measure("hook (shared aiohttp)", waiters, stagger, ideal))
            await session_module.close_shared_sessions()
        elif variant == "httpx":
            limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
            async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(60, pool=None)) as client:

                async def get_httpx(mentor: str, client: httpx.AsyncClient = client) -> Any:
                    response = await client.get(url, params={"mentor_unique_id": mentor}, headers=headers)
                    response.raise_for_status()
                    return response.json()

                rows.append(await measure("bare httpx (shared)", raw_waiters(mentors, args.poll_interval, get_httpx),
                                          stagger, ideal))
        elif variant == "aiohttp":
            connector = aiohttp.TCPConnector(limit=pool)
            async with aiohttp.ClientSession(connector=connector) as session:

                async def get_aiohttp(mentor: str, session: aiohttp.ClientSession = session) -> Any:
                    async with session.get(url, params={"mentor_unique_id": mentor}, headers=headers) as response:
                        response.raise_for_status()
                        return await response.json()

                rows.append(await measure("bare aiohttp (shared)",
                                          raw_waiters(mentors, args.poll_interval, get_aiohttp), stagger, ideal))
        else:
            raise SystemExit(f"unknown variant {variant!r}; use hook, httpx, aiohttp")
    await session_module.close_shared_sessions()  # create_reports used the hook too
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--triggers", type=int, default=1000)
    parser.add_argument("--poll-interval", type=float, default=5.0)
    parser.add_argument("--report-polls", type=int, default=3)
    parser.add_argument("--variants", default="hook,httpx,aiohttp")
    parser.add_argument("--pool", type=int, default=0, help="override the hook's connection pool size "
                        "(POOL_CONNECTIONS) for this run; 0 keeps it")
    parser.add_argument("--in-phase", action="store_true", help="start all triggers at once instead of "
                        "spread over one poll interval (as triggers deferred at different times are)")
    args = parser.parse_args()
    import iblai_provider.triggers.reports  # noqa: F401 - imports Airflow, which configures logging first

    # One log line per state change x 1,000 triggers would measure the terminal, not the loop.
    logging.disable(logging.INFO)
    if args.pool:
        import iblai_provider.hooks._async_session as session_module

        session_module.POOL_CONNECTIONS = args.pool  # read when the shared session is built

    proc, conn_text = start_server(args.report_polls)
    os.environ["AIRFLOW_CONN_IBLAI_DEFAULT"] = conn_text
    try:
        rows = asyncio.run(run_all(args, json.loads(conn_text)))
        costs = asyncio.run(client_costs())
    finally:
        proc.terminate()
        proc.wait(10)

    mode = "in phase" if args.in_phase else f"spread over {args.poll_interval:g} s"
    from iblai_provider.hooks._async_session import POOL_CONNECTIONS

    print(f"\n{args.triggers} triggers, poll interval {args.poll_interval:g} s, report done after "
          f"{args.report_polls} polls, starts {mode}; ideal per trigger {(args.report_polls - 1) * args.poll_interval:g} s; "
          f"pool {POOL_CONNECTIONS} connections; load average {os.getloadavg()[0]:.2f}")
    header = (f"{'variant':<22}{'ok':>6}{'lag p50':>10}{'lag p99':>10}{'lag max':>11}{'trig p50':>10}"
              f"{'trig max':>10}{'wall':>9}{'wall x':>8}{'cpu s':>7}{'sockets':>9}")
    print(header)
    for r in rows:
        print(f"{r['variant']:<22}{r['ok']:>6}{r['lag_p50_ms']:>8.1f}ms{r['lag_p99_ms']:>8.1f}ms{r['lag_max_ms']:>9.1f}ms"
              f"{r['per_trigger_p50_x']:>9.2f}x{r['per_trigger_max_x']:>9.2f}x{r['wall_s']:>8.2f}s{r['wall_x']:>7.2f}x"
              f"{r['cpu_s']:>7.2f}{r['peak_tcp_sockets']:>9}")
    print(f"client construction (blocking, per client): httpx {costs['httpx_build_ms']:.1f} ms, "
          f"aiohttp {costs['aiohttp_build_ms']:.1f} ms; a client per poll would block the loop "
          f"{args.triggers * costs['httpx_build_ms'] / 1000:.1f} s (httpx) per round of {args.triggers} polls")


if __name__ == "__main__":
    main()
