"""Import cost of the provider on top of ``import airflow.sdk`` (goal: <= 50 ms).

Each run is a fresh interpreter that imports ``airflow.sdk`` first (the baseline every DAG file
pays), then times importing every ``iblai_provider`` module. Prints the median over the runs.

    python bench/import_time.py [--runs 9]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = r"""
import importlib, json, pathlib, time
t0 = time.perf_counter()
import airflow.sdk  # the baseline a DAG file already pays
from airflow.sdk import BaseOperator, BaseSensorOperator, BaseHook  # noqa: F401
t1 = time.perf_counter()
import iblai_provider
# Module names from the file tree: pkgutil.walk_packages would import every package to list it.
root = pathlib.Path(iblai_provider.__file__).parent
names = sorted(
    ".".join(("iblai_provider", *p.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
    for p in root.rglob("*.py")
)
runtime = [n for n in names if not n.startswith("iblai_provider.testing")]
# What a DAG file pays: every operator, sensor and transfer (their hooks and helpers come along).
facing = [n for n in runtime if n.split(".")[1:2] in (["operators"], ["sensors"], ["transfers"])]
for name in facing:
    importlib.import_module(name)
t_dag = time.perf_counter()
for name in runtime:
    importlib.import_module(name)
t2 = time.perf_counter()
for name in names:
    importlib.import_module(name)
t3 = time.perf_counter()
print(json.dumps({"sdk": t1 - t0, "dag": t_dag - t1, "runtime": t2 - t1, "all": t3 - t1, "modules": len(names)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    subprocess.run([sys.executable, "-c", CHILD], check=True, capture_output=True)  # warm .pyc caches
    results = []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, "-c", CHILD], check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    sdk = statistics.median(r["sdk"] for r in results) * 1000
    dag = statistics.median(r["dag"] for r in results) * 1000
    runtime = statistics.median(r["runtime"] for r in results) * 1000
    everything = statistics.median(r["all"] for r in results) * 1000
    print(f"runs: {args.runs}, modules: {results[0]['modules']}")
    print(f"import airflow.sdk (baseline):          {sdk:8.1f} ms")
    print(f"+ every operator, sensor, transfer:     {dag:8.1f} ms  ({dag / sdk:.3f}x of baseline)")
    print(f"+ every runtime module (and triggers):  {runtime:8.1f} ms  ({runtime / sdk:.3f}x of baseline)")
    print(f"+ iblai_provider incl. testing:         {everything:8.1f} ms  ({everything / sdk:.3f}x of baseline)")
    print(f"goal <= 50 ms for every runtime module: {'met' if runtime <= 50 else 'NOT met'}")


if __name__ == "__main__":
    main()
