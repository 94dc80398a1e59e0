"""S3 on loopback for tests: a moto server in a thread, a fresh bucket per test, an Airflow connection.

Import the fixtures into a test module explicitly (only the root conftest may use
``pytest_plugins``)::

    from tests.moto_s3 import moto_endpoint, s3_bucket  # noqa: F401  (pytest fixtures)

The moto server is real HTTP on 127.0.0.1, so an ``airflow dags test`` subprocess can use it
too: pass ``bucket.env()`` into its environment.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

S3_CONN_ID = "iblai_test_s3"
FAKE_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGION = "us-east-1"


@dataclass
class S3Bucket:
    """One empty bucket on the moto server, and the Airflow connection that reaches it."""

    endpoint: str
    name: str
    client: Any
    conn_id: str = S3_CONN_ID

    def url(self, key: str) -> str:
        return f"s3://{self.name}/{key}"

    def conn_json(self) -> str:
        return json.dumps(
            {
                "conn_type": "aws",
                "login": FAKE_KEYS["aws_access_key_id"],
                "password": FAKE_KEYS["aws_secret_access_key"],
                "extra": {"endpoint_url": self.endpoint, "region_name": REGION},
            }
        )

    def env(self) -> dict[str, str]:
        """Environment for a subprocess (``airflow dags test``) that must reach this bucket."""
        return {f"AIRFLOW_CONN_{self.conn_id.upper()}": self.conn_json(), "AWS_EC2_METADATA_DISABLED": "true"}

    def keys(self) -> list[str]:
        listing = self.client.list_objects_v2(Bucket=self.name)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=data)

    def open_uploads(self) -> list[str]:
        """Keys of multipart uploads begun but neither completed nor aborted."""
        return [u["Key"] for u in self.client.list_multipart_uploads(Bucket=self.name).get("Uploads", [])]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto S3 server on a free loopback port, for the whole session."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per S3 request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    """A new empty bucket, and ``AIRFLOW_CONN_IBLAI_TEST_S3`` pointing at it (this process)."""
    import boto3

    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION, **FAKE_KEYS)
    bucket = S3Bucket(moto_endpoint, f"iblai-{uuid.uuid4().hex[:12]}", client)
    client.create_bucket(Bucket=bucket.name)
    for name, value in bucket.env().items():
        monkeypatch.setenv(name, value)
    return bucket
