"""Benchmark: report CSV from the fake ibl.ai server into storage -- memory and throughput.

    /work/venv/bin/python bench/transfer.py                       # 1 GiB to file://, 256 MiB to s3:// (moto)
    /work/venv/bin/python bench/transfer.py --size 268435456 --s3-size 0   # smaller, no S3 leg

Contenders, each in a subprocess of its own so their memory does not mix:

* ``operator``: ``IblaiReportToObjectStorageOperator.execute`` (status poll, presigned download,
  atomic write, sha256, row count) into ``file://``;
* ``naive``: ``requests.get(url).content`` then one write -- the baseline the operator must beat;
* ``curl``: ``curl -s -o`` -- the throughput reference (its RSS from ``RUSAGE_CHILDREN``);
* ``operator-s3``: the operator into ``s3://`` on a moto server (moto is slow: a smaller size).

"RSS growth" is the peak resident set during the copy minus the resident set after imports: the
worker resets the kernel's high-water mark (``/proc/self/clear_refs``) once everything is imported,
then reads ``VmHWM`` when done. The fake server and moto run in separate processes.

The file:// contenders run ``--repeat`` times, interleaved (curl, operator, naive, curl, ...);
the table shows each one's best throughput and its worst (highest) RSS growth, so a noisy
neighbour on a shared machine skews neither side more than the other.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
MARK = "BENCH-RESULT "
S3_CONN = "bench_s3"


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def _reset_peak() -> int:
    """Reset VmHWM to the current RSS (Linux >= 4.0); return the current RSS in KiB."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:  # no reset possible: growth is then measured against the peak so far
        pass
    return _status_kb("VmRSS")


def _cpu(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _emit(**fields: Any) -> None:
    print(MARK + json.dumps(fields), flush=True)


# -- workers (run in their own subprocess) ----------------------------------------------------


def worker_operator(dest: str, dest_conn_id: str | None) -> None:
    import logging

    from iblai_provider.transfers.report_to_object_storage import IblaiReportToObjectStorageOperator

    logging.getLogger("airflow.task").setLevel(logging.WARNING)
    op = IblaiReportToObjectStorageOperator(
        task_id="bench", report_name=os.environ["BENCH_REPORT"], dest=dest, dest_conn_id=dest_conn_id, overwrite=True
    )
    op.hook.settings  # connection lookup and imports before the baseline  # noqa: B018
    import requests  # noqa: F401
    import s3fs  # noqa: F401

    baseline = _reset_peak()
    cpu, started = _cpu(), time.perf_counter()
    result = op.execute({})
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    _emit(bytes=result["bytes"], seconds=seconds, cpu=cpu, baseline_kb=baseline, peak_kb=_status_kb("VmHWM"),
          sha256=result["sha256"])


def worker_naive(url: str, path: str) -> None:
    import requests

    baseline = _reset_peak()
    cpu, started = _cpu(), time.perf_counter()
    data = requests.get(url, timeout=60).content
    Path(path).write_bytes(data)
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    _emit(bytes=len(data), seconds=seconds, cpu=cpu, baseline_kb=baseline, peak_kb=_status_kb("VmHWM"))


def worker_curl(url: str, path: str) -> None:
    baseline = _reset_peak()
    started = time.perf_counter()
    subprocess.run(["curl", "-sS", "--fail", "-o", path, url], check=True)
    seconds = time.perf_counter() - started
    curl_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux: curl's own peak
    _emit(bytes=os.path.getsize(path), seconds=seconds, cpu=_cpu(resource.RUSAGE_CHILDREN), baseline_kb=0,
          peak_kb=curl_peak, python_kb=baseline)


# -- orchestration -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_port(port: int, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port}")


def _run_worker(name: str, *args: str, env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run([PY, __file__, "--worker", name, *args], env=env, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
    if proc.returncode or not lines:
        raise RuntimeError(f"{name} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    result = json.loads(lines[-1][len(MARK):])
    result["growth_mib"] = max(result["peak_kb"] - result["baseline_kb"], 0) / 1024
    result["mb_s"] = result["bytes"] / result["seconds"] / 1e6
    return result


def _create_report(conn: dict[str, Any], name: str, size: int) -> str:
    import requests

    api = f"{conn['host']}/api/reports/platforms/{conn['extra']['org']}"
    root = conn["host"].rsplit("/dm", 1)[0]
    requests.post(f"{root}/_fake/config", json={"report_bytes": size}, timeout=10).raise_for_status()
    headers = {"Authorization": f"Api-Token {conn['password']}"}
    status = requests.post(f"{api}/new", json={"report_name": name}, headers=headers, timeout=10).json()["data"]
    assert status["state"] == "completed", status
    return status["url"]


def args_bytes(runs: dict[str, list[dict[str, Any]]], run: dict[str, Any]) -> int:
    """The size every contender must have copied: the first run's (all must agree)."""
    first = next((found[0] for found in runs.values() if found), run)
    return first["bytes"]


def _best(found: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest run, with the highest RSS growth seen in any run."""
    best = dict(max(found, key=lambda r: r["mb_s"]))
    worst = max(found, key=lambda r: r["growth_mib"])
    best.update(growth_mib=worst["growth_mib"], peak_kb=worst["peak_kb"], runs=len(found))
    return best


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(8 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _row(name: str, r: dict[str, Any], curl: dict[str, Any] | None) -> str:
    vs = f"{r['mb_s'] / curl['mb_s']:.2f}x" if curl else "-"
    peak = r["peak_kb"] / 1024
    cpu = r["cpu"] / (r["bytes"] / 2**30)
    return (f"| {name} | {r['bytes'] / 2**20:,.0f} MiB | {r['seconds']:.2f} s | {r['mb_s']:,.0f} MB/s | {vs} | "
            f"{cpu:.2f} s | {r['growth_mib']:,.1f} MiB | {peak:,.1f} MiB |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1 << 30, help="report bytes for the file:// leg")
    parser.add_argument("--s3-size", type=int, default=256 << 20, help="report bytes for the s3:// leg (0: skip)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs of each file:// contender")
    args = parser.parse_args()

    env = {**os.environ, "PYTHONPATH": str(REPO), "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AWS_EC2_METADATA_DISABLED": "true"}
    env.pop("IBLAI_API_KEY", None)
    port = _free_port()
    server = subprocess.Popen(
        [PY, "-m", "iblai_provider.testing.server", "--port", str(port), "--report-bytes", str(args.size), "--report-polls", "0"],
        env=env, stdout=subprocess.PIPE, text=True,
    )
    moto = None
    try:
        conn_line = next(ln for ln in server.stdout if ln.startswith("AIRFLOW_CONN_IBLAI_DEFAULT="))  # type: ignore[union-attr]
        conn_json = conn_line.split("=", 1)[1].strip().strip("'")
        conn = json.loads(conn_json)
        env["AIRFLOW_CONN_IBLAI_DEFAULT"] = conn_json
        url = _create_report(conn, "user-report", args.size)
        env["BENCH_REPORT"] = "user-report"
        runs: dict[str, list[dict[str, Any]]] = {"curl": [], "operator": [], "naive": []}
        with tempfile.TemporaryDirectory(prefix="iblai-bench-") as tmp:
            for _ in range(args.repeat):
                for name in runs:
                    path = f"{tmp}/{name}.csv"
                    if name == "operator":
                        run = _run_worker(name, f"file://{path}", "", env=env)
                        assert run["sha256"] == _sha256(path), "operator output differs from what it hashed"
                    else:
                        run = _run_worker(name, url, path, env=env)
                    assert os.path.getsize(path) == run["bytes"] == args_bytes(runs, run)
                    os.unlink(path)
                    runs[name].append(run)
            results = {name: _best(found) for name, found in runs.items()}
            if args.s3_size:
                import boto3

                moto_port = _free_port()
                moto = subprocess.Popen([PY, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
                                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                _wait_port(moto_port)
                endpoint = f"http://127.0.0.1:{moto_port}"
                keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
                boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **keys).create_bucket(Bucket="bench")
                env[f"AIRFLOW_CONN_{S3_CONN.upper()}"] = json.dumps({
                    "conn_type": "aws", "login": "testing", "password": "testing",
                    "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
                })
                _create_report(conn, "my-chat-history", args.s3_size)
                env["BENCH_REPORT"] = "my-chat-history"
                results["operator-s3"] = _run_worker("operator", "s3://bench/iblai/bench.csv", S3_CONN, env=env)
    finally:
        server.terminate()
        server.wait(10)
        if moto is not None:
            moto.terminate()
            moto.wait(10)

    curl = results["curl"]
    print(f"\ntransfer benchmark, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"best of {args.repeat} interleaved runs (RSS: worst run)\n")
    print("| contender | size | time | throughput | vs curl | CPU per GiB | peak RSS growth | peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    print(_row("operator → file://", results["operator"], curl))
    print(_row("naive `requests.get(url).content` → file", results["naive"], curl))
    print(_row("`curl -o` (RSS: curl process)", curl, curl))
    if "operator-s3" in results:
        print(_row("operator → s3:// (moto)", results["operator-s3"], None))
    ok_mem = results["operator"]["growth_mib"] <= 64
    ok_speed = results["operator"]["mb_s"] >= 0.8 * curl["mb_s"]
    print(f"\ngoals: growth <= 64 MiB: {'met' if ok_mem else 'MISSED'}; throughput >= 0.8x curl: {'met' if ok_speed else 'MISSED'}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        name, *rest = sys.argv[2:]
        if name == "operator":
            worker_operator(rest[0], rest[1] or None)
        elif name == "naive":
            worker_naive(*rest)
        else:
            worker_curl(*rest)
    else:
        main()
