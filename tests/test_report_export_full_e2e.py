"""The main job end to end: ``airflow dags test iblai_report_export`` (real Airflow on SQLite)
against the fake ibl.ai server, into real files and into S3 on a loopback moto server.

Checks the CSV byte for byte against the fake server's deterministic content, the transfer's
XCom and Asset event, and scans everything the run left behind (command output, task log files,
XCom) for the API key and the presigned link's signature.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iblai_provider.testing import report_data
from iblai_provider.testing.server import FakeIblaiServer
from tests.moto_s3 import S3Bucket, moto_endpoint, s3_bucket  # noqa: F401, F811  (pytest fixtures)

pytestmark = pytest.mark.e2e
DAG_ID = "iblai_report_export"
REPORT = "ai-mentor-chat-history"
ROWS = 1500


@pytest.fixture
def server() -> Iterator[FakeIblaiServer]:
    with FakeIblaiServer(report_polls=2, report_rows=ROWS) as srv:
        yield srv


def run_export(airflow_env: Any, server: FakeIblaiServer, base: str, ds: str, **env: str) -> Any:
    result = airflow_env.dags_test(
        DAG_ID,
        logical_date=ds,
        env={
            "AIRFLOW_CONN_IBLAI_DEFAULT": server.connection_uri_json(),
            "AIRFLOW_VAR_IBLAI_EXPORT_BASE": base,
            "IBLAI_REPORT_POKE_INTERVAL": "1",
            **env,
        },
    )
    assert result.returncode == 0 and result.state == "success", result.output[-5000:]
    states = airflow_env.task_states(DAG_ID, result.run_id)
    assert states == {"create_report": "success", "wait_for_report": "success", "export_csv": "success"}, states
    return result


def check_run(airflow_env: Any, server: FakeIblaiServer, result: Any, uri: str) -> None:
    """XCom, Asset event and the secrets scan of one successful run."""
    xcom = airflow_env.xcom_values(DAG_ID, result.run_id)
    exported = json.loads(xcom["export_csv/return_value"])
    assert exported == {
        "uri": uri,
        "bytes": report_data.csv_size(ROWS),
        "sha256": report_data.csv_sha256(ROWS),
        "rows": ROWS,
    }
    events = airflow_env.query(
        "SELECT a.name, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE e.source_run_id = ?",
        (result.run_id,),
    )
    assert [(name, json.loads(extra)["uri"]) for name, extra in events] == [(f"iblai-report-export/{REPORT}", uri)]

    # The link was fetched by the transfer itself, and storage never saw a credential.
    downloads = server.requests_to(r"^/_storage/")
    assert len(downloads) == 1 and downloads[0].auth == "missing"
    # Secrets scan: what the run printed, the task log files, every XCom value.
    signature = downloads[0].query["X-Amz-Signature"][0]
    assert len(signature) == 64
    haystacks = {"output": result.output, "logs": airflow_env.log_text(), "xcom": json.dumps(xcom)}
    assert "Copied report ai-mentor-chat-history" in haystacks["output"] + haystacks["logs"]
    for where, text in haystacks.items():
        assert server.api_key not in text, where
        assert signature not in text, where
        assert "X-Amz-Signature" not in text and "X-Amz-Credential" not in text, where


def test_export_to_local_files(airflow_env: Any, server: FakeIblaiServer, tmp_path: Path) -> None:
    ds = "2026-03-11"
    result = run_export(airflow_env, server, f"file://{tmp_path}/exports", ds)
    target = tmp_path / "exports" / "iblai" / REPORT / f"{ds}.csv"
    assert target.read_bytes() == report_data.csv_bytes(ROWS)
    assert [p.name for p in target.parent.iterdir()] == [f"{ds}.csv"]  # no temporary sibling left
    check_run(airflow_env, server, result, f"file://{target}")


def test_export_to_s3(airflow_env: Any, server: FakeIblaiServer, s3_bucket: S3Bucket) -> None:  # noqa: F811
    ds = "2026-03-12"
    env = {**s3_bucket.env(), "AIRFLOW_VAR_IBLAI_EXPORT_CONN_ID": s3_bucket.conn_id}
    result = run_export(airflow_env, server, f"s3://{s3_bucket.name}/exports", ds, **env)
    key = f"exports/iblai/{REPORT}/{ds}.csv"
    assert s3_bucket.keys() == [key] and s3_bucket.open_uploads() == []
    assert s3_bucket.read(key) == report_data.csv_bytes(ROWS)
    check_run(airflow_env, server, result, f"s3://{s3_bucket.name}/{key}")
