"""One shared ``aiohttp`` session per event loop, for :class:`~iblai_provider.hooks.iblai.IblaiAsyncHook`."""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import aiohttp

# One aiohttp session per event loop, shared by every async hook on it. Chosen over httpx by
# measurement (bench/trigger_concurrency.py): at 500 polls/s httpx's pool spent 8x the CPU and
# tripled the wall time, while a shared aiohttp session stayed at the ideal.
_SESSIONS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, aiohttp.ClientSession]] = (
    weakref.WeakKeyDictionary()
)
POOL_CONNECTIONS = 256


def _ssl_option(verify: bool | str) -> Any:
    """aiohttp's ``ssl=``: True → default verification, False → none, a path → that CA bundle."""
    if verify is True:
        return True
    if verify is False:
        return False
    import ssl

    return ssl.create_default_context(cafile=str(verify))


def shared_session(verify: bool | str, user_agent: str) -> aiohttp.ClientSession:
    import aiohttp

    loop = asyncio.get_running_loop()
    per_loop = _SESSIONS.setdefault(loop, {})
    session = per_loop.get(verify)
    if session is None or session.closed:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=POOL_CONNECTIONS, ssl=_ssl_option(verify)),
            headers={"User-Agent": user_agent, "Accept": "application/json"},
            trust_env=False,
        )
        per_loop[verify] = session
    return session


async def close_shared_sessions() -> None:
    """Close the shared sessions of the running loop (for scripts and tests that end their loop;
    the triggerer's loop lives as long as the process)."""
    for session in _SESSIONS.pop(asyncio.get_running_loop(), {}).values():
        await session.close()


class AsyncResponse(NamedTuple):
    """A finished async response: the body is read before the connection goes back to the pool."""

    status: int
    headers: Any
    content: bytes
