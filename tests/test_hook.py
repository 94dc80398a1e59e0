"""The sync hook against the fake server on loopback: auth, errors, retries, Retry-After, secrets."""

from __future__ import annotations

import logging

import pytest

from iblai_provider.exceptions import IblaiApiError, IblaiConfigError, IblaiSpendCapError, IblaiTransportError
from iblai_provider.hooks.iblai import USER_AGENT, IblaiHook
from iblai_provider.testing import FakeIblaiServer

REPORTS = r"/api/reports/platforms/acme/$"


def test_sends_api_token_and_user_agent(iblai_conn: FakeIblaiServer) -> None:
    reports = IblaiHook().list_reports()

    assert {r["report_name"] for r in reports} >= {"ai-mentor-chat-history", "user-report"}
    (seen,) = iblai_conn.requests_to(REPORTS)
    assert seen.auth == "valid"
    assert seen.headers["user-agent"] == USER_AGENT


def test_keep_alive_reuses_one_connection(iblai_conn: FakeIblaiServer) -> None:
    hook = IblaiHook()
    for _ in range(5):
        hook.list_reports()
    assert iblai_conn.peak_connections == 1


def test_401_message_surfaced_without_key(iblai_server: FakeIblaiServer, monkeypatch, caplog) -> None:
    wrong_key = "0123456789abcdef" * 4
    conn = iblai_server.connection_uri_json().replace(iblai_server.api_key, wrong_key)
    monkeypatch.setenv("AIRFLOW_CONN_IBLAI_DEFAULT", conn)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(IblaiApiError) as info:
        IblaiHook().list_reports()

    err = info.value
    assert err.status == 401 and err.method == "GET"
    assert "Invalid token." in str(err)
    for text in (str(err), repr(err), caplog.text):
        assert wrong_key not in text
    assert len(iblai_server.requests_to(REPORTS)) == 1  # 401 is not retried


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_retries_5xx_counted_at_server(iblai_conn: FakeIblaiServer, status: int) -> None:
    iblai_conn.faults.add("/reports/platforms/acme/$", "status", times=2, status=status)

    assert IblaiHook().list_reports()
    assert len(iblai_conn.requests_to(REPORTS)) == 3


def test_connection_reset_is_retried(iblai_conn: FakeIblaiServer) -> None:
    iblai_conn.faults.add("/reports/platforms/acme/$", "reset", times=2)

    assert IblaiHook().list_reports()
    assert len(iblai_conn.requests_to(REPORTS)) == 3


def test_gives_up_after_max_retries(iblai_conn: FakeIblaiServer) -> None:
    iblai_conn.faults.add("/reports/platforms/acme/$", "status", times=None, status=503)

    with pytest.raises(IblaiApiError) as info:
        IblaiHook(max_retries=2).list_reports()

    assert info.value.status == 503
    assert len(iblai_conn.requests_to(REPORTS)) == 3


def test_retry_after_two_seconds_is_honoured(iblai_conn: FakeIblaiServer) -> None:
    iblai_conn.faults.add("/reports/platforms/acme/$", "retry_after", times=1, retry_after="2")

    IblaiHook().list_reports()

    first, second = iblai_conn.requests_to(REPORTS)
    assert second.time - first.time >= 2.0


def test_retry_after_as_http_date(iblai_conn: FakeIblaiServer) -> None:
    import time
    from email.utils import formatdate

    iblai_conn.faults.add(
        "/reports/platforms/acme/$", "retry_after", times=1, retry_after=formatdate(time.time() + 2, usegmt=True)
    )
    IblaiHook().list_reports()

    first, second = iblai_conn.requests_to(REPORTS)
    assert second.time - first.time >= 1.0  # an HTTP date has whole-second resolution


def test_spend_cap_429_is_not_retried(iblai_conn: FakeIblaiServer) -> None:
    body = {
        "error_code": "spend_cap_exceeded",
        "error": "Spend cap exceeded",
        "message": "The monthly spend cap for this mentor was reached.",
        "details": {"scope": "mentor", "interval_type": "monthly", "mentor_unique_id": "m-1"},
    }
    iblai_conn.faults.add("/reports/platforms/acme/$", "status", times=None, status=429, body=body)

    with pytest.raises(IblaiSpendCapError, match="spend cap for this mentor was reached"):
        IblaiHook().list_reports()
    assert len(iblai_conn.requests_to(REPORTS)) == 1


def test_field_errors_are_reported(iblai_conn: FakeIblaiServer) -> None:
    hook = IblaiHook()
    with pytest.raises(IblaiApiError, match=r"start_date: Date has wrong format") as info:
        hook.create_report({"report_name": "ai-mentor-chat-history", "start_date": "June 1st"})
    assert info.value.status == 400
    assert info.value.path == "/api/reports/platforms/acme/new"


def test_non_idempotent_post_not_retried_after_reaching_server(iblai_conn: FakeIblaiServer) -> None:
    iblai_conn.faults.add("/reports/platforms/acme/new$", "status", times=1, status=502)

    with pytest.raises(IblaiApiError):
        IblaiHook().post("/api/reports/platforms/acme/new", json={"report_name": "user-report"})
    assert len(iblai_conn.requests_to("/new$")) == 1


def test_non_idempotent_post_retried_on_429(iblai_conn: FakeIblaiServer) -> None:
    iblai_conn.faults.add("/reports/platforms/acme/new$", "retry_after", times=1, retry_after="0")

    IblaiHook().post("/api/reports/platforms/acme/new", json={"report_name": "user-report"})
    assert len(iblai_conn.requests_to("/new$")) == 2


def test_unreachable_host_gives_transport_error(monkeypatch) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(
        "AIRFLOW_CONN_IBLAI_DEFAULT",
        f'{{"conn_type":"iblai","host":"http://127.0.0.1:{port}/dm","password":"k3y-k3y-k3y",'
        '"extra":{"org":"acme","backoff_initial":0.01,"max_retries":2}}',
    )
    with pytest.raises(IblaiTransportError, match="unreachable on GET /api/reports/platforms/acme/"):
        IblaiHook().list_reports()


@pytest.mark.parametrize(
    ("conn", "field"),
    [
        ('{"conn_type":"iblai","host":"http://x/dm","extra":{"org":"acme"}}', "`password`"),
        ('{"conn_type":"iblai","host":"http://x/dm","password":"abcdef"}', "extra `org`"),
        ('{"conn_type":"iblai","password":"abcdef","extra":{"org":"a","max_retries":"many"}}', "extra `max_retries`"),
    ],
)
def test_missing_key_or_org_is_one_clear_error(monkeypatch, conn: str, field: str) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_IBLAI_DEFAULT", conn)
    with pytest.raises(IblaiConfigError) as info:
        IblaiHook().list_reports()
    assert field in str(info.value)
    assert "abcdef" not in str(info.value)


def test_user_path_needs_login(monkeypatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_IBLAI_DEFAULT", '{"conn_type":"iblai","password":"abcdef","extra":{"org":"acme"}}'
    )
    with pytest.raises(IblaiConfigError, match="`login`"):
        IblaiHook().user_path("periodic-agents/")


def test_test_connection(iblai_conn: FakeIblaiServer, monkeypatch) -> None:
    ok, message = IblaiHook().test_connection()
    assert ok and "acme" in message

    monkeypatch.setenv("AIRFLOW_CONN_IBLAI_DEFAULT", iblai_conn.connection_uri_json().replace(iblai_conn.api_key, "nope-nope"))
    ok, message = IblaiHook().test_connection()
    assert not ok and "401" in message and "nope-nope" not in message


def test_settings_repr_hides_key(iblai_conn: FakeIblaiServer) -> None:
    settings = IblaiHook().settings
    assert iblai_conn.api_key not in repr(settings)
    assert settings.base_url == iblai_conn.base_url
