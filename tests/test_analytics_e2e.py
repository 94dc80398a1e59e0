"""End to end: ``airflow dags test iblai_analytics_snapshot`` (real Airflow on SQLite) against the fake
server on loopback, writing real files; record counts checked against the seed data.

The logical date 2026-06-16 makes "yesterday" the fake's busy 2026-06-15 (transcripts over three
pages of 20) and the trailing window 2026-05-17..2026-06-15 (users and costs over several pages).
"""

from __future__ import annotations

import csv
import json
from datetime import date
from decimal import Decimal

import pytest

from iblai_provider.testing import audit_data
from iblai_provider.testing.analytics_data import SPIKE_CONVERSATIONS, SPIKE_DAY, dataset
from iblai_provider.testing.analytics_queries import Scope, cost_records, user_table
from iblai_provider.testing.server import FakeIblaiServer

DAG_ID = "iblai_analytics_snapshot"
DS = "2026-06-16"
WINDOW = Scope(start=date(2026, 5, 17), end=date(2026, 6, 15))


def _lines(path):
    return [json.loads(line, parse_float=Decimal) for line in path.read_text().splitlines()]


@pytest.mark.e2e
def test_snapshot_dag_writes_every_file(airflow_env, tmp_path):
    agents = [m.unique_id for m in dataset().mentors[:2]]
    with FakeIblaiServer() as server:
        result = airflow_env.dags_test(
            DAG_ID,
            logical_date=DS,
            env={
                "AIRFLOW_CONN_IBLAI_DEFAULT": server.connection_uri_json(),
                # The Variable wins over the environment default: only "lake" may receive files.
                "AIRFLOW_VAR_IBLAI_ANALYTICS_BASE": f"file://{tmp_path}/lake/",
                "IBLAI_ANALYTICS_BASE": f"file://{tmp_path}/not-here",
                "IBLAI_SNAPSHOT_AGENTS": ",".join(agents),
            },
        )
        details = server.requests_to(r"/messages/details/$")
        listing = server.requests_to(r"/analytics/messages/$")
        api_key = server.api_key
    assert result.returncode == 0 and result.state == "success", result.output[-4000:]
    states = airflow_env.task_states(DAG_ID, result.run_id)
    assert set(states.values()) == {"success"}, states

    out = tmp_path / "lake" / "iblai" / "analytics" / DS
    users = _lines(out / "org" / "users.jsonl")
    assert len(users) == len(user_table(WINDOW)) > 3 * 20  # several pages of 20
    with (out / "org" / "costs_by_username.csv").open() as handle:
        costs = list(csv.DictReader(handle))
    window_costs = cost_records(WINDOW)
    assert len(costs) == len({r.conversation.user.username for r in window_costs}) > 3 * 20
    assert sum(Decimal(r["total_cost"]) for r in costs) == sum((r.cost for r in window_costs), Decimal(0))
    (total,) = _lines(out / "org" / "costs_total.jsonl")
    assert Decimal(total["value"]) == sum((r.cost for r in window_costs), Decimal(0))
    assert len(total["overtime"]) == 30
    assert (out / "org" / "active_users.jsonl").exists() and (out / "org" / "topics.jsonl").exists()

    transcripts = _lines(out / "transcripts.jsonl")
    assert len(transcripts) == SPIKE_CONVERSATIONS
    assert {t["session"] for t in transcripts} == {c.session for c in dataset().conversations if c.day == SPIKE_DAY}
    assert all(t["messages"] for t in transcripts)
    assert len(listing) == 3 and len(details) == SPIKE_CONVERSATIONS

    audit = _lines(out / "audit_logs.jsonl")
    assert [e["id"] for e in audit] == [e.id for e in audit_data.matching(from_date=SPIKE_DAY, to_date=SPIKE_DAY)]

    for agent in agents:
        (agent_costs,) = _lines(out / "agents" / agent / "costs.jsonl")
        expected = sum((r.cost for r in cost_records(Scope(agent, (), WINDOW.start, WINDOW.end))), Decimal(0))
        assert Decimal(agent_costs["value"]) == expected
        assert (out / "agents" / agent / "sessions.jsonl").exists()

    assert not (tmp_path / "not-here").exists()
    assert not list(tmp_path.rglob("*.partial"))  # no temporary objects left behind
    assert api_key not in result.output and api_key not in airflow_env.log_text()
    xcoms = airflow_env.xcom_values(DAG_ID, result.run_id)
    assert json.loads(xcoms["transcripts_yesterday/return_value"])["records"] == SPIKE_CONVERSATIONS
