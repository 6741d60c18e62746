"""Dynamic secret leases for `make bench` (issue 12), on real PostgreSQL users:

- ``create_ms``: lease creation through the API (gunicorn → a new role on PostgreSQL), p50/p95 over
  ``BENCH_LEASES_TIMED`` (default 50) sequential requests;
- ``revoke_1000``: ``BENCH_LEASES`` (default 1000) leases made to expire at the same instant, then a
  real worker with beat (two processes) revokes them: wall time until every role is gone, and
  leases revoked per second. The goal is under 60 s on a 2-core machine.

The target is a database and a least-privilege root role of its own on the local PostgreSQL,
dropped afterwards.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SETUP = """
import django, sys
django.setup()
from dynamic.models import TargetAllowlist
from secrets_app.models import Project
project = Project.objects.get(slug="bench")
TargetAllowlist.objects.update_or_create(organization_id=project.organization_id, defaults={"entries": ["127.0.0.1"]})
"""
EXPIRE_ALL = """
import django
django.setup()
from django.utils import timezone
from dynamic.models import Lease
print(Lease.objects.filter(status="active").update(expire_at=timezone.now()))
"""


def _api(port: int, token: str, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
            return json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{method} {path}: HTTP {exc.code} {exc.read()[:300]!r}") from None


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _pg(sql: str, *, dbname: str = "postgres") -> str:
    return subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", dbname, "-tAc", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def _lease_roles(root: str) -> list[str]:
    """The roles the root role is a member of: one per live lease (the default creation grants it)."""
    joins = "pg_roles r JOIN pg_auth_members m ON m.roleid = r.oid JOIN pg_roles g ON g.oid = m.member"
    return _pg(f"SELECT r.rolname FROM {joins} WHERE g.rolname = '{root}'").split()  # noqa: S608 - our own name


def measure(port: int, token: str, env: dict[str, str]) -> dict[str, Any]:
    count = int(os.environ.get("BENCH_LEASES", "1000"))
    timed = int(os.environ.get("BENCH_LEASES_TIMED", "50"))
    suffix = uuid.uuid4().hex[:8]
    database, root, password = f"dyn_bench_{suffix}", f"dyn_bench_root_{suffix}", secrets.token_urlsafe(24)
    _pg(f"CREATE ROLE {root} LOGIN CREATEROLE PASSWORD '{password}'")
    _pg(f"CREATE DATABASE {database} OWNER {root}")
    _pg(f"SET ROLE {root}; CREATE TABLE items (id int PRIMARY KEY)", dbname=database)
    subprocess.run([sys.executable, "-c", SETUP], cwd=ROOT, env=env, check=True)
    worker = None
    try:
        secret = _api(
            port,
            token,
            "POST",
            "/api/v1/projects/bench/dynamic-secrets/",
            {
                "environment": "prod",
                "path": "/",
                "name": "bench-db",
                "provider": "postgresql",
                "config": {"host": "127.0.0.1", "port": 5432, "database": database, "username": root},
                "credentials": {"password": password},
                "defaultTTL": "1h",
            },
        )
        leases_path = f"/api/v1/projects/bench/dynamic-secrets/{secret['id']}/leases/"
        durations = []
        for _ in range(timed):
            started = time.perf_counter()
            _api(port, token, "POST", leases_path, {})
            durations.append((time.perf_counter() - started) * 1000)
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda _: _api(port, token, "POST", leases_path, {}), range(max(0, count - timed))))
        roles = len(_lease_roles(root))

        queue = f"bench-dynamic-{suffix}"
        worker_env = {
            **env,
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "STRONGROOM_DYNAMIC_QUEUE": queue,
            "STRONGROOM_DYNAMIC_SWEEP_SECONDS": "1",
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-B", "-Q", queue, "-c", "2",
             "-s", str(Path(env["STRONGROOM_DATA_DIR"]) / "bench-dynamic-beat"), "-l", "warning",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT,
            env=worker_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(3)  # the worker and beat start
        subprocess.run([sys.executable, "-c", EXPIRE_ALL], cwd=ROOT, env=env, check=True, capture_output=True)
        expired_at = time.perf_counter()
        remaining = roles
        while remaining and time.perf_counter() - expired_at < 300:
            time.sleep(0.5)
            remaining = len(_lease_roles(root))
        wall = time.perf_counter() - expired_at
        return {
            "create_ms": {
                "p50": round(statistics.median(durations), 1),
                "p95": round(_percentile(durations, 0.95), 1),
                "requests": timed,
            },
            "revoke_1000": {
                "leases": roles,
                "seconds": round(wall, 1),
                "revoked_per_second": round((roles - remaining) / wall, 1) if wall else None,
                "left": remaining,
                "goal_seconds": 60,
            },
            "errors": remaining,
        }
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
        _pg(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        for role in _lease_roles(root):
            _pg(f'DROP ROLE IF EXISTS "{role}"')
        _pg(f"DROP ROLE IF EXISTS {root}")
