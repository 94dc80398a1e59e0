"""Analytics streamed to S3 (a moto server on loopback) through Airflow's ObjectStoragePath."""

from __future__ import annotations

import pytest

from iblai_provider.exceptions import IblaiApiError
from iblai_provider.operators.analytics import IblaiAnalyticsOperator, IblaiTranscriptsToObjectStorageOperator
from iblai_provider.testing.analytics_data import N_USERS, SPIKE_CONVERSATIONS, SPIKE_DAY
from tests.moto_s3 import moto_endpoint, s3_bucket  # noqa: F401  (pytest fixtures)

pytest.importorskip("moto.server")


def test_records_land_in_s3_whole(iblai_conn, s3_bucket):  # noqa: F811
    result = IblaiAnalyticsOperator(
        task_id="t",
        endpoint="financial/details/",
        date_filter="all_time",
        query_params={"group_by": "username"},
        dest=s3_bucket.url("iblai/costs.csv"),
        dest_conn_id=s3_bucket.conn_id,
        output_format="csv",
    ).execute({})
    assert result == {"uri": s3_bucket.url("iblai/costs.csv"), "records": N_USERS}
    lines = s3_bucket.read("iblai/costs.csv").decode().splitlines()
    assert lines[0] == "username,total_cost" and len(lines) == N_USERS + 1
    assert s3_bucket.keys() == ["iblai/costs.csv"] and s3_bucket.open_uploads() == []


def test_a_failed_transfer_leaves_s3_untouched(iblai_conn, s3_bucket):  # noqa: F811
    s3_bucket.put("iblai/t.jsonl", b"previous run\n")
    iblai_conn.faults.add(r"/messages/details/$", "delay", times=5, seconds=0)
    iblai_conn.faults.add(r"/messages/details/$", "status", times=1, status=400, body={"detail": "boom"})
    day = str(SPIKE_DAY)
    op = IblaiTranscriptsToObjectStorageOperator(
        task_id="t", from_date=day, to_date=day, dest=s3_bucket.url("iblai/t.jsonl"), dest_conn_id=s3_bucket.conn_id
    )
    with pytest.raises(IblaiApiError):
        op.execute({})
    assert s3_bucket.read("iblai/t.jsonl") == b"previous run\n"
    assert s3_bucket.keys() == ["iblai/t.jsonl"] and s3_bucket.open_uploads() == []
    assert op.execute({})["records"] == SPIKE_CONVERSATIONS
    assert len(s3_bucket.read("iblai/t.jsonl").decode().splitlines()) == SPIKE_CONVERSATIONS
