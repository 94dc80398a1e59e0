"""``airflow dags test iblai_report_export`` against the fake server: real Airflow, real HTTP, SQLite.

Proves the sensor really deferred (Airflow's audit ``log`` table records a ``deferred`` event for
the task and the ``trigger`` table holds the IblaiReportTrigger it deferred to), and that the
server saw exactly the expected calls.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from iblai_provider.testing.server import FakeIblaiServer
from tests.report_helpers import CREATE_PATH, MENTOR, OTHER_MENTOR, REPORT, poll_requests

pytestmark = pytest.mark.e2e
DAG_ID = "iblai_report_export"


@pytest.fixture
def server() -> Iterator[FakeIblaiServer]:
    with FakeIblaiServer(report_polls=4) as srv:
        yield srv


@pytest.fixture
def export_base(tmp_path: Path) -> str:
    return f"file://{tmp_path}/exports"


def env_for(server: FakeIblaiServer, export_base: str, **more: str) -> dict[str, str]:
    return {
        "AIRFLOW_CONN_IBLAI_DEFAULT": server.connection_uri_json(),
        "IBLAI_REPORT_POKE_INTERVAL": "1",
        "AIRFLOW_VAR_IBLAI_EXPORT_BASE": export_base,  # the transfer task writes under tmp_path
        **more,
    }


def api_requests(server: FakeIblaiServer) -> list[Any]:
    """Requests to the API (the transfer task may also fetch the presigned link, without auth)."""
    return server.requests_to(r"^/dm/api/")


def after_first_poll(server: FakeIblaiServer, action: Callable[[], Any]) -> threading.Thread:
    """Run ``action`` once the sensor's first poke reached the server, i.e. while the task defers."""

    def watch() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if poll_requests(server):
                action()
                return
            time.sleep(0.005)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def sensor_polls(airflow_env: Any, server: FakeIblaiServer, run_id: str) -> list[Any]:
    """Status polls made before the task after the sensor started (server times are monotonic)."""
    rows = airflow_env.query(
        "SELECT start_date FROM task_instance WHERE dag_id = ? AND run_id = ? AND task_id = 'export_csv'",
        (DAG_ID, run_id),
    )
    polls = poll_requests(server)
    if not rows or not rows[0][0]:
        return polls
    started = datetime.fromisoformat(rows[0][0]).replace(tzinfo=timezone.utc).timestamp()
    offset = time.time() - time.monotonic()
    return [p for p in polls if p.time + offset < started]


def deferral_evidence(airflow_env: Any, run_id: str) -> tuple[list[tuple], list[tuple]]:
    events = airflow_env.query(
        "SELECT task_id, event FROM log WHERE dag_id = ? AND run_id = ? AND event = 'deferred'", (DAG_ID, run_id)
    )
    triggers = airflow_env.query(
        "SELECT t.classpath, t.kwargs FROM trigger t JOIN task_instance ti ON ti.trigger_id = t.id "
        "WHERE ti.dag_id = ? AND ti.run_id = ? AND ti.task_id = 'wait_for_report'",
        (DAG_ID, run_id),
    )
    return events, triggers


def test_export_defers_and_survives_502_and_429(airflow_env: Any, server: FakeIblaiServer, export_base: str) -> None:
    def add_faults() -> None:  # during the trigger's polling
        server.faults.add(r"ai-mentor-chat-history\Z", "status", status=502, times=3)
        server.faults.add(r"ai-mentor-chat-history\Z", "retry_after", retry_after="2", times=1)

    watcher = after_first_poll(server, add_faults)
    result = airflow_env.dags_test(
        DAG_ID, env=env_for(server, export_base, AIRFLOW_VAR_IBLAI_MENTOR=OTHER_MENTOR), logical_date="2026-06-02"
    )
    watcher.join(1)
    assert result.state == "success", result.output[-4000:]
    states = airflow_env.task_states(DAG_ID, result.run_id)
    assert (states["create_report"], states["wait_for_report"]) == ("success", "success")

    # The sensor went through the deferred state, into our trigger.
    events, triggers = deferral_evidence(airflow_env, result.run_id)
    assert events == [("wait_for_report", "deferred")]
    assert len(triggers) == 1 and triggers[0][0] == "iblai_provider.triggers.reports.IblaiReportTrigger"
    trigger_kwargs = json.loads(triggers[0][1])

    # One create, with the data interval as the report's range and the mentor from the Variable.
    (create,) = server.requests_to(CREATE_PATH, "POST")
    start, end = airflow_env.query("SELECT data_interval_start, data_interval_end FROM dag_run WHERE run_id = ?",
                                   (result.run_id,))[0]
    assert create.json() == {"report_name": REPORT, "mentor": OTHER_MENTOR, "start_date": start[:10],
                             "end_date": end[:10]}
    # Polls: 1 poke + 3 by the trigger until completed, plus 3 x 502 and 1 x 429 retried in between
    # (the export task that follows may look at the status again: only polls before it started count).
    polls = sensor_polls(airflow_env, server, result.run_id)
    assert len(polls) == 4 + 3 + 1
    assert all(p.query == {"mentor_unique_id": [OTHER_MENTOR]} for p in polls)
    assert len(api_requests(server)) >= 1 + len(polls)
    assert all(r.auth == "valid" for r in api_requests(server))
    # polls[1:4] got 502, polls[4] got the 429: the retry after it waited the 2 s Retry-After, more than
    # both the poll interval (1 s) and the hook's backoff cap (1 s) could explain.
    assert polls[5].time - polls[4].time >= 2.0

    xcom = airflow_env.xcom_values(DAG_ID, result.run_id)
    created, finished = json.loads(xcom["create_report/return_value"]), json.loads(xcom["wait_for_report/return_value"])
    assert created["report_id"] == finished["report_id"] == trigger_kwargs["report_id"]
    assert finished["state"] == "completed" and set(finished) == {"report_id", "report_name", "state",
                                                                  "started_on", "expires"}
    everything = result.output + airflow_env.log_text() + json.dumps(xcom)
    assert server.api_key not in everything and "X-Amz-Signature" not in everything


def test_report_ending_in_error_fails_naming_the_state(
    airflow_env: Any, server: FakeIblaiServer, export_base: str
) -> None:
    server.set_report_outcome(REPORT, "error")
    result = airflow_env.dags_test(DAG_ID, env=env_for(server, export_base), logical_date="2026-06-03")
    assert result.state == "failed"
    states = airflow_env.task_states(DAG_ID, result.run_id)
    assert (states["create_report"], states["wait_for_report"]) == ("success", "failed")
    assert "ended in state 'error'" in result.output
    events, _ = deferral_evidence(airflow_env, result.run_id)
    assert events == [("wait_for_report", "deferred")]  # it failed from the trigger's event
    assert all(p.query == {"mentor_unique_id": [MENTOR]} for p in poll_requests(server))
    assert server.api_key not in result.output


def test_key_rejected_while_deferred_fails_naming_401(
    airflow_env: Any, server: FakeIblaiServer, export_base: str
) -> None:
    """The key is revoked after the first poke: the trigger's next poll gets a real 401."""
    old_key = server.api_key
    watcher = after_first_poll(server, lambda: setattr(server, "api_key", "0" * 64))
    result = airflow_env.dags_test(DAG_ID, env=env_for(server, export_base), logical_date="2026-06-04")
    watcher.join(1)
    assert result.state == "failed"
    assert airflow_env.task_states(DAG_ID, result.run_id)["wait_for_report"] == "failed"
    assert "ibl.ai API error 401 on GET" in result.output and "Invalid token." in result.output
    assert [r.auth for r in poll_requests(server)] == ["valid", "invalid"]  # a 401 is not retried
    everything = result.output + airflow_env.log_text()
    assert old_key not in everything
