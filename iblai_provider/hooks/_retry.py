"""The one retry policy of the provider, shared by the sync and async hooks (tenacity).

The hooks turn their HTTP client's failures into :class:`IblaiApiError` (a status) or
:class:`IblaiTransportError` (no answer), so the predicates below know no client library.
Retried: connection errors, timeouts, 429 and 500/502/503/504, with exponential backoff and
jitter under a cap; a ``Retry-After`` the server sends is honoured (up to a cap) instead.
Not retried: other 4xx, and a 429 whose body says ``spend_cap_exceeded`` (a budget, not a rate).
A non-idempotent call (creating a periodic agent) is retried only when it cannot have reached
the server, or when the server said it did not process it (429, 503).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import tenacity

from iblai_provider.exceptions import IblaiApiError, IblaiSpendCapError, IblaiTransportError

if TYPE_CHECKING:
    from iblai_provider.hooks._connection import ConnSettings

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
NOT_PROCESSED_STATUSES = frozenset({429, 503})
SPEND_CAP = "spend_cap_exceeded"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date. None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max((when - (now or datetime.now(timezone.utc))).total_seconds(), 0.0)


def _message(body: Any) -> tuple[str, str | None]:
    """The server's message and error code from a DRF-style error body."""
    if isinstance(body, dict):
        code = body.get("error_code") if isinstance(body.get("error_code"), str) else None
        for key in ("detail", "message", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key], code
        fields = []
        for name, errors in body.items():
            if isinstance(errors, list):
                fields.append(f"{name}: {' '.join(str(e) for e in errors)}")
            elif isinstance(errors, str | int | float):
                fields.append(f"{name}: {errors}")
        if fields:
            return "; ".join(fields), code
    if isinstance(body, list) and body:
        return "; ".join(str(e) for e in body), None
    return "", None


def api_error(
    status: int, method: str, path: str, content: bytes, headers: Any, secret: str | None = None
) -> IblaiApiError:
    """Build the error for a failed response; ``secret`` is scrubbed from the server's text."""
    try:
        body: Any = json.loads(content) if content else None
    except ValueError:
        body = None
    detail, code = _message(body)
    if not detail:
        text = content[:300].decode("utf-8", "replace").strip()
        detail = text or "no message"
    if secret:
        detail = detail.replace(secret, "***")
    retry_after = parse_retry_after(headers.get("Retry-After")) if headers is not None else None
    kind = IblaiSpendCapError if status == 429 and code == SPEND_CAP else IblaiApiError
    return kind(status, method, path, detail, retry_after=retry_after, error_code=code)


def is_transient(exc: BaseException) -> bool:
    """An error that may pass with time: the predicate for idempotent calls, and the rule that
    long waits (sensors, triggers) use to keep polling when even the retries did not outlast it."""
    if isinstance(exc, IblaiSpendCapError):
        return False
    if isinstance(exc, IblaiApiError):
        return exc.status in RETRY_STATUSES
    return isinstance(exc, IblaiTransportError)


def is_transient_unsent(exc: BaseException) -> bool:
    """Retry predicate for non-idempotent calls: only when the server cannot have acted on it."""
    if isinstance(exc, IblaiSpendCapError):
        return False
    if isinstance(exc, IblaiApiError):
        return exc.status in NOT_PROCESSED_STATUSES
    return isinstance(exc, IblaiTransportError) and exc.never_sent


class wait_retry_after(tenacity.wait.wait_base):  # noqa: N801 - tenacity's naming style
    """Wait what the server's ``Retry-After`` says (capped); otherwise fall back to ``fallback``."""

    def __init__(self, fallback: tenacity.wait.wait_base, cap: float) -> None:
        self.fallback = fallback
        self.cap = cap

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self.cap)
        return self.fallback(retry_state)


def _log_retry(retry_state: tenacity.RetryCallState) -> None:
    exc = retry_state.outcome.exception() if retry_state.outcome else None
    wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
    # Both exception types are built by the hooks from status, method and path only: no key, no query.
    log.warning("ibl.ai call failed (attempt %d: %s); retrying in %.2fs", retry_state.attempt_number, exc, wait)


def retry_kwargs(settings: ConnSettings, *, idempotent: bool) -> dict[str, Any]:
    """Arguments for ``tenacity.Retrying`` / ``tenacity.AsyncRetrying``: the policy in one place."""
    return {
        "stop": tenacity.stop_after_attempt(settings.max_retries + 1),
        "wait": wait_retry_after(
            tenacity.wait_exponential_jitter(initial=settings.backoff_initial, max=settings.backoff_max),
            cap=settings.retry_after_max,
        ),
        "retry": tenacity.retry_if_exception(is_transient if idempotent else is_transient_unsent),
        "before_sleep": _log_retry,
        "reraise": True,
    }
