"""Daily ibl.ai analytics snapshot: org-wide and per-agent KPIs and costs, plus yesterday's transcripts.

Each run writes under ``<base>/iblai/analytics/{{ ds }}/``::

    org/active_users.jsonl         users/ (metric=active_users), trailing 30 complete days
    org/users.jsonl                users/details/: one line per active user (every page)
    org/costs_by_username.csv      financial/details/ grouped by username (exact decimal strings)
    org/costs_total.jsonl          financial/ total_costs with a per-day series
    org/topics.jsonl               topics/details/
    agents/<unique_id>/costs.jsonl     financial/ total_costs for one agent
    agents/<unique_id>/sessions.jsonl  sessions/ headline KPIs for one agent
    transcripts.jsonl              every conversation of yesterday, with its messages
    audit_logs.jsonl               yesterday's mentor configuration changes

"Trailing 30 complete days" is ``ds - 30`` .. ``ds - 1`` and "yesterday" is ``ds - 1``: the
run for ``ds`` only reads finished days, so re-running or backfilling a date gives the same files.
Files are written atomically: a failed task leaves the previous snapshot file untouched.

Settings (all optional, decided here so the DAG runs with no setup):

* ``base``: the Airflow Variable ``iblai_analytics_base`` if set, else the environment variable
  ``IBLAI_ANALYTICS_BASE``, else ``file:///tmp/iblai-lake`` (a local folder). Any
  ObjectStoragePath URI works, e.g. ``s3://my-bucket/lake`` with ``IBLAI_ANALYTICS_DEST_CONN``
  naming the storage connection (``aws_default`` style).
* agents: the Variable ``iblai_snapshot_agents`` (JSON list of agent unique_ids) or the
  environment variable ``IBLAI_SNAPSHOT_AGENTS`` (comma separated); none means org-wide only.
* the ``iblai_default`` connection.

Try it offline: ``python -m iblai_provider.testing.server --port 8787`` prints the
``AIRFLOW_CONN_IBLAI_DEFAULT`` to export; the fake's data spans 2026-04-01..2026-06-30 with a
busy 2026-06-15, so ``airflow dags test iblai_analytics_snapshot 2026-06-16``.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.decorators import task

from iblai_provider.operators.analytics import (
    IblaiAnalyticsOperator,
    IblaiAuditLogsOperator,
    IblaiTranscriptsToObjectStorageOperator,
)

DEFAULT_BASE = os.environ.get("IBLAI_ANALYTICS_BASE", "file:///tmp/iblai-lake")
DEST_CONN = os.environ.get("IBLAI_ANALYTICS_DEST_CONN") or None
BASE = "{{ var.value.get('iblai_analytics_base', '" + DEFAULT_BASE + "') | trim('/') }}"
OUT = BASE + "/iblai/analytics/{{ ds }}"
YESTERDAY = "{{ macros.ds_add(ds, -1) }}"
WINDOW = {"date_filter": "custom", "from_date": "{{ macros.ds_add(ds, -30) }}", "to_date": YESTERDAY}

with DAG(
    dag_id="iblai_analytics_snapshot",
    start_date=datetime(2026, 4, 1),
    schedule="@daily",
    catchup=False,
    max_active_runs=1,
    tags=["iblai", "example", "analytics"],
    doc_md=__doc__,
) as dag:
    common: dict[str, Any] = {"dest_conn_id": DEST_CONN}

    IblaiAnalyticsOperator(
        task_id="org_active_users",
        endpoint="users/",
        query_params={"metric": "active_users", "granularity": "day"},
        dest=OUT + "/org/active_users.jsonl",
        **WINDOW,
        **common,
    )
    IblaiAnalyticsOperator(
        task_id="org_users",
        endpoint="users/details/",
        query_params={"limit": 20},
        dest=OUT + "/org/users.jsonl",
        **WINDOW,
        **common,
    )
    IblaiAnalyticsOperator(
        task_id="org_costs_by_username",
        endpoint="financial/details/",
        query_params={"group_by": "username", "metrics": "total_cost,sessions", "limit": 20},
        dest=OUT + "/org/costs_by_username.csv",
        output_format="csv",
        **WINDOW,
        **common,
    )
    IblaiAnalyticsOperator(
        task_id="org_costs_total",
        endpoint="financial/",
        query_params={"metric": "total_costs", "granularity": "day"},
        dest=OUT + "/org/costs_total.jsonl",
        **WINDOW,
        **common,
    )
    IblaiAnalyticsOperator(
        task_id="org_topics", endpoint="topics/details/", dest=OUT + "/org/topics.jsonl", **WINDOW, **common
    )

    @task
    def agent_targets(ds: str | None = None, var: Any = None) -> list[dict[str, str]]:
        """One set of arguments per configured agent (empty: no per-agent tasks run)."""
        raw = var["value"].get("iblai_snapshot_agents", None)
        agents = json.loads(raw) if raw else [a.strip() for a in os.environ.get("IBLAI_SNAPSHOT_AGENTS", "").split(",")]
        base = (var["value"].get("iblai_analytics_base", None) or DEFAULT_BASE).rstrip("/")
        return [
            {"mentor_unique_id": agent, "dest": f"{base}/iblai/analytics/{ds}/agents/{agent}/{{name}}.jsonl"}
            for agent in agents
            if agent
        ]

    targets = agent_targets()

    @task
    def for_kpi(targets: list[dict[str, str]], name: str) -> list[dict[str, str]]:
        return [{**t, "dest": t["dest"].replace("{name}", name)} for t in targets]

    IblaiAnalyticsOperator.partial(
        task_id="agent_costs",
        endpoint="financial/",
        query_params={"metric": "total_costs", "granularity": "day"},
        **WINDOW,
        **common,
    ).expand_kwargs(for_kpi.override(task_id="agent_costs_targets")(targets, "costs"))
    IblaiAnalyticsOperator.partial(
        task_id="agent_sessions",
        endpoint="sessions/",
        query_params={"metric": "headline"},
        **WINDOW,
        **common,
    ).expand_kwargs(for_kpi.override(task_id="agent_sessions_targets")(targets, "sessions"))

    IblaiTranscriptsToObjectStorageOperator(
        task_id="transcripts_yesterday",
        from_date=YESTERDAY,
        to_date=YESTERDAY,
        page_size=20,
        dest=OUT + "/transcripts.jsonl",
        **common,
    )
    IblaiAuditLogsOperator(
        task_id="audit_logs_yesterday",
        from_date=YESTERDAY,
        to_date=YESTERDAY,
        dest=OUT + "/audit_logs.jsonl",
        **common,
    )
