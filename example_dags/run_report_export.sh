#!/usr/bin/env bash
# The main job, end to end on this machine:  bash example_dags/run_report_export.sh [YYYY-MM-DD]
#
# Installs the provider (first run), prepares Airflow's SQLite metadata DB, starts the bundled
# fake ibl.ai server (unless IBLAI_API_KEY is set: then the real API is used, see README), runs
# the `iblai_report_export` DAG with `airflow dags test`, and prints where the CSV landed.
set -euo pipefail
source "$(dirname "$0")/../.ci/bootstrap"
cd "$repo"

export AIRFLOW_HOME="${AIRFLOW_HOME:-$repo/.airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$repo/example_dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW_VAR_IBLAI_EXPORT_BASE="${IBLAI_EXPORT_BASE:-file://$AIRFLOW_HOME/exports}"
[ -n "${IBLAI_MENTOR:-}" ] && export AIRFLOW_VAR_IBLAI_MENTOR="$IBLAI_MENTOR"
mkdir -p "$AIRFLOW_HOME"
logical_date="${1:-$(python -c 'import datetime as d; print(d.date.today() - d.timedelta(days=1))')}"

echo "preparing Airflow metadata DB in $AIRFLOW_HOME ..."
airflow db migrate > "$AIRFLOW_HOME/db-migrate.log" 2>&1 || { tail -30 "$AIRFLOW_HOME/db-migrate.log"; exit 1; }

if [ -n "${IBLAI_API_KEY:-}" ]; then
  : "${IBLAI_ORG:?set IBLAI_ORG (your platform key) together with IBLAI_API_KEY}"
  echo "using the real ibl.ai API at ${IBLAI_HOST:-https://api.iblai.app/dm} (org $IBLAI_ORG)"
  AIRFLOW_CONN_IBLAI_DEFAULT="$(python -c 'import json, os; print(json.dumps({"conn_type": "iblai",
    "host": os.environ.get("IBLAI_HOST", "https://api.iblai.app/dm"), "login": os.environ.get("IBLAI_USERNAME", ""),
    "password": os.environ["IBLAI_API_KEY"], "extra": {"org": os.environ["IBLAI_ORG"]}}))')"
else
  server_out="$AIRFLOW_HOME/fake-server.out"
  python -m iblai_provider.testing.server --port 0 --report-polls 3 > "$server_out" 2>&1 &
  server_pid=$!
  trap 'kill $server_pid 2>/dev/null || true' EXIT
  for _ in $(seq 100); do grep -q '^AIRFLOW_CONN_IBLAI_DEFAULT=' "$server_out" 2>/dev/null && break; sleep 0.1; done
  AIRFLOW_CONN_IBLAI_DEFAULT="$(sed -n "s/^AIRFLOW_CONN_IBLAI_DEFAULT='\(.*\)'$/\1/p" "$server_out")"
  [ -n "$AIRFLOW_CONN_IBLAI_DEFAULT" ] || { cat "$server_out"; echo "fake server did not start" >&2; exit 1; }
  echo "started the fake ibl.ai server: $(sed -n 's/.*listening on //p' "$server_out")"
  export IBLAI_REPORT_POKE_INTERVAL="${IBLAI_REPORT_POKE_INTERVAL:-2}"  # the fake's reports finish in seconds
fi
export AIRFLOW_CONN_IBLAI_DEFAULT

run_log="$AIRFLOW_HOME/iblai_report_export-$logical_date.log"
echo "running: airflow dags test iblai_report_export $logical_date  (log: $run_log)"
status=0
airflow dags test iblai_report_export "$logical_date" > "$run_log" 2>&1 || status=$?

python - "$AIRFLOW_HOME/airflow.db" "$status" <<'PY'
import json, sqlite3, sys
db, status = sys.argv[1], int(sys.argv[2])
with sqlite3.connect(db) as con:
    run = con.execute("SELECT run_id, state FROM dag_run WHERE dag_id='iblai_report_export' ORDER BY id DESC LIMIT 1").fetchone()
    rows = con.execute("SELECT task_id, value FROM xcom WHERE dag_id='iblai_report_export' AND run_id=? AND key='return_value'",
                       (run[0],)).fetchall() if run else []
    states = con.execute("SELECT task_id, state FROM task_instance WHERE dag_id='iblai_report_export' AND run_id=?",
                         (run[0],)).fetchall() if run else []
print("tasks:", ", ".join(f"{t}={s}" for t, s in states) or "none")
landed = None
for _task, value in rows:
    value = json.loads(value if isinstance(value, str) else bytes(value).decode())
    if isinstance(value, dict) and "uri" in value and "rows" in value:
        landed = value
if not run or run[1] != "success" or status or landed is None:
    print(f"FAILED: DAG run state {run[1] if run else 'missing'}; see the log above", file=sys.stderr)
    sys.exit(1)
print(f"CSV landed at {landed['uri']}")
print(f"rows: {landed['rows']}  bytes: {landed['bytes']}  sha256: {landed['sha256']}")
PY
