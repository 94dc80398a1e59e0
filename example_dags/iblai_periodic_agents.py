"""Periodic agents as code.

* Upsert the recurring digest agents listed in ``DIGEST_AGENTS`` (one task each): the first run
  creates them, later runs change only what differs, so the platform always matches this file.
* Create a one-off agent that starts now, wait for its run (deferrable sensor), and delete it
  afterwards as a teardown, so it is removed even when the wait fails.

Settings (Airflow Variables, all optional):

* ``iblai_mentor_id``: mentor unique_id for the agents (default: a mentor of the fake server).
* ``iblai_callback_url`` / ``iblai_callback_secret``: where the one-off run POSTs its signed result
  (see :mod:`iblai_provider.utils.callbacks` to verify it). The secret is templated from a
  Variable whose name contains "secret", so Airflow masks it; never write it into the DAG file.

Try it offline: ``python -m iblai_provider.testing.server --port 8787`` prints the
``AIRFLOW_CONN_IBLAI_DEFAULT`` to export, then ``airflow dags test iblai_periodic_agents``.
"""

from __future__ import annotations

from datetime import datetime

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

from iblai_provider.operators.periodic_agents import (
    IblaiCreatePeriodicAgentOperator,
    IblaiDeletePeriodicAgentOperator,
)
from iblai_provider.sensors.periodic_agents import IblaiPeriodicAgentRunSensor

MENTOR = "{{ var.value.get('iblai_mentor_id', 'd17dc729-60fd-4363-81a0-f67d9318b03e') }}"
DIGEST_AGENTS = [
    {
        "key": "weekday_digest",
        "title": "Weekday learner digest",
        "schedule": "0 8 * * 1-5",  # 08:00 UTC, Monday to Friday
        "prompt": "Summarise yesterday's learner activity: new enrolments, completions, learners who stalled.",
    },
]
ONE_OFF_TITLE = "One-off health check {{ run_id }}"

with DAG(
    dag_id="iblai_periodic_agents",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["iblai", "example"],
    doc_md=__doc__,
) as dag:
    for spec in DIGEST_AGENTS:
        IblaiCreatePeriodicAgentOperator(
            task_id=f"upsert_{spec['key']}",
            mentor=MENTOR,
            title=spec["title"],
            schedule=spec["schedule"],
            prompt=spec["prompt"],
            if_exists="update",
        )

    create_one_off = IblaiCreatePeriodicAgentOperator(
        task_id="create_one_off",
        mentor=MENTOR,
        title=ONE_OFF_TITLE,
        prompt="Check that every course published this week has a syllabus.",
        one_off=True,
        start_time="now",
        callback_url="{{ var.value.get('iblai_callback_url', '') }}",
        callback_secret="{{ var.value.get('iblai_callback_secret', '') }}",
    )
    wait_for_run = IblaiPeriodicAgentRunSensor(
        task_id="wait_for_run",
        agent_id="{{ ti.xcom_pull(task_ids='create_one_off')['id'] }}",
        # The run may start before this sensor does: count runs since the DAG run began.
        after="{{ dag_run.start_date }}",
        content_chars=200,
        deferrable=True,
        poke_interval=2,
        timeout=600,
    )
    delete_one_off = IblaiDeletePeriodicAgentOperator(
        task_id="delete_one_off",
        mentor=MENTOR,
        title=ONE_OFF_TITLE,
        missing_ok=True,
    ).as_teardown(setups=create_one_off)

    create_one_off >> wait_for_run >> delete_one_off
