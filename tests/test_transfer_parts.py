"""The transfer's building blocks: CSV record counting, the copy loop, URL scrubbing, arguments,
Asset outlets and OpenLineage facets. No network except where a test says so."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from iblai_provider._compat import Asset, ObjectStoragePath
from iblai_provider.exceptions import IblaiConfigError
from iblai_provider.transfers.report_to_object_storage import (
    IblaiReportToObjectStorageOperator,
    report_export_asset,
)
from iblai_provider.utils.presigned_download import scrub, url_secrets
from iblai_provider.utils.stream_copy import CsvRecordCounter, IncompleteCopyError, ProgressLog, copy_stream

URL = (
    "https://bucket.s3.amazonaws.com/r/5f0c.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAEXAMPLE%2F20260601%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260601T100000Z"
    "&X-Amz-Expires=3600&X-Amz-Security-Token=FwoGZXIvYXdzEXAMPLETOKEN&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)


def op(**kwargs: Any) -> IblaiReportToObjectStorageOperator:
    options = {"task_id": "t", "report_name": "user-report", "dest": "file:///tmp/x.csv", **kwargs}
    return IblaiReportToObjectStorageOperator(**options)


# -- CSV records -----------------------------------------------------------------------------


TRICKY = (
    b'id,message,response\r\n'
    b'1,"line one\nline two","he said ""hi""\nthen left"\r\n'
    b'2,plain,"comma, inside"\r\n'
    b'3,"""quoted start",last'  # no newline at the end
)


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, len(TRICKY)])
def test_records_are_counted_like_the_csv_module_whatever_the_chunking(chunk: int) -> None:
    counter = CsvRecordCounter()
    for start in range(0, len(TRICKY), chunk):
        counter.feed(TRICKY[start : start + chunk])
    expected = len(list(csv.reader(io.StringIO(TRICKY.decode(), newline="")))) - 1
    assert expected == 3 and counter.data_rows == expected


def test_empty_and_header_only_files_have_no_rows() -> None:
    for body in (b"", b"a,b\n", b"a,b"):
        counter = CsvRecordCounter()
        counter.feed(body)
        assert counter.data_rows == 0


def test_copy_checks_the_announced_size() -> None:
    out = io.BytesIO()
    with pytest.raises(IncompleteCopyError, match="after 10 bytes, but 12 were announced"):
        copy_stream([b"a,b\n", b"1,2\n3,4"[:6]], out, expected_size=12)
    result = copy_stream([b"a,b\n", b"1,2\n"], io.BytesIO(), expected_size=8)
    assert (result.size, result.rows) == (8, 1)
    assert result.sha256 == hashlib.sha256(b"a,b\n1,2\n").hexdigest()


def test_progress_lines_give_bytes_percent_and_rate(caplog: Any, monkeypatch: Any) -> None:
    import iblai_provider.utils.stream_copy as stream_copy

    clock = iter([100.0, 103.0, 106.0, 107.0])  # start, two updates 3 s apart, finish
    monkeypatch.setattr(stream_copy.time, "monotonic", lambda: next(clock))
    log = logging.getLogger("progress-test")
    caplog.set_level("INFO", "progress-test")
    progress = ProgressLog(log, "report x", total=10_000_000, interval=5.0)
    progress.update(3_000_000)  # 3 s in: not yet
    progress.update(6_000_000)  # 6 s in: one line
    progress.finish(10_000_000)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "report x: 6.0 MB of 10.0 MB (60.0%), 1.0 MB/s",
        "report x: 10.0 MB of 10.0 MB (100.0%), 1.4 MB/s in 7.0 s",
    ]


# -- URL scrubbing ---------------------------------------------------------------------------


def test_url_secrets_are_the_credentials_not_the_harmless_fields() -> None:
    secrets = url_secrets(URL)
    assert URL in secrets
    assert "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" in secrets
    assert "FwoGZXIvYXdzEXAMPLETOKEN" in secrets and "AKIAEXAMPLE/20260601/us-east-1/s3/aws4_request" in secrets
    assert "3600" not in secrets and "host" not in secrets  # masking these would redact unrelated log text


def test_scrub_removes_the_url_and_any_query_string() -> None:
    text = f"HTTPSConnectionPool(host='bucket.s3.amazonaws.com'): Max retries exceeded with url: /r/5f0c.csv?{URL.split('?')[1]}"
    cleaned = scrub(text, URL)
    assert "X-Amz" not in cleaned and "0123456789abcdef" not in cleaned and "FwoG" not in cleaned
    assert cleaned.endswith("/r/5f0c.csv?***")


# -- arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dest": "exports/x.csv"}, "dest must be an object URL.*relative path"),
        ({"dest": "s3://bucket/folder/"}, "dest must name an object"),
        ({"dest": "s3://bucket"}, "dest must name an object"),
        ({"dest": 42}, "dest must be an object URL string or an ObjectStoragePath"),
        ({"report_name": ""}, "report_name must be a report slug"),
        ({"chunk_size": 10}, "chunk_size must be an int of bytes from 65536 to 67108864; got 10"),
        ({"chunk_size": "1MB"}, "chunk_size must be an int"),
        ({"download_retries": -1}, "download_retries must be an int >= 0"),
        ({"overwrite": "yes"}, "overwrite must be True or False"),
    ],
)
def test_bad_arguments_raise_one_clear_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(IblaiConfigError, match=message):
        op(**kwargs)


def test_templated_values_are_checked_after_rendering_only() -> None:
    task = op(dest="{{ var.value.base }}/iblai/{{ ds }}.csv", report_name="user-report")
    assert task.template_fields == ("report_name", "mentor_unique_id", "report_id", "dest", "dest_conn_id")


# -- outlets ---------------------------------------------------------------------------------


def test_a_fixed_dest_is_its_own_asset() -> None:
    assert op(dest="s3://aws_prod@bucket/iblai/chat.csv").outlets == [Asset("s3://bucket/iblai/chat.csv")]
    assert op(dest="/data/x.csv").outlets == [Asset("file:///data/x.csv")]
    assert op(dest=ObjectStoragePath("file:///data/y.csv")).outlets == [Asset("file:///data/y.csv")]


def test_a_templated_dest_updates_the_stable_report_asset() -> None:
    task = op(dest="s3://bucket/iblai/{{ ds }}.csv", report_name="ai-mentor-chat-history")
    assert task.outlets == [report_export_asset("ai-mentor-chat-history")]
    assert report_export_asset("ai-mentor-chat-history").name == "iblai-report-export/ai-mentor-chat-history"


def test_outlets_given_by_the_user_are_kept_and_get_the_event_extra() -> None:
    mine = Asset("s3://bucket/iblai/")
    task = op(outlets=[mine])
    assert task.outlets == [mine]
    events: dict[Any, Any] = {mine: SimpleNamespace(extra={})}
    result = {"uri": "s3://bucket/iblai/x.csv", "bytes": 3, "sha256": "ab", "rows": 0}
    task._record_asset_events({"outlet_events": events}, result)
    assert events[mine].extra == {"report_name": "user-report", **result}


# -- OpenLineage -----------------------------------------------------------------------------


@pytest.fixture
def conn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_IBLAI_DEFAULT",
        '{"conn_type": "iblai", "host": "https://api.iblai.app/dm", "password": "k" , "extra": {"org": "acme"}}',
    )


def test_lineage_on_start_names_the_report_and_the_object(conn: None) -> None:
    task = op(dest="s3://bucket/iblai/chat.csv", report_name="ai-mentor-chat-history", mentor_unique_id="m-1")
    lineage = task.get_openlineage_facets_on_start()
    (source,) = lineage.inputs
    (target,) = lineage.outputs
    assert (source.namespace, source.name) == ("iblai://api.iblai.app", "acme/reports/ai-mentor-chat-history/m-1")
    assert (target.namespace, target.name) == ("s3://bucket", "iblai/chat.csv")


def test_lineage_on_complete_adds_rows_and_size(conn: None) -> None:
    task = op(dest="file:///data/chat.csv")
    task._result = {"uri": "file:///data/chat.csv", "bytes": 1234, "sha256": "x", "rows": 7}
    (target,) = task.get_openlineage_facets_on_complete(None).outputs
    assert (target.namespace, target.name) == ("file", "/data/chat.csv")
    stats = target.outputFacets["outputStatistics"]
    assert (stats.rowCount, stats.size) == (7, 1234)


def test_lineage_without_the_openlineage_provider_is_none(conn: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage.extractors", None)  # import fails
    assert op().get_openlineage_facets_on_start() is None


def test_upload_parts_stay_small_unless_the_object_needs_more_than_9000() -> None:
    from iblai_provider.transfers.report_to_object_storage import upload_part_size

    mib = 1024 * 1024
    assert upload_part_size(None) == upload_part_size(1 << 30) == 8 * mib
    huge = 200 * 1024 * mib  # 200 GiB
    assert upload_part_size(huge) % mib == 0 and 9_000 * upload_part_size(huge) >= huge > 9_000 * (upload_part_size(huge) - mib)
