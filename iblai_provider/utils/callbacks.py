"""Verify the signed completion callbacks of ibl.ai periodic agents.

After each run the platform POSTs JSON (``timestamp``, ``status``, ``prompt``, ``agent_output``,
``log``, ``log_id``) to the agent's ``callback_url`` with the header
``X-Hub-Signature-256: sha256=<hex>``, where ``hex`` is HMAC-SHA256 of the **raw request body**,
keyed with the agent's ``callback_secret`` (UTF-8). Verify the bytes exactly as received, before
parsing them as JSON. A minimal receiver (standard library; the secret comes from the environment)::

    import os
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from iblai_provider.utils.callbacks import verify_callback_signature
    SECRET = os.environ["IBLAI_CALLBACK_SECRET"]  # the same secret the DAG passed as callback_secret

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))  # raw bytes, not re-encoded JSON
            ok = verify_callback_signature(body, self.headers.get("X-Hub-Signature-256"), SECRET)
            self.send_response(204 if ok else 401)
            self.end_headers()

    HTTPServer(("127.0.0.1", 8080), Receiver).serve_forever()
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
_HEX_LENGTH = hashlib.sha256().digest_size * 2


def compute_callback_signature(body: bytes, secret: str) -> str:
    """The ``X-Hub-Signature-256`` header value for ``body`` signed with ``secret``.

    :param body: the raw request body.
    :param secret: the agent's ``callback_secret``.
    """
    return SIGNATURE_PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_callback_signature(body: bytes, signature_header: str | None, secret: str) -> bool:
    """Whether ``signature_header`` is a valid ``sha256=`` HMAC of ``body`` under ``secret``.

    The comparison runs in constant time. Malformed input of any kind (missing header, wrong prefix,
    non-hex digest, wrong types, empty secret) returns ``False``; this function never raises.

    :param body: the raw request body, exactly as received (``bytes``; ``bytearray``/``memoryview`` accepted).
    :param signature_header: the value of the ``X-Hub-Signature-256`` header.
    :param secret: the agent's ``callback_secret``.
    """
    if not isinstance(body, (bytes, bytearray, memoryview)):
        return False
    if not isinstance(signature_header, str) or not isinstance(secret, str) or not secret:
        return False
    prefix, _, digest = signature_header.strip().partition("=")
    if prefix.lower() != SIGNATURE_PREFIX[:-1] or len(digest) != _HEX_LENGTH:
        return False
    try:
        received = bytes.fromhex(digest)
        expected = hmac.new(secret.encode("utf-8"), bytes(body), hashlib.sha256).digest()
    except (ValueError, UnicodeError):  # non-hex digest; a secret with lone surrogates
        return False
    return hmac.compare_digest(received, expected)
