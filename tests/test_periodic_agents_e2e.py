"""End to end: ``airflow dags test`` of the periodic-agents example DAG, twice, against one fake server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from iblai_provider.testing import FakeIblaiServer
from iblai_provider.utils.callbacks import verify_callback_signature

DAG_ID = "iblai_periodic_agents"
SECRET = "e2e-callback-secret-5b1d7c"
DIGEST = "Weekday learner digest"


class Receiver:
    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                received.append((self.rfile.read(int(self.headers["Content-Length"])), dict(self.headers.items())))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/callbacks/iblai"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.mark.e2e
def test_example_dag_twice(airflow_env) -> None:
    receiver = Receiver()
    with FakeIblaiServer(agent_run_seconds=1.0) as server:
        env = {
            "AIRFLOW_CONN_IBLAI_DEFAULT": server.connection_uri_json(),
            "AIRFLOW_VAR_IBLAI_CALLBACK_URL": receiver.url,
            "AIRFLOW_VAR_IBLAI_CALLBACK_SECRET": SECRET,
        }
        runs = [airflow_env.dags_test(DAG_ID, env=env) for _ in range(2)]
        store = server.state["agents"]
        agents = list(store.agents.values())
        posts = server.requests_to(r"/periodic-agents/$", "POST")
    receiver.httpd.shutdown()

    for run in runs:
        assert run.returncode == 0 and run.state == "success", run.output[-4000:]
        assert set(airflow_env.task_states(DAG_ID, run.run_id).values()) == {"success"}
    assert runs[0].run_id != runs[1].run_id

    # Exactly one digest agent, with the configured schedule; the one-off agents are gone.
    digests = [a for a in agents if a["title"] == DIGEST]
    assert len(digests) == 1
    assert digests[0]["task"]["crontab"] == {"minute": "0", "hour": "8", "day_of_month": "*",
                                             "month_of_year": "*", "day_of_week": "1-5"}
    assert not [a for a in agents if a["title"].startswith("One-off health check")]
    assert [p.json()["title"] for p in posts].count(DIGEST) == 1 and len(posts) == 3

    first, second = (airflow_env.xcom_values(DAG_ID, run.run_id) for run in runs)
    assert json.loads(first["upsert_weekday_digest/return_value"])["action"] == "created"
    assert json.loads(second["upsert_weekday_digest/return_value"])["action"] == "unchanged"
    waited = json.loads(second["wait_for_run/return_value"])
    assert waited["status"] == "success" and 0 < len(waited["content"]) <= 200

    # Each one-off run POSTed a signed callback that verifies, and fails once a byte changes.
    assert len(receiver.received) == 2
    for raw, headers in receiver.received:
        assert verify_callback_signature(raw, headers["X-Hub-Signature-256"], SECRET)
        assert not verify_callback_signature(raw[:-1] + b" ", headers["X-Hub-Signature-256"], SECRET)
        assert json.loads(raw)["status"] == "success"

    # The callback secret reached the server, but no log, XCom or rendered template shows it.
    assert any(p.json().get("callback_secret") == SECRET for p in posts)
    rendered = airflow_env.query("SELECT rendered_fields FROM rendered_task_instance_fields WHERE dag_id = ?",
                                 (DAG_ID,))
    assert rendered and any("callback_secret" in str(row[0]) for row in rendered)
    for text in [run.output for run in runs] + [airflow_env.log_text()] + [str(first), str(second)] + \
            [str(row[0]) for row in rendered]:
        assert SECRET not in text
