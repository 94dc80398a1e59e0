"""Daily export of a mentor's chat history from ibl.ai Data Reports into object storage.

Each run requests the ``ai-mentor-chat-history`` report for its data interval (``from_date`` /
``to_date`` become the report's ``start_date`` / ``end_date``), then waits for the run to finish
with a deferrable sensor: the wait happens in the triggerer, not in a worker slot. The sensor is
pinned to the requested run (``report_id`` from the create task's XCom), so a newer run of the
same report would fail it rather than be mistaken for this one; ``max_active_runs=1`` keeps
daily runs from overlapping, since the API shows only the latest run per report and mentor.
Finally the CSV is streamed, all or nothing, to ``<base>/iblai/<report_name>/<ds>.csv``; the
transfer updates the Asset ``report_export_asset("ai-mentor-chat-history")``, whose events carry
the object's ``uri``, ``rows``, ``bytes`` and ``sha256`` for DAGs scheduled on it.

Settings (all optional):

* Airflow Variable ``iblai_mentor``: the mentor's unique_id (default: a mentor of the fake server).
* Airflow Variable ``iblai_export_base``: where the CSVs go, any object storage URL such as
  ``s3://my-bucket/exports`` (default: the local folder ``file:///tmp/iblai-exports``).
* Airflow Variable ``iblai_export_conn_id``: the storage connection for that URL, e.g. an
  ``aws`` connection for ``s3://`` (default: none, i.e. the backend's own credential chain).
* Environment ``IBLAI_REPORT_POKE_INTERVAL``: seconds between status polls (default 10).

Run it offline against the bundled fake server::

    python -m iblai_provider.testing.server --port 8787 --report-polls 3
    export AIRFLOW_CONN_IBLAI_DEFAULT='...'   # the line the server prints
    airflow dags test iblai_report_export 2026-06-01

or in one go: ``bash example_dags/run_report_export.sh 2026-06-01``. Against the real API, set
the ``iblai_default`` connection (host ``https://api.iblai.app/dm``, password = API key,
extra ``{"org": "<platform key>"}``) and the ``iblai_mentor`` Variable instead.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

from iblai_provider.operators.reports import IblaiCreateReportOperator
from iblai_provider.sensors.reports import IblaiReportSensor
from iblai_provider.transfers.report_to_object_storage import IblaiReportToObjectStorageOperator

REPORT_NAME = "ai-mentor-chat-history"
MENTOR = "{{ var.value.get('iblai_mentor', 'd17dc729-60fd-4363-81a0-f67d9318b03e') }}"
EXPORT_BASE = "{{ var.value.get('iblai_export_base', 'file:///tmp/iblai-exports') }}"
# Where the day's CSV goes (used by the transfer task): <base>/iblai/<report_name>/<ds>.csv
EXPORT_PATH = f"{EXPORT_BASE}/iblai/{REPORT_NAME}/{{{{ ds }}}}.csv"
EXPORT_CONN_ID = "{{ var.value.get('iblai_export_conn_id', '') }}"
POKE_INTERVAL = float(os.environ.get("IBLAI_REPORT_POKE_INTERVAL", "10"))

with DAG(
    dag_id="iblai_report_export",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["iblai", "reports"],
    doc_md=__doc__,
) as dag:
    create_report = IblaiCreateReportOperator(
        task_id="create_report",
        report_name=REPORT_NAME,
        mentor=MENTOR,
        from_date="{{ data_interval_start | ds }}",
        to_date="{{ data_interval_end | ds }}",
        # Safe to retry: the API answers a repeated request with the run already under way.
        retries=2,
        retry_delay=timedelta(minutes=1),
    )
    wait_for_report = IblaiReportSensor(
        task_id="wait_for_report",
        report_name=REPORT_NAME,
        mentor_unique_id=MENTOR,
        report_id="{{ ti.xcom_pull(task_ids='create_report')['report_id'] }}",
        deferrable=True,
        poke_interval=POKE_INTERVAL,
        timeout=timedelta(hours=2),
        # No retries: transient API errors are already retried while waiting, and a run that ended
        # in error/cancelled/expired needs a new request (clear create_report), not another wait.
        retries=0,
    )
    export_csv = IblaiReportToObjectStorageOperator(
        task_id="export_csv",
        report_name=REPORT_NAME,
        mentor_unique_id=MENTOR,
        # The run this DAG run requested: a newer run of the same report fails the task instead.
        report_id="{{ ti.xcom_pull(task_ids='create_report')['report_id'] }}",
        dest=EXPORT_PATH,
        dest_conn_id=EXPORT_CONN_ID,
        # A re-run of the same day replaces that day's file (written atomically: never half a file).
        overwrite=True,
        retries=2,
        retry_delay=timedelta(minutes=1),
    )
    create_report >> wait_for_report >> export_csv
