"""The async hook (for triggers) against the fake server: same auth, errors and retry policy."""

from __future__ import annotations

import asyncio

import pytest

from iblai_provider._compat import BaseHook
from iblai_provider.exceptions import IblaiApiError, IblaiSpendCapError
from iblai_provider.hooks import _async_session as session_module
from iblai_provider.hooks.iblai import IblaiAsyncHook
from iblai_provider.testing import FakeIblaiServer

POLL = r"/reports/platforms/acme/user-report$"


@pytest.fixture
def no_sync_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if anything looks the connection up synchronously (it would block the loop)."""

    def forbidden(*args, **kwargs):
        raise AssertionError("sync BaseHook.get_connection called inside the event loop")

    monkeypatch.setattr(BaseHook, "get_connection", classmethod(forbidden))


async def test_reads_with_api_token(iblai_conn: FakeIblaiServer, no_sync_lookup: None) -> None:
    hook = IblaiAsyncHook()
    assert await hook.get_report_status("user-report") is None  # never ran

    (seen,) = iblai_conn.requests_to(POLL)
    assert seen.auth == "valid"
    assert seen.headers["user-agent"].startswith("airflow-provider-iblai/")


async def test_same_retry_policy_as_sync(iblai_conn: FakeIblaiServer, no_sync_lookup: None) -> None:
    iblai_conn.faults.add(POLL, "status", times=2, status=502)
    iblai_conn.faults.add(POLL, "reset", times=1)
    iblai_conn.faults.add(POLL, "retry_after", times=1, retry_after="2")

    await IblaiAsyncHook().get_report_status("user-report")

    seen = iblai_conn.requests_to(POLL)
    assert len(seen) == 5
    assert seen[-1].time - seen[-2].time >= 2.0


async def test_errors_match_sync_hook(iblai_conn: FakeIblaiServer, monkeypatch) -> None:
    iblai_conn.faults.add(POLL, "status", times=1, status=429, body={"error_code": "spend_cap_exceeded", "message": "cap"})
    with pytest.raises(IblaiSpendCapError):
        await IblaiAsyncHook().get_report_status("user-report")

    monkeypatch.setenv("AIRFLOW_CONN_IBLAI_DEFAULT", iblai_conn.connection_uri_json().replace(iblai_conn.api_key, "bad-key-123"))
    with pytest.raises(IblaiApiError) as info:
        await IblaiAsyncHook().get_report_status("user-report")
    assert info.value.status == 401 and "bad-key-123" not in str(info.value)


async def test_one_shared_client_per_loop(iblai_conn: FakeIblaiServer) -> None:
    hooks = [IblaiAsyncHook() for _ in range(20)]
    await asyncio.gather(*(h.get_report_status("user-report") for h in hooks))

    loop = asyncio.get_running_loop()
    assert len(session_module._SESSIONS[loop]) == 1
    # twenty concurrent polls share pooled keep-alive connections
    assert iblai_conn.peak_connections <= 20


async def test_blocking_free_event_loop(iblai_conn: FakeIblaiServer) -> None:
    """100 concurrent polls leave the loop responsive: a ticker never waits long."""
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            start = loop.time()
            await asyncio.sleep(0.005)
            lags.append(loop.time() - start - 0.005)

    tick = asyncio.create_task(ticker())
    await asyncio.gather(*(IblaiAsyncHook().get_report_status("user-report") for _ in range(100)))
    stop.set()
    await tick
    assert lags and max(lags) < 0.5
