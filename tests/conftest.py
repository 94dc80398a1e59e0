from __future__ import annotations

import os

# Tests must never read a developer's real Airflow setup or real ibl.ai key.
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.pop("IBLAI_API_KEY", None)

pytest_plugins = ["iblai_provider.testing.pytest_plugin", "tests.airflow_cli"]
