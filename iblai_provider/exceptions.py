"""Errors raised by the ibl.ai provider. None of them ever carries the API key."""

from __future__ import annotations

from typing import Any

from iblai_provider._compat import AirflowException


class IblaiConfigError(AirflowException, ValueError):
    """The ``iblai`` connection or an operator argument is unusable; the message names the field."""


class IblaiApiError(AirflowException):
    """The ibl.ai API answered with an error (after retries, where the error was retryable).

    :param status: HTTP status code.
    :param method: HTTP method of the failed call.
    :param path: API path (no host, no query string: the error text stays free of secrets).
    :param detail: the server's own message (``detail``, ``error``/``message`` or field errors).
    :param retry_after: seconds the server asked us to wait, when it said so.
    :param error_code: the server's machine-readable code, e.g. ``spend_cap_exceeded``.
    """

    def __init__(
        self,
        status: int,
        method: str,
        path: str,
        detail: str,
        *,
        retry_after: float | None = None,
        error_code: str | None = None,
        body: Any = None,
    ) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.detail = detail
        self.retry_after = retry_after
        self.error_code = error_code
        self.body = body
        super().__init__(f"ibl.ai API error {status} on {method} {path}: {detail}")

    def __reduce__(self):  # keep the exception picklable across Airflow's process boundaries
        return (
            _rebuild_api_error,
            (self.status, self.method, self.path, self.detail, self.retry_after, self.error_code),
        )


def _rebuild_api_error(
    status: int, method: str, path: str, detail: str, retry_after: float | None, error_code: str | None
) -> IblaiApiError:
    return IblaiApiError(status, method, path, detail, retry_after=retry_after, error_code=error_code)


class IblaiSpendCapError(IblaiApiError):
    """429 ``spend_cap_exceeded``: a budget limit, not a rate limit, so it is never retried."""


class IblaiTransportError(AirflowException):
    """The API could not be reached or stopped answering (refused, reset, timeout).

    :param never_sent: the failure happened while connecting, so the request cannot have
        reached the server (retrying even a non-idempotent call is then safe).
    """

    def __init__(self, message: str, *, never_sent: bool = False) -> None:
        super().__init__(message)
        self.never_sent = never_sent

    def __reduce__(self):
        return (_rebuild_transport_error, (str(self), self.never_sent))


def _rebuild_transport_error(message: str, never_sent: bool) -> IblaiTransportError:
    return IblaiTransportError(message, never_sent=never_sent)
