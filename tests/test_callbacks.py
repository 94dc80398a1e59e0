"""Callback signatures: the verifier's edge cases, and a real signed POST from the fake server."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from iblai_provider.testing import FakeIblaiServer
from iblai_provider.testing.agent_store import DEFAULT_MENTOR
from iblai_provider.utils.callbacks import compute_callback_signature, verify_callback_signature

SECRET = "s3cr3t-callback-key"
BODY = b'{"status":"success","log_id":9001}'
# Computed independently of the module under test.
GOOD = "sha256=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()


def test_valid_signature() -> None:
    assert verify_callback_signature(BODY, GOOD, SECRET) is True
    assert verify_callback_signature(bytearray(BODY), GOOD, SECRET) is True
    assert verify_callback_signature(BODY, GOOD.upper().replace("SHA256=", "sha256="), SECRET) is True
    assert compute_callback_signature(BODY, SECRET) == GOOD


@pytest.mark.parametrize(
    ("body", "header", "secret"),
    [
        (BODY[:-1] + b"]", GOOD, SECRET),  # one byte of the body changed
        (BODY, GOOD, SECRET + "x"),  # wrong secret
        (BODY, GOOD[len("sha256="):], SECRET),  # no prefix
        (BODY, "sha1=" + GOOD[len("sha256="):], SECRET),  # wrong algorithm
        (BODY, GOOD[:-1], SECRET),  # short digest
        (BODY, GOOD + "00", SECRET),  # long digest
        (BODY, GOOD[:-2] + "zz", SECRET),  # not hex
        (BODY, "sha256=" + "é" * 64, SECRET),  # not ASCII
        (BODY, "", SECRET),
        (BODY, "sha256=", SECRET),
        (BODY, None, SECRET),
        (BODY, 12345, SECRET),
        (BODY, GOOD.encode(), SECRET),  # bytes header
        (BODY.decode(), GOOD, SECRET),  # text body: signatures are over raw bytes
        (None, GOOD, SECRET),
        (BODY, GOOD, ""),
        (BODY, GOOD, None),
        (BODY, GOOD, b"s3cr3t-callback-key"),
        (BODY, GOOD, "\ud800"),  # a secret that cannot be UTF-8 encoded
    ],
)
def test_rejected_without_raising(body: Any, header: Any, secret: Any) -> None:
    assert verify_callback_signature(body, header, secret) is False


class _Receiver:
    """A loopback HTTP receiver that records every POST (raw body and headers)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append((body, dict(self.headers.items())))
                time.sleep(delay)  # a slow receiver, to show the fake never waits for it
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/iblai/callback"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, count: int = 1, timeout: float = 10.0) -> list[tuple[bytes, dict[str, str]]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.received) >= count, "no callback arrived"
        return self.received

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> _Receiver:
    rx = _Receiver()
    yield rx
    rx.close()


def _create(server: FakeIblaiServer, **fields: Any) -> dict[str, Any]:
    url = f"{server.base_url}/api/ai-mentor/orgs/{server.org}/users/{server.username}/periodic-agents/"
    body = {"mentor": DEFAULT_MENTOR, "title": "Callback agent", "prompt": "Report please.",
            "task": {"crontab": {}, "one_off": True, "enabled": True}, **fields}
    response = requests.post(url, json=body, headers={"Authorization": f"Api-Token {server.api_key}"}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def test_real_signed_callback_from_fake_server(receiver: _Receiver) -> None:
    with FakeIblaiServer(agent_run_seconds=0.1) as server:
        agent = _create(server, callback_url=receiver.url, callback_secret=SECRET)
        raw, headers = receiver.wait()[0]
        store = server.state["agents"]
        time.sleep(0.1)
        assert store.callbacks[0]["status_code"] == 204

    signature = headers["X-Hub-Signature-256"]
    assert signature.startswith("sha256=")
    assert verify_callback_signature(raw, signature, SECRET) is True
    assert verify_callback_signature(raw, signature, "another-secret") is False
    for index in (0, len(raw) // 2, len(raw) - 1):  # one byte changed anywhere: rejected
        tampered = raw[:index] + bytes([raw[index] ^ 0x01]) + raw[index + 1:]
        assert verify_callback_signature(tampered, signature, SECRET) is False

    payload = json.loads(raw)
    assert set(payload) == {"timestamp", "status", "prompt", "agent_output", "log", "log_id"}
    assert payload["status"] == "success" and payload["prompt"] == "Report please."
    assert isinstance(payload["log_id"], int) and payload["agent_output"] in payload["log"]
    assert str(agent["id"]) in payload["agent_output"]


def test_failed_run_callback_and_unsigned_when_no_secret(receiver: _Receiver) -> None:
    with FakeIblaiServer(agent_run_seconds=0.1) as server:
        _create(server, prompt="Break [fail]", callback_url=receiver.url, callback_secret=SECRET)
        _create(server, title="No secret", callback_url=receiver.url)
        received = receiver.wait(2)
    by_status = {json.loads(raw)["status"]: headers for raw, headers in received}
    assert set(by_status) == {"error", "success"}
    failed_raw = next(raw for raw, _ in received if json.loads(raw)["status"] == "error")
    assert verify_callback_signature(failed_raw, by_status["error"]["X-Hub-Signature-256"], SECRET)
    assert "X-Hub-Signature-256" not in by_status["success"]


def test_slow_or_unreachable_receivers_do_not_block_the_server() -> None:
    slow = _Receiver(delay=3.0)
    try:
        with FakeIblaiServer(agent_run_seconds=0.05) as server:
            _create(server, callback_url=slow.url, callback_secret=SECRET)
            _create(server, title="Nowhere", callback_url="http://127.0.0.1:9/nowhere", callback_secret=SECRET)
            slow.wait()  # the POST is in flight; the receiver holds it for 3 s
            started = time.monotonic()
            listed = requests.get(f"{server.base_url}/api/ai-mentor/orgs/acme/users/admin/periodic-agents/",
                                  headers={"Authorization": f"Api-Token {server.api_key}"}, timeout=5)
            assert listed.status_code == 200 and time.monotonic() - started < 1.0
            store = server.state["agents"]
            deadline = time.monotonic() + 10
            while not any("error" in c for c in store.callbacks) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert [c["url"] for c in store.callbacks if "error" in c] == ["http://127.0.0.1:9/nowhere"]
    finally:
        slow.close()
