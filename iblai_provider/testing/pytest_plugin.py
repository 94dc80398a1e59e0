"""Pytest fixtures for testing DAGs that use this provider, against the fake ibl.ai server.

Enable them in a ``conftest.py``::

    pytest_plugins = ["iblai_provider.testing.pytest_plugin"]

then ask for ``iblai_server`` (a running :class:`FakeIblaiServer`) or ``iblai_conn`` (the same,
with ``AIRFLOW_CONN_IBLAI_DEFAULT`` pointing at it for the duration of the test).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from iblai_provider.testing.server import FakeIblaiServer


@pytest.fixture
def iblai_server() -> Iterator[FakeIblaiServer]:
    """A fake ibl.ai server on a free loopback port; reports complete after 2 polls."""
    server = FakeIblaiServer(report_polls=2).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def iblai_conn(iblai_server: FakeIblaiServer, monkeypatch: pytest.MonkeyPatch) -> FakeIblaiServer:
    """``iblai_server`` plus the ``iblai_default`` connection (env var) pointing at it."""
    monkeypatch.setenv("AIRFLOW_CONN_IBLAI_DEFAULT", iblai_server.connection_uri_json())
    return iblai_server
