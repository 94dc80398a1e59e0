"""Fault injection for the fake ibl.ai server, per path, from tests or over HTTP."""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from iblai_provider.testing.http import Response

FAULT_KINDS = ("status", "retry_after", "reset", "delay", "truncate", "reset_mid_body")


@dataclass
class Fault:
    """One injected misbehaviour.

    :param path: a regular expression searched in the request path (``/dm/api/...``).
    :param kind: ``status`` (answer ``status`` with ``body``), ``retry_after`` (429 with a
        ``Retry-After`` header), ``reset`` (TCP reset before any byte), ``delay`` (sleep
        ``seconds`` then answer normally), ``truncate`` / ``reset_mid_body`` (send the real
        response but stop after ``after_bytes`` body bytes, with FIN or RST).
    :param times: how many matching requests it hits; ``None`` for all of them.
    """

    path: str
    kind: str
    times: int | None = 1
    method: str | None = None
    status: int = 503
    body: Any = None
    retry_after: str = "1"
    seconds: float = 0.0
    after_bytes: int = 0
    hits: int = 0
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}; got {self.kind!r}")
        self._regex = re.compile(self.path)

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method and self.method.upper() != method:
            return False
        return self._regex.search(path) is not None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("_regex", None)
        return data


class Faults:
    """The active faults of one server. Thread-safe: tests add faults while the server runs."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, path: str, kind: str, times: int | None = 1, **kwargs: Any) -> Fault:
        fault = Fault(path=path, kind=kind, times=times, **kwargs)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """Return the first matching fault and count the hit."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    return fault
        return None

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_dict() for f in self._faults]


def fault_response(fault: Fault) -> Response | None:
    """The canned response of a fault that replaces the real one (None: serve the real one)."""
    if fault.kind == "status":
        body = fault.body if fault.body is not None else {"detail": f"Injected {fault.status}."}
        if isinstance(body, str):
            return Response(status=fault.status, body=body.encode(), headers={"Content-Type": "text/plain"})
        return Response.json(body, status=fault.status)
    if fault.kind == "retry_after":
        body = fault.body if fault.body is not None else {
            "detail": f"Request was throttled. Expected available in {fault.retry_after} seconds."
        }
        return Response.json(body, status=429, headers={"Retry-After": str(fault.retry_after)})
    if fault.kind == "reset":
        return Response(reset_before_head=True)
    return None
