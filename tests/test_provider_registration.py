"""Airflow discovers the provider: entry point, metadata schema, `airflow providers` commands."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import jsonschema

import iblai_provider
from iblai_provider.get_provider_info import get_provider_info

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def test_entry_point_returns_valid_provider_info() -> None:
    (ep,) = [e for e in entry_points(group="apache_airflow_provider") if e.value.startswith("iblai_provider")]
    info = ep.load()()
    schema_path = Path(importlib.import_module("airflow").__file__).with_name("provider_info.schema.json")
    jsonschema.validate(info, json.loads(schema_path.read_text()))
    assert info["versions"] == [iblai_provider.__version__]
    (conn,) = info["connection-types"]
    assert conn["connection-type"] == "iblai"
    assert conn["hook-class-name"] == "iblai_provider.hooks.iblai.IblaiHook"
    assert "org" in conn["conn-fields"]


def test_listed_modules_import() -> None:
    info = get_provider_info()
    modules = [m for kind in ("hooks", "operators", "sensors", "triggers") for entry in info[kind] for m in entry["python-modules"]]
    modules += [t["python-module"] for t in info.get("transfers", [])]
    assert "iblai_provider.hooks.iblai" in modules
    for name in modules:
        importlib.import_module(name)


def test_airflow_providers_commands_show_it(tmp_path) -> None:
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    listed = subprocess.run([AIRFLOW, "providers", "list", "-o", "json"], env=env, capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stderr[-2000:]
    packages = {p["package_name"]: p for p in json.loads(listed.stdout)}
    assert packages["airflow-provider-iblai"]["version"] == iblai_provider.__version__

    hooks = subprocess.run([AIRFLOW, "providers", "hooks", "-o", "json"], env=env, capture_output=True, text=True, timeout=300)
    assert hooks.returncode == 0, hooks.stderr[-2000:]
    by_type = {h["connection_type"]: h for h in json.loads(hooks.stdout)}
    assert by_type["iblai"]["class"] == "iblai_provider.hooks.iblai.IblaiHook"
