"""Real Airflow for end-to-end tests: a throw-away AIRFLOW_HOME on SQLite and ``airflow dags test``."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


@dataclass
class DagTestResult:
    returncode: int
    output: str  # stdout + stderr of `airflow dags test`: the task logs land here
    state: str | None  # final DAG run state from the metadata DB
    run_id: str | None


class AirflowEnv:
    """One AIRFLOW_HOME with a migrated SQLite DB, the repo's ``example_dags`` as DAG folder."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.db = home / "airflow.db"
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.db}",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [AIRFLOW, *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.home,
        )

    def dags_test(
        self,
        dag_id: str,
        *,
        env: dict[str, str] | None = None,
        logical_date: str | None = None,
        conf: dict[str, Any] | None = None,
        timeout: float = 600,
    ) -> DagTestResult:
        args = ["dags", "test", dag_id]
        if logical_date:
            args.append(logical_date)
        if conf is not None:
            args += ["--conf", json.dumps(conf)]
        proc = self.run(*args, env=env, timeout=timeout)
        run = self.query(
            "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
        )
        run_id, state = run[0] if run else (None, None)
        return DagTestResult(proc.returncode, proc.stdout + proc.stderr, state, run_id)

    def query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with sqlite3.connect(self.db) as db:
            return db.execute(sql, args).fetchall()

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        rows = self.query("SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?", (dag_id, run_id))
        return dict(rows)

    def xcom_values(self, dag_id: str, run_id: str) -> dict[str, str]:
        """Raw XCom values (as stored, JSON text) by ``task_id/key``: for content and secrets checks."""
        rows = self.query("SELECT task_id, key, value FROM xcom WHERE dag_id = ? AND run_id = ?", (dag_id, run_id))
        return {f"{t}/{k}": v if isinstance(v, str) else bytes(v).decode("utf-8", "replace") for t, k, v in rows}

    def log_text(self) -> str:
        """Everything under AIRFLOW_HOME/logs (task log files, when Airflow writes them)."""
        parts = [p.read_text(errors="replace") for p in sorted((self.home / "logs").rglob("*")) if p.is_file()]
        return "\n".join(parts)


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> AirflowEnv:
    """A migrated Airflow metadata DB (SQLite), shared by the session's e2e tests."""
    env = AirflowEnv(tmp_path_factory.mktemp("airflow_home"))
    proc = env.run("db", "migrate")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return env
