"""Download from a presigned storage URL without leaking the URL or sending credentials.

A presigned URL is a bearer credential: whoever holds it can read the object until it expires.
So, before anything can log it, :func:`mask_presigned_url` registers the URL and its signature,
token and credential values with Airflow's secrets masker; no message or exception raised here
contains the URL (``requests`` puts it in its own exception texts, so those are caught and
re-raised with a URL-free text, ``from None``).

Requests go through :func:`bare_session`: a ``requests.Session`` of its own, never the API hook's
(which carries ``Authorization: Api-Token``), with ``trust_env=False`` so no ``~/.netrc``
credentials or proxy settings from the environment are attached either. Storage that sees an
``Authorization`` header next to a query signature refuses the request, and the API key must
never reach a third-party host anyway.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from iblai_provider import __version__
from iblai_provider._compat import AirflowException, mask_secret

if TYPE_CHECKING:
    import requests

# Query parameters that carry credentials in S3, GCS, Azure SAS and CloudFront signed URLs.
SECRET_PARAM = re.compile(r"signature|^sig$|token|credential|policy|key", re.IGNORECASE)
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
REFUSED_STATUSES = frozenset({400, 401, 403})  # expired or otherwise rejected signature
_XML_FIELD = r"<{0}>([^<]{{0,300}})</{0}>"


class DownloadError(AirflowException):
    """The download failed for good (its text never contains the URL)."""


class TransientDownloadError(DownloadError):
    """A network failure or a 5xx/429 from storage: worth downloading again from the start."""


class StorageRefusedError(DownloadError):
    """Storage refused the link (400/401/403): usually an expired signature; a fresh link may work.

    :param status: the HTTP status.
    :param code: the storage error code (``AccessDenied``, ...), when the body had one.
    """

    def __init__(self, message: str, status: int, code: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def url_secrets(url: str) -> list[str]:
    """The strings of ``url`` that must never be shown: the URL, its query, and credential values."""
    query = urlsplit(url).query
    values = [value for name, value in parse_qsl(query) if SECRET_PARAM.search(name) and len(value) >= 6]
    return [s for s in (url, query, *values) if s]


class _ScrubUrlFilter(logging.Filter):
    """Scrub registered URLs from urllib3's own DEBUG lines (``"GET /path?query HTTP/1.1" 200``).

    Airflow's masker redacts the task log; this filter sits on the urllib3 loggers themselves, so
    any other handler a deployment attaches (a log shipper, pytest's caplog) never sees the link.
    """

    def __init__(self) -> None:
        super().__init__()
        self.urls: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.urls and isinstance(record.args, tuple):
            record.args = tuple(self._scrub(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True

    def _scrub(self, text: str) -> str:
        for url in self.urls:
            if any(secret in text for secret in url_secrets(url)):
                text = scrub(text, url)
        return text


_URL_FILTER = _ScrubUrlFilter()
URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry")  # the ones that print request URLs


def mask_presigned_url(url: str) -> None:
    """Register the URL and its credential values with the secrets masker (task logs redact them)
    and with the filter on urllib3's loggers."""
    for secret in url_secrets(url):
        mask_secret(secret)
    if not _URL_FILTER.urls:  # first link of this process: attach the filter (no import-time side effect)
        for name in URLLIB3_LOGGERS:
            logging.getLogger(name).addFilter(_URL_FILTER)
    _URL_FILTER.urls.add(url)


def scrub(text: str, url: str) -> str:
    """``text`` with the URL, its query string and its credential values replaced by ``***``."""
    for secret in sorted(url_secrets(url), key=len, reverse=True):
        text = text.replace(secret, "***")
    return re.sub(r"\?\S*", "?***", text)  # any other query string (a redirect target, say)


def storage_host(url: str) -> str:
    """The host (and port) of a URL: safe to show, unlike the URL itself."""
    return urlsplit(url).netloc.rpartition("@")[2]


def bare_session() -> requests.Session:
    """A session with no credentials of any kind, for presigned URLs only."""
    import requests

    session = requests.Session()
    session.trust_env = False  # no ~/.netrc auth, no proxy credentials from the environment
    session.auth = None
    # identity: the bytes on the wire are the stored bytes, so Content-Length can be checked.
    session.headers = requests.structures.CaseInsensitiveDict(
        {"User-Agent": f"airflow-provider-iblai/{__version__}", "Accept-Encoding": "identity", "Accept": "*/*"}
    )
    return session


def _describe(exc: BaseException, url: str) -> str:
    return scrub(f"{type(exc).__name__}: {exc}", url)


def _storage_error(response: requests.Response, url: str) -> tuple[str | None, str]:
    """``(code, message)`` from an S3-style XML error body; never its signature echo fields."""
    try:
        head = response.raw.read(4096, decode_content=True) or b""
    except Exception:
        head = b""
    text = head.decode("utf-8", "replace")
    code = re.search(_XML_FIELD.format("Code"), text)
    message = re.search(_XML_FIELD.format("Message"), text)
    return (code.group(1) if code else None), scrub(message.group(1) if message else "", url)


def open_presigned(session: requests.Session, url: str, timeout: tuple[float, float]) -> requests.Response:
    """GET ``url`` with ``stream=True``; raise a URL-free error unless storage answers 200.

    :raises StorageRefusedError: on 400/401/403 (expired or rejected signature).
    :raises TransientDownloadError: on network errors and 408/429/5xx.
    :raises DownloadError: on any other status (404: the object is gone).
    """
    import requests

    host = storage_host(url)
    try:
        response = session.get(url, stream=True, timeout=timeout, allow_redirects=True)
    except requests.RequestException as exc:
        raise TransientDownloadError(f"could not reach storage host {host}: {_describe(exc, url)}") from None
    if response.status_code == 200:
        return response
    with response:
        code, message = _storage_error(response, url)
    detail = f"storage host {host} answered {response.status_code}" + (f" {code}" if code else "")
    detail += f": {message}" if message else ""
    if response.status_code in REFUSED_STATUSES:
        raise StorageRefusedError(f"{detail} (the presigned link was refused)", response.status_code, code)
    if response.status_code in TRANSIENT_STATUSES:
        raise TransientDownloadError(detail)
    raise DownloadError(detail)


def iter_body(response: requests.Response, chunk_size: int, url: str) -> Iterator[bytes]:
    """The body in chunks; network failures become URL-free :class:`TransientDownloadError`."""
    import requests
    from urllib3.exceptions import HTTPError as Urllib3Error

    try:
        yield from response.iter_content(chunk_size)
    except (requests.RequestException, Urllib3Error, OSError) as exc:
        raise TransientDownloadError(f"download broke off: {_describe(exc, url)}") from None


def expected_size(response: requests.Response) -> int | None:
    """``Content-Length`` when it describes the bytes we will see (no content coding); else None."""
    if response.headers.get("Content-Encoding", "identity").lower() not in ("", "identity"):
        return None  # urllib3 still enforces the wire length while decoding
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None
