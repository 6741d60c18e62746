"""Sync propagation for `make bench`: a real Celery worker pushing to the Azure DevOps emulator.

- ``propagation_ms``: a secret written through the API (gunicorn) → the emulator's variable group
  holds the new value; p50/p95 over ``BENCH_SYNC_WRITES`` (default 20) writes, polled every 10 ms.
- ``sync_500_keys``: a sync created over a folder holding 500 secrets → all 500 at the
  destination (wall time), and the run's own duration as recorded in its history.
The emulator answers instantly: these figures are Strongroom's share (queueing, claim, lock,
decryption, planning, the SDK), not Azure DevOps' latency.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _api(port: int, token: str, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read()
        return json.loads(raw) if raw else None


def _wait(predicate: Any, timeout: float = 60, interval: float = 0.01) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if predicate():
            return time.perf_counter() - started
        time.sleep(interval)
    raise RuntimeError("sync did not reach the emulator in time")


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(port: int, token: str, env: dict[str, str]) -> dict[str, Any]:
    """Start a worker and the emulator; measure; stop them. *env* is the server's environment."""
    sys.path.insert(0, str(ROOT))
    from tests.emulators.azure_devops import AzureDevOpsEmulator

    writes = int(os.environ.get("BENCH_SYNC_WRITES", "20"))
    worker_env = {
        **env,
        "AZURE_DEVOPS_CACHE_DIR": tempfile.mkdtemp(prefix="bench-ado-cache-"),
        "STRONGROOM_SYNC_ALLOWED_HOSTS": "127.0.0.1",
        "STRONGROOM_LOG_LEVEL": "WARNING",
    }
    with AzureDevOpsEmulator(pats=("bench-pat",)) as ado:
        log = open(Path(env["STRONGROOM_DATA_DIR"]) / "sync-worker.log", "w")  # noqa: SIM115
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "-l", "warning",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=worker_env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            time.sleep(3)  # worker start-up
            connection = _api(
                port,
                token,
                "POST",
                "/api/v1/connections/",
                {
                    "kind": "azure_devops",
                    "method": "pat",
                    "name": "bench-ado",
                    "credentials": {"token": "bench-pat"},
                    "config": {"organization_url": ado.org_url},
                },
            )
            secrets = "/api/v1/projects/bench/secrets"
            _api(
                port,
                token,
                "POST",
                f"{secrets}/",
                {"environment": "dev", "path": "/", "key": "PROPAGATED", "value": "v0"},
            )
            _api(
                port,
                token,
                "POST",
                "/api/v1/projects/bench/syncs/",
                {
                    "name": "propagation",
                    "environment": "dev",
                    "connection": connection["id"],
                    "destination": {"project": "proj1", "group_name": "bench-propagation"},
                    "initialBehavior": "overwrite_destination",
                    "confirmOverwrite": True,
                },
            )
            _wait(lambda: (ado.values("bench-propagation") or {}).get("PROPAGATED") == "v0")
            latencies = []
            for n in range(1, writes + 1):
                started = time.perf_counter()
                _api(port, token, "PATCH", f"{secrets}/PROPAGATED/?environment=dev&path=/", {"value": f"v{n}"})
                _wait(lambda n=n: (ado.values("bench-propagation") or {}).get("PROPAGATED") == f"v{n}")
                latencies.append((time.perf_counter() - started) * 1000)
                time.sleep(0.05)

            items = [{"key": f"BULK_{i:03d}", "value": f"value-{i}-" + "x" * 40} for i in range(500)]
            _api(port, token, "POST", f"{secrets}/bulk/", {"environment": "staging", "path": "/", "secrets": items})
            started = time.perf_counter()
            sync = _api(
                port,
                token,
                "POST",
                "/api/v1/projects/bench/syncs/",
                {
                    "name": "bulk-500",
                    "environment": "staging",
                    "connection": connection["id"],
                    "destination": {"project": "proj1", "group_name": "bench-500"},
                    "initialBehavior": "overwrite_destination",
                    "confirmOverwrite": True,
                },
            )
            _wait(lambda: len(ado.values("bench-500") or {}) == 500, timeout=300)
            wall = time.perf_counter() - started
            detail = f"/api/v1/projects/bench/syncs/{sync['id']}/"
            _wait(lambda: _api(port, token, "GET", detail)["status"] == "succeeded", interval=0.1)
            runs = _api(port, token, "GET", f"/api/v1/projects/bench/syncs/{sync['id']}/runs/")["runs"]
            succeeded = [run for run in runs if run["status"] == "succeeded"]
        finally:
            worker.terminate()
            worker.wait(timeout=20)
            log.close()
    from datetime import datetime

    run_seconds = None
    if succeeded:
        run = succeeded[-1]
        run_seconds = round(
            (datetime.fromisoformat(run["finishedAt"]) - datetime.fromisoformat(run["startedAt"])).total_seconds(), 3
        )
    return {
        "propagation_ms": {
            "writes": writes,
            "p50": round(statistics.median(latencies), 1),
            "p95": round(_percentile(latencies, 0.95), 1),
            "max": round(max(latencies), 1),
        },
        "sync_500_keys": {
            "wall_seconds": round(wall, 3),
            "run_seconds": run_seconds,
            "puts": len(ado.writes()) - writes - 1,
        },
        "errors": 0,
    }
