"""The fake ibl.ai server: the documented API on loopback, for tests, demos and users' own DAG tests.

Start it from a shell::

    python -m iblai_provider.testing.server --port 8787

or from Python (``with FakeIblaiServer() as server: ...``), or through the pytest fixture in
:mod:`iblai_provider.testing.pytest_plugin`. Routes live in :mod:`iblai_provider.testing.routes`,
one module per API family. Standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import re
import secrets
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from iblai_provider.testing.faults import Faults, fault_response
from iblai_provider.testing.http import HttpServer, Request, Response

PREFIX = "/dm"
CONTROL_PREFIX = "/_fake"


class HttpError(Exception):
    """Raised by a route handler to answer with an error body (DRF style)."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


@dataclass
class RecordedRequest:
    """What the server saw. ``auth`` says how the request authenticated; the key itself is dropped."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    auth: str  # "valid" | "invalid" | "missing"
    time: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body.decode("utf-8", "replace"),
            "auth": self.auth,
            "time": self.time,
        }


@dataclass
class Route:
    method: str
    regex: re.Pattern[str]
    handler: Callable[..., Any]
    auth: bool


class FakeIblaiServer:
    """An in-memory ibl.ai Data Manager.

    :param host: interface to bind; loopback by default.
    :param port: port to bind; 0 picks a free one.
    :param api_key: the one valid ``Api-Token``; a random 64-hex key when omitted.
    :param org: the platform key the key belongs to.
    :param username: the user the key belongs to.
    :param report_polls: status polls a report takes to complete (0: done at creation).
    :param report_seconds: if set, reports complete after this many seconds instead.
    :param report_rows: data lines in each report CSV (``report_bytes`` wins when set).
    :param report_bytes: approximate CSV size in bytes, for large-download tests.
    :param url_ttl: lifetime in seconds of presigned download URLs.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        org: str = "acme",
        username: str = "admin",
        report_polls: int = 3,
        report_seconds: float | None = None,
        report_rows: int = 250,
        report_bytes: int | None = None,
        url_ttl: int = 3600,
        agent_run_seconds: float = 1.0,
    ) -> None:
        self.api_key = api_key or secrets.token_hex(32)
        self.org = org
        self.username = username
        self.report_polls = report_polls
        self.report_seconds = report_seconds
        self.report_rows = report_rows
        self.report_bytes = report_bytes
        self.url_ttl = url_ttl
        self.agent_run_seconds = agent_run_seconds
        self.signing_secret = secrets.token_bytes(32)
        self.faults = Faults()
        self.requests: list[RecordedRequest] = []
        self.routes: list[Route] = []
        self.state: dict[str, Any] = {}  # per-family stores, owned by the route modules
        self._http = HttpServer(self._dispatch, host, port)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._register_routes()

    # -- routing -----------------------------------------------------------------------------

    def route(self, method: str, pattern: str, *, auth: bool = True) -> Callable[[Callable[..., Any]], Any]:
        """Register ``handler(request)`` for ``method`` and a path regex below ``/dm``."""

        def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
            prefix = PREFIX if auth else ""
            self.routes.append(Route(method.upper(), re.compile(prefix + pattern + r"\Z"), handler, auth))
            return handler

        return decorator

    def _register_routes(self) -> None:
        from iblai_provider.testing import routes

        for module in routes.MODULES:
            module.register(self)
        _register_control_routes(self)

    # -- addresses ---------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self._http.host

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The connection host: API paths are appended to it as ``/api/...``."""
        return self.root_url + PREFIX

    def connection_uri_json(self, conn_type: str = "iblai") -> str:
        """The ``AIRFLOW_CONN_IBLAI_DEFAULT`` value that points Airflow at this server."""
        return json.dumps(
            {
                "conn_type": conn_type,
                "host": self.base_url,
                "login": self.username,
                "password": self.api_key,
                "extra": {"org": self.org, "backoff_initial": 0.05, "backoff_max": 1.0},
            }
        )

    @property
    def peak_connections(self) -> int:
        return self._http.peak_connections

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeIblaiServer:
        """Serve from a daemon thread; returns once the port is bound."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._http.start())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._http.close())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-iblai", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None
            self._thread = None

    def serve_forever(self) -> None:
        """Serve in the foreground until SIGINT/SIGTERM (the command-line entry point)."""

        async def main() -> None:
            await self._http.start()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            self._loop = loop
            print(f"fake ibl.ai server listening on {self.base_url}", flush=True)
            print(f"api key: {self.api_key}", flush=True)
            print(f"AIRFLOW_CONN_IBLAI_DEFAULT='{self.connection_uri_json()}'", flush=True)
            await stop.wait()
            await self._http.close()

        asyncio.run(main())

    def __enter__(self) -> FakeIblaiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call_later(self, delay: float, callback: Callable[[], Any]) -> None:
        """Schedule ``callback`` on the server's loop (used by simulated runs)."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._loop.call_later, delay, callback)

    # -- inspection for tests ----------------------------------------------------------------

    def requests_to(self, path_regex: str, method: str | None = None) -> list[RecordedRequest]:
        """Recorded API requests whose path matches ``path_regex`` (searched), optionally by method."""
        rx = re.compile(path_regex)
        return [
            r
            for r in list(self.requests)
            if rx.search(r.path) and (method is None or r.method == method.upper())
        ]

    def reset(self) -> None:
        """Forget recorded requests and faults (stored data stays)."""
        self.requests.clear()
        self.faults.clear()

    # -- dispatch ----------------------------------------------------------------------------

    def _auth_state(self, request: Request) -> str:
        header = request.headers.get("authorization")
        if not header:
            return "missing"
        scheme, _, key = header.partition(" ")
        if scheme == "Api-Token" and secrets.compare_digest(key.strip(), self.api_key):
            return "valid"
        return "invalid"

    async def _dispatch(self, request: Request) -> Response:
        control = request.path.startswith(CONTROL_PREFIX)
        auth = self._auth_state(request)
        if not control:
            headers = {k: v for k, v in request.headers.items() if k != "authorization"}
            self.requests.append(
                RecordedRequest(request.method, request.path, request.query, headers, request.body, auth)
            )
        fault = None if control else self.faults.take(request.method, request.path)
        if fault is not None:
            if fault.kind == "delay":
                await asyncio.sleep(fault.seconds)
            canned = fault_response(fault)
            if canned is not None:
                return canned
        response = await self._route(request, auth)
        if fault is not None and fault.kind == "truncate":
            response.truncate_at = fault.after_bytes
        elif fault is not None and fault.kind == "reset_mid_body":
            response.reset_at = fault.after_bytes
        return response

    async def _route(self, request: Request, auth: str) -> Response:
        allowed: list[str] = []
        for route in self.routes:
            match = route.regex.match(request.path)
            if match is None:
                continue
            if route.method != request.method:
                allowed.append(route.method)
                continue
            if route.auth and auth != "valid":
                detail = "Invalid token." if auth == "invalid" else "Authentication credentials were not provided."
                return Response.json({"detail": detail}, status=401, headers={"WWW-Authenticate": "Api-Token"})
            request.params = match.groupdict()
            try:
                result = route.handler(request)
                if inspect.isawaitable(result):
                    result = await result
                return result
            except HttpError as exc:
                return Response.json(exc.body, status=exc.status)
            except Exception:  # a bug in the fake: make it visible, answer 500 like a real server
                traceback.print_exc(file=sys.stderr)
                return Response.json({"detail": "A server error occurred."}, status=500)
        if allowed:
            return Response.json({"detail": f'Method "{request.method}" not allowed.'}, status=405)
        return Response.json({"detail": "Not found."}, status=404)


def _register_control_routes(server: FakeIblaiServer) -> None:
    """``/_fake/...``: drive a server running in another process (faults, records, settings)."""

    @server.route("GET", CONTROL_PREFIX + "/requests", auth=False)
    def list_requests(request: Request) -> Response:
        return Response.json([r.to_dict() for r in server.requests])

    @server.route("DELETE", CONTROL_PREFIX + "/requests", auth=False)
    def clear_requests(request: Request) -> Response:
        server.requests.clear()
        return Response.empty()

    @server.route("GET", CONTROL_PREFIX + "/faults", auth=False)
    def list_faults(request: Request) -> Response:
        return Response.json(server.faults.list())

    @server.route("POST", CONTROL_PREFIX + "/faults", auth=False)
    def add_fault(request: Request) -> Response:
        spec = request.json() or {}
        try:
            fault = server.faults.add(**spec)
        except (TypeError, ValueError, re.error) as exc:
            raise HttpError(400, {"error": str(exc)}) from None
        return Response.json(fault.to_dict(), status=201)

    @server.route("DELETE", CONTROL_PREFIX + "/faults", auth=False)
    def clear_faults(request: Request) -> Response:
        server.faults.clear()
        return Response.empty()

    settable = ("report_polls", "report_seconds", "report_rows", "report_bytes", "url_ttl", "agent_run_seconds")

    @server.route("POST", CONTROL_PREFIX + "/config", auth=False)
    def set_config(request: Request) -> Response:
        changes = request.json() or {}
        unknown = sorted(set(changes) - set(settable))
        if unknown:
            raise HttpError(400, {"error": f"unknown settings {unknown}; settable: {list(settable)}"})
        for name, value in changes.items():
            setattr(server, name, value)
        return Response.json({name: getattr(server, name) for name in settable})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the fake ibl.ai API server on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--api-key", default=None, help="the valid Api-Token (default: random)")
    parser.add_argument("--org", default="acme")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--report-polls", type=int, default=3)
    parser.add_argument("--report-seconds", type=float, default=None)
    parser.add_argument("--report-rows", type=int, default=250)
    parser.add_argument("--report-bytes", type=int, default=None)
    parser.add_argument("--url-ttl", type=int, default=3600)
    parser.add_argument("--agent-run-seconds", type=float, default=1.0)
    # Option names are the constructor's keyword names.
    FakeIblaiServer(**vars(parser.parse_args(argv))).serve_forever()


if __name__ == "__main__":
    main()
