"""The report transfer end to end: fake ibl.ai server on loopback -> real files and S3 (moto).

Every failure case checks that nothing is left at the destination (no object, no ``.partial``
sibling, no open multipart upload) and that an object already there is unchanged.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from iblai_provider.exceptions import IblaiApiError
from iblai_provider.testing import report_data
from iblai_provider.testing.server import FakeIblaiServer
from iblai_provider.transfers.report_to_object_storage import IblaiReportToObjectStorageOperator
from iblai_provider.utils.atomic_write import DestinationExistsError
from iblai_provider.utils.presigned_download import StorageRefusedError, TransientDownloadError
from iblai_provider.utils.report_state import IblaiReportError
from tests.moto_s3 import moto_endpoint, s3_bucket  # noqa: F401  (pytest fixtures)

REPORT = "ai-mentor-chat-history"
MENTOR = "0b8f6a52-2c3e-4d5f-9a1b-7c6d5e4f3a21"
ROWS = 3000  # ~650 KB: ten 64 KiB chunks, so faults can hit mid-stream
CHUNK = 64 * 1024
STORAGE = r"^/_storage/"
POLL = rf"/api/reports/platforms/acme/{REPORT}\Z"
OLD = b"previous export, must survive\n"


class LocalStore:
    conn_id = None

    def __init__(self, root: Path) -> None:
        self.root = root

    def url(self, key: str) -> str:
        return f"file://{self.root}/{key}"

    def keys(self) -> list[str]:
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file())

    def read(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def put(self, key: str, data: bytes) -> None:
        (self.root / key).parent.mkdir(parents=True, exist_ok=True)
        (self.root / key).write_bytes(data)

    def open_uploads(self) -> list[str]:
        return []


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "file":
        return LocalStore(tmp_path / "exports")
    return request.getfixturevalue("s3_bucket")


@pytest.fixture
def server(iblai_conn: FakeIblaiServer) -> FakeIblaiServer:
    """The fake API with a finished ROWS-row report run for MENTOR."""
    from iblai_provider.hooks.iblai import IblaiHook

    iblai_conn.report_polls = 0
    iblai_conn.report_rows = ROWS
    IblaiHook().create_report({"report_name": REPORT, "mentor": MENTOR})
    iblai_conn.requests.clear()
    return iblai_conn


def transfer(store: Any, key: str = "iblai/chat.csv", **kwargs: Any) -> IblaiReportToObjectStorageOperator:
    options = {"report_name": REPORT, "mentor_unique_id": MENTOR, "chunk_size": CHUNK, "dest_conn_id": store.conn_id}
    return IblaiReportToObjectStorageOperator(task_id=f"t{uuid.uuid4().hex[:8]}", dest=store.url(key), **{**options, **kwargs})


def storage_requests(server: FakeIblaiServer) -> list[Any]:
    return server.requests_to(STORAGE)


def assert_untouched(store: Any, before: dict[str, bytes]) -> None:
    """Exactly the objects that were there before, byte for byte; no partials, no open uploads."""
    assert store.keys() == sorted(before)
    assert all(store.read(key) == data for key, data in before.items())
    assert store.open_uploads() == []


def assert_no_secrets(server: FakeIblaiServer, *texts: str) -> None:
    signatures = [r.query["X-Amz-Signature"][0] for r in storage_requests(server)]
    assert signatures or not storage_requests(server)
    for text in texts:
        assert server.api_key not in text
        assert "X-Amz-Signature" not in text and "X-Amz-Credential" not in text  # no query string of the link
        for signature in signatures:
            assert signature not in text


def test_copies_the_report_to_storage(server: FakeIblaiServer, store: Any, caplog: Any, capsys: Any) -> None:
    caplog.set_level("DEBUG")
    result = transfer(store).execute({})

    expected = report_data.csv_bytes(ROWS)
    assert store.read("iblai/chat.csv") == expected
    assert store.keys() == ["iblai/chat.csv"] and store.open_uploads() == []
    assert result == {
        "uri": store.url("iblai/chat.csv"),
        "bytes": len(expected),
        "sha256": report_data.csv_sha256(ROWS),
        "rows": ROWS,
    }
    # The presigned link was fetched fresh from the API, and reached without any credentials.
    assert len(server.requests_to(POLL, "GET")) == 1
    downloads = storage_requests(server)
    assert len(downloads) == 1 and downloads[0].auth == "missing"
    assert "authorization" not in downloads[0].headers
    captured = capsys.readouterr()
    assert re.search(r"report ai-mentor-chat-history: [\d.]+ MB of [\d.]+ MB \(100\.0%\), [\d.,]+ MB/s", captured.out + captured.err + caplog.text)
    assert_no_secrets(server, str(result), caplog.text, captured.out, captured.err)
    # Masked before anything could log it: the task log redacts the signature wherever it appears.
    from airflow.sdk._shared.secrets_masker import redact

    assert redact(downloads[0].query["X-Amz-Signature"][0]) == "***"


def test_file_dest_with_an_absolute_path_and_nested_folders(server: FakeIblaiServer, tmp_path: Path) -> None:
    dest = tmp_path / "a" / "b" / "c.csv"
    result = IblaiReportToObjectStorageOperator(
        task_id="plain_path", report_name=REPORT, mentor_unique_id=MENTOR, dest=str(dest)
    ).execute({})
    assert dest.read_bytes() == report_data.csv_bytes(ROWS)
    assert result["uri"] == f"file://{dest}"


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"kind": "reset_mid_body", "after_bytes": 200_000}, id="reset-mid-stream"),
        pytest.param({"kind": "truncate", "after_bytes": 200_000}, id="truncated-body"),
        pytest.param({"kind": "status", "status": 503}, id="storage-503"),
    ],
)
def test_broken_downloads_leave_nothing_behind(server: FakeIblaiServer, store: Any, fault: dict[str, Any]) -> None:
    server.faults.add(STORAGE, times=None, **fault)
    with pytest.raises(TransientDownloadError) as failure:
        transfer(store, download_retries=2).execute({})
    assert_untouched(store, {})
    assert len(storage_requests(server)) == 3  # the first try and two fresh downloads
    # No chained requests error in the traceback: its text would hold the URL (re-raised `from None`).
    assert failure.value.__context__ is None or failure.value.__suppress_context__
    assert_no_secrets(server, str(failure.value), repr(failure.value))


def test_a_failed_download_never_damages_the_previous_object(server: FakeIblaiServer, store: Any) -> None:
    store.put("iblai/chat.csv", OLD)
    server.faults.add(STORAGE, "reset_mid_body", times=None, after_bytes=300_000)
    with pytest.raises(TransientDownloadError):
        transfer(store, overwrite=True, download_retries=0).execute({})
    assert_untouched(store, {"iblai/chat.csv": OLD})


def test_a_reset_is_retried_from_the_first_byte(server: FakeIblaiServer, store: Any) -> None:
    server.faults.add(STORAGE, "reset_mid_body", times=1, after_bytes=200_000)
    result = transfer(store).execute({})
    assert store.read("iblai/chat.csv") == report_data.csv_bytes(ROWS)
    assert store.keys() == ["iblai/chat.csv"] and store.open_uploads() == []
    assert result["sha256"] == report_data.csv_sha256(ROWS) and result["rows"] == ROWS
    assert len(storage_requests(server)) == 2


def test_5xx_on_the_status_fails_before_any_download(server: FakeIblaiServer, store: Any) -> None:
    server.faults.add(POLL, "status", times=None, status=503)
    with pytest.raises(IblaiApiError) as failure:
        transfer(store).execute({})
    assert failure.value.status == 503
    assert len(server.requests_to(POLL)) == 6  # the hook's own retries (max_retries=5)
    assert storage_requests(server) == []
    assert_untouched(store, {})


def test_an_expired_link_is_replaced_by_a_fresh_one(server: FakeIblaiServer, store: Any) -> None:
    # The link from the first poll expires before storage sees it (the download waits 2.5 s, the
    # server expires all links issued so far at 0.2 s); the re-poll issues a valid one.
    server.faults.add(STORAGE, "delay", times=1, seconds=2.5)
    server.call_later(0.2, server.expire_download_urls)
    result = transfer(store).execute({})
    assert store.read("iblai/chat.csv") == report_data.csv_bytes(ROWS)
    assert store.keys() == ["iblai/chat.csv"] and result["rows"] == ROWS
    assert len(server.requests_to(POLL, "GET")) == 2
    first, second = storage_requests(server)
    assert first.query["X-Amz-Date"] != second.query["X-Amz-Date"]


def test_a_link_refused_twice_fails_after_one_refresh(server: FakeIblaiServer, store: Any) -> None:
    expired = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
    server.faults.add(STORAGE, "status", times=None, status=403, body=expired)
    with pytest.raises(StorageRefusedError, match="403 AccessDenied: Request has expired") as failure:
        transfer(store).execute({})
    assert len(server.requests_to(POLL, "GET")) == 2 and len(storage_requests(server)) == 2
    assert_untouched(store, {})
    assert_no_secrets(server, str(failure.value))


def test_an_existing_object_is_kept_without_overwrite(server: FakeIblaiServer, store: Any) -> None:
    store.put("iblai/chat.csv", OLD)
    with pytest.raises(DestinationExistsError, match="already exists.*overwrite=True"):
        transfer(store).execute({})
    assert server.requests == []  # refused before asking the API anything
    assert_untouched(store, {"iblai/chat.csv": OLD})


def test_overwrite_replaces_an_existing_object(server: FakeIblaiServer, store: Any) -> None:
    store.put("iblai/chat.csv", OLD)
    transfer(store, overwrite=True).execute({})
    assert store.read("iblai/chat.csv") == report_data.csv_bytes(ROWS)
    assert store.keys() == ["iblai/chat.csv"]


def test_a_storage_write_error_leaves_nothing(server: FakeIblaiServer, store: Any, monkeypatch: Any) -> None:
    # Edge case only a mock reaches: the storage backend fails while the download is healthy.
    from fsspec.implementations.local import LocalFileOpener
    from s3fs.core import S3File

    def disk_full(self: Any, data: Any) -> int:
        raise OSError(28, "No space left on device")

    def refused(self: Any) -> None:
        raise PermissionError("AccessDenied: PutObject")

    monkeypatch.setattr(LocalFileOpener, "write", disk_full)
    monkeypatch.setattr(S3File, "commit", refused)  # small S3 objects are uploaded at close
    with pytest.raises(OSError):
        transfer(store).execute({})
    assert_untouched(store, {})


def test_a_report_still_running_is_refused(iblai_conn: FakeIblaiServer, store: Any) -> None:
    from iblai_provider.hooks.iblai import IblaiHook

    iblai_conn.report_polls = 5
    IblaiHook().create_report({"report_name": REPORT, "mentor": MENTOR})
    with pytest.raises(IblaiReportError, match="Only a completed run can be transferred"):
        transfer(store).execute({})
    assert storage_requests(iblai_conn) == []
    assert_untouched(store, {})


def test_a_report_that_never_ran_is_refused(iblai_conn: FakeIblaiServer, tmp_path: Path) -> None:
    with pytest.raises(IblaiReportError, match="has never run"):
        transfer(LocalStore(tmp_path)).execute({})
    assert storage_requests(iblai_conn) == []


def test_a_newer_run_than_the_one_waited_for_is_refused(server: FakeIblaiServer, tmp_path: Path) -> None:
    with pytest.raises(IblaiReportError, match="instead of run 00000000"):
        transfer(LocalStore(tmp_path), report_id="00000000-0000-4000-8000-000000000000").execute({})
    assert storage_requests(server) == [] and LocalStore(tmp_path).keys() == []


def test_without_a_link_the_api_download_route_is_used(server: FakeIblaiServer, tmp_path: Path, monkeypatch: Any) -> None:
    from iblai_provider.hooks.iblai import IblaiHook

    real = IblaiHook.get_report_status

    def no_link(self: Any, *args: Any) -> Any:  # an API version whose status carries no url
        status = real(self, *args)
        return {**status, "url": None}

    monkeypatch.setattr(IblaiHook, "get_report_status", no_link)
    store = LocalStore(tmp_path)
    result = transfer(store).execute({})
    assert store.read("iblai/chat.csv") == report_data.csv_bytes(ROWS) and result["rows"] == ROWS
    (download,) = server.requests_to(r"/download\Z", "GET")
    assert download.auth == "valid" and storage_requests(server) == []


def test_a_bad_rendered_dest_fails_before_any_request(server: FakeIblaiServer) -> None:
    op = IblaiReportToObjectStorageOperator(task_id="bad", report_name=REPORT, dest="{{ params.where }}")
    op.dest = "exports/chat.csv"  # what rendering a relative path gives
    with pytest.raises(ValueError, match="dest must be an object URL.*relative path 'exports/chat.csv'"):
        op.execute({})
    assert server.requests == []
