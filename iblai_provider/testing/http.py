"""A small asyncio HTTP/1.1 server: just enough protocol for the fake ibl.ai API.

Written on asyncio streams rather than ``http.server`` so that one thread serves thousands of
keep-alive connections (the trigger benchmark), streams multi-GiB bodies without buffering them,
and can misbehave on purpose (reset a connection, stop a body short) for fault-injection tests.
Standard library only: it must import without Airflow.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

MAX_HEAD_BYTES = 64 * 1024


@dataclass
class Request:
    """One parsed request. ``query`` keeps repeated keys (``usergroup_ids=1&usergroup_ids=2``)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)  # path parameters from the route regex

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body)


Body = bytes | Iterable[bytes] | AsyncIterator[bytes]


@dataclass
class Response:
    """A response. ``body`` may be bytes or an (async) iterator of chunks for streaming.

    ``truncate_at``/``reset_at`` make the server stop after that many body bytes, closing
    cleanly (FIN) or with a TCP reset (RST): the fault-injection knobs for broken downloads.
    """

    status: int = 200
    body: Body = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_length: int | None = None
    truncate_at: int | None = None
    reset_at: int | None = None
    reset_before_head: bool = False

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        raw = json.dumps(data, separators=(",", ":"), default=str).encode()
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        return cls(status=status, body=raw, headers=hdrs)

    @classmethod
    def empty(cls, status: int = 204) -> Response:
        return cls(status=status, body=b"")


Handler = Callable[[Request], "Response | Awaitable[Response]"]


class HttpServer:
    """Serve ``dispatch(request) -> Response`` over HTTP/1.1 with keep-alive.

    Run it on an event loop of its own; :class:`~iblai_provider.testing.server.FakeIblaiServer`
    does that in a thread or in the foreground.
    """

    def __init__(self, dispatch: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        self._dispatch = dispatch
        self.host = host
        self.port = port
        self._server: asyncio.base_events.Server | None = None
        self.open_connections = 0
        self.peak_connections = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve_connection, self.host, self.port, limit=MAX_HEAD_BYTES, backlog=4096
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        # Do not wait for idle keep-alive connections: cancel them so the loop can close cleanly.
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open_connections += 1
        self.peak_connections = max(self.peak_connections, self.open_connections)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                result = self._dispatch(request)
                response = await result if asyncio.iscoroutine(result) else result
                keep_going = await _write_response(writer, request, response)
                if not keep_going or request.headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:  # server shutdown: end quietly
            pass
        finally:
            self.open_connections -= 1
            self._tasks.discard(task)  # type: ignore[arg-type]
            if not writer.is_closing():
                writer.close()


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    body = await reader.readexactly(length) if length else b""
    split = urlsplit(target)
    return Request(
        method=method.upper(),
        path=unquote(split.path),  # routes see decoded paths, as Django views do
        query=parse_qs(split.query, keep_blank_values=True),
        headers=headers,
        body=body,
    )


async def _chunks(body: Body) -> AsyncIterator[bytes]:
    if isinstance(body, bytes | bytearray):
        if body:
            yield bytes(body)
    elif hasattr(body, "__aiter__"):
        async for chunk in body:  # type: ignore[union-attr]
            yield chunk
    else:
        for chunk in body:  # type: ignore[union-attr]
            yield chunk


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with RST rather than FIN: what a crashed peer or a proxy reset looks like."""
    sock: socket.socket | None = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _write_response(writer: asyncio.StreamWriter, request: Request, response: Response) -> bool:
    """Write ``response``; return False when the connection must not be reused."""
    if response.reset_before_head:
        _abort(writer)
        return False
    body = response.body
    length = response.content_length
    if length is None and isinstance(body, bytes | bytearray):
        length = len(body)
    reason = HTTPStatus(response.status).phrase if response.status in HTTPStatus._value2member_map_ else ""
    head = [f"HTTP/1.1 {response.status} {reason}", f"Date: {formatdate(usegmt=True)}", "Server: fake-iblai"]
    head += [f"{k}: {v}" for k, v in response.headers.items()]
    chunked = length is None
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {length}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
    if request.method == "HEAD" or response.status in (204, 304):
        await writer.drain()
        return True
    limit = response.truncate_at if response.truncate_at is not None else response.reset_at
    sent = 0
    async for chunk in _chunks(body):
        if limit is not None and sent + len(chunk) >= limit:
            writer.write(chunk[: limit - sent])
            await writer.drain()
            if response.reset_at is not None:
                _abort(writer)
            else:
                writer.close()
            return False
        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
        sent += len(chunk)
        # Back-pressure: never queue more than the socket buffer, so a slow client costs no memory.
        await writer.drain()
    if chunked:
        writer.write(b"0\r\n\r\n")
    await writer.drain()
    return True

