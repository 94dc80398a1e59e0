"""Hooks for the ibl.ai API: :class:`IblaiHook` (sync, ``requests``) and :class:`IblaiAsyncHook`
(async, ``aiohttp``, for triggers). Both read the ``iblai`` connection, send
``Authorization: Api-Token <key>`` to the API host only, and share one retry policy
(:mod:`._retry`) and one pagination routine (:mod:`._pagination`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

import tenacity

from iblai_provider import __version__
from iblai_provider._compat import BaseHook, aget_connection, amask_secret, mask_secret
from iblai_provider.exceptions import IblaiApiError, IblaiTransportError
from iblai_provider.hooks._agents import AsyncPeriodicAgentsMixin, PeriodicAgentsMixin
from iblai_provider.hooks._analytics import AnalyticsMixin
from iblai_provider.hooks._async_session import (  # noqa: F401 - close_shared_sessions re-exported
    AsyncResponse,
    close_shared_sessions,
    shared_session,
)
from iblai_provider.hooks._connection import DEFAULT_HOST, ConnSettings, encode_params, settings_from_connection
from iblai_provider.hooks._pagination import next_page
from iblai_provider.hooks._reports import AsyncReportsMixin, ReportsMixin
from iblai_provider.hooks._retry import api_error, retry_kwargs

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

USER_AGENT = f"airflow-provider-iblai/{__version__}"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class _IblaiHookBase(BaseHook):
    """Connection metadata and settings shared by the sync and async hooks."""

    conn_name_attr = "iblai_conn_id"
    default_conn_name = "iblai_default"
    conn_type = "iblai"
    hook_name = "ibl.ai"

    def __init__(
        self,
        iblai_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> None:
        super().__init__()
        self.iblai_conn_id = iblai_conn_id
        self._timeout_override = timeout
        self._retries_override = max_retries

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form: hide what the API does not use, relabel the rest."""
        return {
            "hidden_fields": ["schema", "port"],
            "relabeling": {"host": "Data Manager URL", "login": "Username", "password": "API key"},
            "placeholders": {
                "host": DEFAULT_HOST,
                "login": "the username your key belongs to",
                "password": "64-character Platform API key",
                "extra": '{"org": "your-platform-key"}',
            },
        }

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields for Airflow versions whose UI still builds forms from WTForms widgets."""
        try:
            from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
            from flask_babel import lazy_gettext
            from wtforms import StringField
        except ImportError:  # Airflow 3.2+ reads conn-fields from get_provider_info instead
            return {}
        return {"org": StringField(lazy_gettext("Org (platform key)"), widget=BS3TextFieldWidget())}

    def _with_overrides(self, settings: ConnSettings) -> ConnSettings:
        changes: dict[str, Any] = {}
        if self._timeout_override is not None:
            changes["read_timeout"] = float(self._timeout_override)
        if self._retries_override is not None:
            changes["max_retries"] = int(self._retries_override)
        return settings._replace(**changes) if changes else settings

    def user_path(self, suffix: str = "") -> str:
        """``/api/ai-mentor/orgs/{org}/users/{username}/<suffix>`` for this connection."""
        settings = self._settings_now()
        if not settings.username:
            from iblai_provider.exceptions import IblaiConfigError

            raise IblaiConfigError(
                f"iblai connection {settings.conn_id!r} has no username: set the connection field "
                "`login` to the username your API key belongs to (used in /orgs/{org}/users/{username}/ paths)."
            )
        return f"/api/ai-mentor/orgs/{settings.org}/users/{settings.username}/{suffix}"

    def _settings_now(self) -> ConnSettings:
        raise NotImplementedError

    @property
    def org(self) -> str:
        return self._settings_now().org

    @property
    def username(self) -> str | None:
        return self._settings_now().username

    @property
    def base_url(self) -> str:
        return self._settings_now().base_url


def _decode(content: bytes, parse_float: Any = None) -> Any:
    if not content:
        return None
    return json.loads(content, parse_float=parse_float)


class IblaiHook(ReportsMixin, PeriodicAgentsMixin, AnalyticsMixin, _IblaiHookBase):
    """Sync hook: one keep-alive ``requests.Session`` per hook, retries and pagination built in.

    :param iblai_conn_id: the ``iblai`` connection (host = Data Manager URL, password = API key,
        login = username, extra ``org`` = platform key; optional extras ``connect_timeout``,
        ``read_timeout``, ``max_retries``, ``backoff_initial``, ``backoff_max``, ``retry_after_max``,
        ``verify``).
    :param timeout: read timeout in seconds, overriding the connection's ``read_timeout``.
    :param max_retries: retries after the first attempt, overriding the connection's.
    """

    @cached_property
    def settings(self) -> ConnSettings:
        conn = self.get_connection(self.iblai_conn_id)
        settings = self._with_overrides(settings_from_connection(conn, conn.extra_dejson))
        mask_secret(settings.api_key)
        return settings

    def _settings_now(self) -> ConnSettings:
        return self.settings

    def get_conn(self) -> requests.Session:
        return self.session

    @cached_property
    def session(self) -> requests.Session:
        import requests  # imported on first use: keeps provider import time low

        session = requests.Session()
        session.headers.update(
            {
                "Authorization": f"Api-Token {self.settings.api_key}",
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            }
        )
        session.verify = self.settings.verify
        # Never pick up credentials from ~/.netrc or proxies' env for the API key's sake.
        session.trust_env = False
        return session

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send one API call with the retry policy; raise :class:`IblaiApiError` on an error status.

        :param path: the API path, e.g. ``/api/analytics/users/``; list values in ``params``
            become repeated keys.
        :param idempotent: whether a retry after the request may have reached the server is
            safe; defaults to True for GET/HEAD/OPTIONS/PUT/DELETE.
        """
        method = method.upper()
        settings = self.settings
        safe = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        for attempt in tenacity.Retrying(**retry_kwargs(settings, idempotent=safe)):
            with attempt:
                response = self._send(method, path, params=params, json=json, stream=stream)
        log.debug("ibl.ai %s %s -> %s", method, path, response.status_code)
        return response

    def _send(self, method: str, path: str, *, params: Any, json: Any, stream: bool) -> requests.Response:
        """One attempt; the client's failures become :class:`IblaiApiError`/:class:`IblaiTransportError`."""
        import requests
        from urllib3.exceptions import NewConnectionError

        settings = self.settings
        try:
            response = self.session.request(
                method, settings.url(path), params=encode_params(params), json=json, stream=stream,
                timeout=(settings.connect_timeout, settings.read_timeout), allow_redirects=False,
            )
            if response.status_code < 300:
                return response
            content = response.content
            response.close()
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            never_sent = isinstance(exc, requests.ConnectTimeout) or isinstance(reason, NewConnectionError)
            raise IblaiTransportError(
                f"ibl.ai API unreachable on {method} {path}: {type(exc).__name__}", never_sent=never_sent
            ) from None
        raise api_error(response.status_code, method, path, content, response.headers, settings.api_key)

    def _call(self, method: str, path: str, parse_float: Any = None, **kwargs: Any) -> Any:
        return _decode(self.request(method, path, **kwargs).content, parse_float)

    def get(self, path: str, params: dict[str, Any] | None = None, *, parse_float: Any = None) -> Any:
        """GET and decode JSON. Pass ``parse_float=decimal.Decimal`` to keep money exact."""
        return self._call("GET", path, parse_float, params=params)

    def post(self, path: str, json: Any = None, params: dict[str, Any] | None = None, *, idempotent: bool = False) -> Any:
        return self._call("POST", path, json=json, params=params, idempotent=idempotent)

    def put(self, path: str, json: Any = None) -> Any:
        return self._call("PUT", path, json=json)

    def patch(self, path: str, json: Any = None) -> Any:
        # A PATCH that sets fields to values is safe to repeat.
        return self._call("PATCH", path, json=json, idempotent=True)

    def delete(self, path: str, *, missing_ok: bool = False) -> Any:
        """DELETE; with ``missing_ok`` a 404 counts as already deleted (returns None)."""
        try:
            return self._call("DELETE", path)
        except IblaiApiError as exc:
            if missing_ok and exc.status == 404:
                return None
            raise

    def paginate(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        items_key: str | None = None,
        parse_float: Any = None,
    ) -> Iterator[Any]:
        """Lazily yield the records of every page, one page in memory at a time.

        Understands DRF page-number and limit/offset, analytics ``results``+``pagination`` and
        financial ``rows``+``total_pages`` envelopes; stops on the last page, on an empty page,
        and on a 404 past the end (content analytics) once a page has been read.
        """
        query = dict(params or {})
        pages = 0
        while True:
            try:
                body = self.get(path, query, parse_float=parse_float)
            except IblaiApiError as exc:
                if exc.status == 404 and pages:
                    return
                raise
            pages += 1
            page = next_page(body, query, items_key)
            yield from page.items
            if page.next_params is None:
                return
            following = {**query, **page.next_params}
            if following == query:  # a server that links a page to itself would loop forever
                return
            query = following

    def test_connection(self) -> tuple[bool, str]:
        """One cheap authenticated read (the org's report list). Never echoes the key."""
        try:
            reports = self.list_reports()
        except Exception as exc:  # the UI wants a message, not a traceback
            return False, str(exc)
        return True, f"Connected to {self.settings.base_url} as org {self.settings.org!r} ({len(reports)} reports)."


class IblaiAsyncHook(AsyncReportsMixin, AsyncPeriodicAgentsMixin, _IblaiHookBase):
    """Async hook for triggers: async connection lookup, a shared pooled ``aiohttp`` session,
    the same retry policy (``tenacity.AsyncRetrying``) and the same errors as :class:`IblaiHook`.
    """

    _settings: ConnSettings | None = None

    async def get_settings(self) -> ConnSettings:
        if self._settings is None:
            conn = await aget_connection(self.iblai_conn_id)
            extra = json.loads(conn.extra) if conn.extra else {}
            settings = self._with_overrides(settings_from_connection(conn, extra))
            await amask_secret(settings.api_key)
            self._settings = settings
        return self._settings

    def _settings_now(self) -> ConnSettings:
        if self._settings is None:
            raise RuntimeError("await get_settings() first: the async hook reads its connection lazily")
        return self._settings

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> AsyncResponse:
        """Async twin of :meth:`IblaiHook.request` (the body is read before returning)."""
        method = method.upper()
        settings = await self.get_settings()
        safe = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        async for attempt in tenacity.AsyncRetrying(**retry_kwargs(settings, idempotent=safe)):
            with attempt:
                response = await self._send(settings, method, path, params=params, json=json)
        return response

    async def _send(self, settings: ConnSettings, method: str, path: str, *, params: Any, json: Any) -> AsyncResponse:
        import aiohttp

        session = shared_session(settings.verify, USER_AGENT)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=settings.connect_timeout, sock_read=settings.read_timeout)
        try:
            async with session.request(
                method, settings.url(path), params=encode_params(params), json=json, timeout=timeout,
                headers={"Authorization": f"Api-Token {settings.api_key}"}, allow_redirects=False,
            ) as response:
                content = await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            never_sent = isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
            raise IblaiTransportError(
                f"ibl.ai API unreachable on {method} {path}: {type(exc).__name__}", never_sent=never_sent
            ) from None
        if response.status >= 300:
            raise api_error(response.status, method, path, content, response.headers, settings.api_key)
        return AsyncResponse(response.status, response.headers, content)

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return _decode((await self.request("GET", path, params=params)).content)
