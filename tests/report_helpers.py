"""Shared bits of the Data Reports tests (operator, sensor, trigger, e2e)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from iblai_provider.testing.server import FakeIblaiServer

REPORT = "ai-mentor-chat-history"
MENTOR = "d17dc729-60fd-4363-81a0-f67d9318b03e"
OTHER_MENTOR = "5b0e6c1e-3f7a-4f0b-9a55-0c1d2e3f4a5b"
POLL_PATH = rf"/api/reports/platforms/acme/{REPORT}\Z"
CREATE_PATH = r"/api/reports/platforms/acme/new\Z"


def conn_json(server: FakeIblaiServer, *, api_key: str | None = None, **extra: Any) -> str:
    """``AIRFLOW_CONN_IBLAI_DEFAULT`` for ``server``, with another key or extra settings."""
    conn = json.loads(server.connection_uri_json())
    if api_key is not None:
        conn["password"] = api_key
    conn["extra"].update(extra)
    return json.dumps(conn)


def create_run(server: FakeIblaiServer, mentor: str | None = MENTOR, **body: Any) -> dict[str, Any]:
    """Start a report run on the fake server through the sync hook (as the create operator would)."""
    from iblai_provider.hooks.iblai import IblaiHook

    payload = {"report_name": REPORT, **({"mentor": mentor} if mentor else {}), **body}
    return IblaiHook().create_report(payload)


async def collect_events(trigger: Any, limit: float = 30.0) -> list[Any]:
    """Every event the trigger yields until its generator ends (a single-event trigger: one)."""

    async def drain() -> list[Any]:
        return [event async for event in trigger.run()]

    return await asyncio.wait_for(drain(), limit)


def run_trigger(trigger: Any, limit: float = 30.0) -> Any:
    """The first event, run like ``airflow dags test`` does (its own event loop)."""

    async def first() -> Any:
        return await asyncio.wait_for(anext(trigger.run()), limit)

    return asyncio.run(first())


def poll_requests(server: FakeIblaiServer) -> list[Any]:
    return server.requests_to(POLL_PATH, "GET")


def log_text(caplog: Any, capsys: Any) -> str:
    """Everything logged: stdlib records (caplog) and Airflow's structlog output (stdout/stderr)."""
    captured = capsys.readouterr()
    return caplog.text + captured.out + captured.err
