"""The fake ibl.ai server itself: auth, reports lifecycle, presigned links, faults, control API."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests

from iblai_provider.testing import FakeIblaiServer, report_data

REPORT = "ai-mentor-chat-history"


def api(server: FakeIblaiServer, method: str, path: str, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Api-Token {server.api_key}", **kwargs.pop("headers", {})}
    return requests.request(method, server.base_url + path, headers=headers, timeout=10, **kwargs)


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "Authentication credentials were not provided."),
        ({"Authorization": "Api-Token wrong"}, "Invalid token."),
        ({"Authorization": "Bearer whatever"}, "Invalid token."),
    ],
)
def test_auth_enforced_with_documented_bodies(iblai_server: FakeIblaiServer, headers, detail) -> None:
    response = requests.get(iblai_server.base_url + "/api/reports/platforms/acme/", headers=headers, timeout=5)
    assert response.status_code == 401
    assert response.json() == {"detail": detail}


def test_other_org_is_forbidden(iblai_server: FakeIblaiServer) -> None:
    assert api(iblai_server, "GET", "/api/reports/platforms/other/").status_code == 403


def test_report_lifecycle_and_download(iblai_server: FakeIblaiServer) -> None:
    iblai_server.report_polls = 3
    created = api(iblai_server, "POST", "/api/reports/platforms/acme/new", json={"report_name": REPORT, "mentor": "m-1"})
    assert created.status_code == 200
    status = created.json()["data"]
    assert status["state"] == "pending" and status["url"] is None

    states = []
    for _ in range(3):
        body = api(iblai_server, "GET", f"/api/reports/platforms/acme/{REPORT}", params={"mentor_unique_id": "m-1"}).json()
        states.append(body["data"]["status"]["state"])
    assert states == ["running", "processing", "completed"]
    url = body["data"]["status"]["url"]

    # The same request again reuses the run instead of starting another.
    again = api(iblai_server, "POST", "/api/reports/platforms/acme/new", json={"report_name": REPORT, "mentor": "m-1"})
    assert again.json()["data"]["report_id"] == status["report_id"]

    download = requests.get(url, timeout=10)
    assert download.status_code == 200
    assert download.content == report_data.csv_bytes(iblai_server.report_rows)
    assert int(download.headers["Content-Length"]) == report_data.csv_size(iblai_server.report_rows)

    via_api = api(iblai_server, "GET", f"/api/reports/platforms/acme/{status['report_id']}/download")
    assert via_api.content == download.content


def test_presigned_link_refuses_authorization_header(iblai_server: FakeIblaiServer) -> None:
    iblai_server.report_polls = 0
    url = api(iblai_server, "POST", "/api/reports/platforms/acme/new", json={"report_name": REPORT}).json()["data"]["url"]
    leaked = requests.get(url, headers={"Authorization": f"Api-Token {iblai_server.api_key}"}, timeout=5)
    assert leaked.status_code == 400
    assert b"Only one auth mechanism allowed" in leaked.content


def test_presigned_link_expires(iblai_server: FakeIblaiServer) -> None:
    iblai_server.report_polls = 0
    url = api(iblai_server, "POST", "/api/reports/platforms/acme/new", json={"report_name": REPORT}).json()["data"]["url"]
    iblai_server.expire_download_urls()
    refused = requests.get(url, timeout=5)
    assert refused.status_code == 403 and b"Request has expired" in refused.content

    fresh = api(iblai_server, "GET", f"/api/reports/platforms/acme/{REPORT}").json()["data"]["status"]["url"]
    assert requests.get(fresh, timeout=5).status_code == 200

    tampered = fresh.replace("X-Amz-Expires=3600", "X-Amz-Expires=99999")
    assert requests.get(tampered, timeout=5).status_code == 403


def test_report_can_end_in_error(iblai_server: FakeIblaiServer) -> None:
    iblai_server.report_polls = 1
    iblai_server.set_report_outcome(REPORT, "error")
    api(iblai_server, "POST", "/api/reports/platforms/acme/new", json={"report_name": REPORT})
    body = api(iblai_server, "GET", f"/api/reports/platforms/acme/{REPORT}").json()
    assert body["data"]["status"]["state"] == "error"
    assert body["data"]["status"]["url"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"report_name": "nope"}, "report_name"),
        ({"report_name": REPORT, "start_date": "01/06/2026"}, "start_date"),
        ({"report_name": REPORT, "usergroup_ids": ["a"]}, "usergroup_ids"),
    ],
)
def test_create_validates_body(iblai_server: FakeIblaiServer, body, field) -> None:
    response = api(iblai_server, "POST", "/api/reports/platforms/acme/new", json=body)
    assert response.status_code == 400 and field in response.json()


def test_truncate_and_reset_faults_break_the_body(iblai_server: FakeIblaiServer) -> None:
    iblai_server.report_polls = 0
    url = api(iblai_server, "POST", "/api/reports/platforms/acme/new", json={"report_name": REPORT}).json()["data"]["url"]
    iblai_server.faults.add("/_storage/", "truncate", after_bytes=1000)
    iblai_server.faults.add("/_storage/", "reset_mid_body", after_bytes=1000)
    for _ in range(2):
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            requests.get(url, timeout=5).content  # noqa: B018 - reading the body is the point
    assert requests.get(url, timeout=5).status_code == 200  # faults are used up


def test_delay_fault(iblai_server: FakeIblaiServer) -> None:
    iblai_server.faults.add("/reports/platforms/acme/$", "delay", seconds=0.5)
    start = time.monotonic()
    assert api(iblai_server, "GET", "/api/reports/platforms/acme/").status_code == 200
    assert time.monotonic() - start >= 0.5


def test_records_requests_without_the_key(iblai_server: FakeIblaiServer) -> None:
    api(iblai_server, "GET", "/api/reports/platforms/acme/", params={"mentor_id": 3})
    (seen,) = iblai_server.requests
    assert seen.query == {"mentor_id": ["3"]}
    assert "authorization" not in seen.headers
    assert iblai_server.api_key not in repr(seen)


def test_unknown_query_param_is_400(iblai_server: FakeIblaiServer) -> None:
    response = api(iblai_server, "GET", f"/api/reports/platforms/acme/{REPORT}", params={"mentor": "x"})
    assert response.status_code == 400 and "mentor" in response.json()


def test_large_report_streams_exact_size() -> None:
    with FakeIblaiServer(report_polls=0, report_bytes=50_000_000) as server:
        url = api(server, "POST", "/api/reports/platforms/acme/new", json={"report_name": REPORT}).json()["data"]["url"]
        with requests.get(url, stream=True, timeout=30) as response:
            total = sum(len(c) for c in response.iter_content(1 << 20))
        assert total == int(response.headers["Content-Length"])
        assert 49_000_000 < total <= 50_000_000


def test_command_line_server_and_control_api(tmp_path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "iblai_provider.testing.server", "--port", str(port), "--api-key", "k" * 64],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        first_line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/dm" in first_line
        base = f"http://127.0.0.1:{port}"
        fault = requests.post(base + "/_fake/faults", json={"path": "/reports/", "kind": "status", "status": 503}, timeout=5)
        assert fault.status_code == 201
        hit = requests.get(base + "/dm/api/reports/platforms/acme/", headers={"Authorization": "Api-Token " + "k" * 64}, timeout=5)
        assert hit.status_code == 503
        seen = requests.get(base + "/_fake/requests", timeout=5).json()
        assert [r["path"] for r in seen] == ["/dm/api/reports/platforms/acme/"]
        assert "k" * 64 not in str(seen)
        assert requests.post(base + "/_fake/config", json={"bogus": 1}, timeout=5).status_code == 400
    finally:
        proc.terminate()
        proc.wait(10)
