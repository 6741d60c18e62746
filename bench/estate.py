"""Azure DevOps estate discovery at scale for `make bench` (issue 16): an emulated organization of
``BENCH_ESTATE_PROJECTS`` (100) projects × ``BENCH_ESTATE_GROUPS`` (50) variable groups, plus 3
pipelines, 2 service connections and a secure file per project (``EstateEmulator.generate_estate``),
scanned once end to end through the real Celery task (run eagerly in the measuring process, so the
figure is the scan's own work: HTTP to the emulator, classification, upserts, findings), then
re-scanned unchanged (the steady state: every row compared by fingerprint, nothing added).

Figures: ``first_scan_s``, ``rescan_s``, ``requests`` (per scan), requests per second, resources and
findings recorded. ``BENCH_ESTATE_LATENCY_MS`` (0) delays every emulator read, to model a remote's
round trip (with it, ``STRONGROOM_ESTATE_CONCURRENCY`` shows: requests in flight per scan).
``BENCH_ESTATE=0`` skips this part.

Standalone: ``python -m bench.estate`` prepares its own database (BENCH_DATABASE_URL with
``_estate`` appended) the way ``bench.harness`` does (no web server is needed).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

SCAN = r"""
import json, sys, time, django
django.setup()
from django.contrib.auth import get_user_model
from estate.models import EstateFinding, EstateResource
from estate.services.scans import scan_request
from secrets_app.models import OrganizationMembership, OrgRole, Project
from secrets_app.principals import Principal
from syncs.services.connections import connection_create
from tests.emulators.azure_devops_estate import EstateEmulator

PROJECTS, GROUPS, LATENCY_MS = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
admin = get_user_model().objects.get(email="bench@example.com")
organization = Project.objects.get(slug="bench").organization
OrganizationMembership.objects.filter(organization=organization, user=admin).update(role=OrgRole.ADMIN)
principal = Principal.for_user(admin)
with EstateEmulator(pats=("bench-estate-pat",)) as ado:
    started = time.perf_counter()
    generated = ado.generate_estate(PROJECTS, GROUPS)
    generate_s = time.perf_counter() - started
    ado.read_delay = LATENCY_MS / 1000
    connection = connection_create(
        principal=principal, organization=organization, kind="azure_devops", method="pat", name="bench-estate",
        credentials={"token": "bench-estate-pat"}, config={"organization_url": ado.org_url},
    )
    scans = []
    for _ in range(2):
        before = len(ado.requests)
        started = time.perf_counter()
        scan = scan_request(principal=principal, organization=organization, connection_ref=str(connection.public_id))
        scan.refresh_from_db()
        seconds = time.perf_counter() - started
        scans.append({
            "status": scan.status, "error": scan.error, "seconds": round(seconds, 2),
            "requests": len(ado.requests) - before, "throttled": scan.progress.get("throttled", 0),
            "requests_per_s": round((len(ado.requests) - before) / seconds, 1) if seconds else 0,
            "counts": scan.counts, "diff": scan.diff,
        })
    print(json.dumps({
        "generated": generated, "generate_s": round(generate_s, 2), "scans": scans,
        "resources": EstateResource.objects.filter(connection=connection).count(),
        "findings": EstateFinding.objects.filter(connection=connection, resolved_at__isnull=True).count(),
        "writes_to_ado": len(ado.writes()),
    }))
"""


def measure(port: int, token: str, env: dict[str, str]) -> dict[str, Any]:
    """One scan of the generated estate and one unchanged re-scan (``port``/``token`` unused: the
    scan is a worker's job, not a web request; the signature is the harness's)."""
    projects = os.environ.get("BENCH_ESTATE_PROJECTS", "100")
    groups = os.environ.get("BENCH_ESTATE_GROUPS", "50")
    latency = os.environ.get("BENCH_ESTATE_LATENCY_MS", "0")
    run_env = {
        **env,
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "STRONGROOM_OUTBOUND_ALLOWED_HOSTS": "127.0.0.1",
        "STRONGROOM_LOG_LEVEL": "WARNING",
    }
    run = subprocess.run(
        [sys.executable, "-c", SCAN, projects, groups, latency],
        cwd=ROOT,
        env=run_env,
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(run.stdout.strip().splitlines()[-1])
    first, second = result["scans"]
    errors = sum(scan["status"] != "succeeded" for scan in result["scans"]) + result["writes_to_ado"]
    return {
        "estate": {"projects": int(projects), "groups_per_project": int(groups), "latency_ms": float(latency)},
        "first_scan_s": first["seconds"],
        "rescan_s": second["seconds"],
        "requests_per_scan": first["requests"],
        "requests_per_s": first["requests_per_s"],
        "rescan_diff": second["diff"],
        "resources": result["resources"],
        "open_findings": result["findings"],
        "detail": result,
        "errors": errors,
    }


def main() -> int:
    """Run this part alone: a database of its own, set up as ``bench.harness`` does."""
    from bench.harness import PYTHON, SETUP_SCRIPT, _recreate_database

    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/strongroom_bench")
    database_url += "_estate"
    _recreate_database(database_url)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        "STRONGROOM_DATA_DIR": tempfile.mkdtemp(prefix="strongroom-bench-estate-"),
        "STRONGROOM_ROOT_KEY": base64.b64encode(os.urandom(32)).decode(),
        "STRONGROOM_SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
        "STRONGROOM_LOG_LEVEL": "WARNING",
    }
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run([PYTHON, "-c", SETUP_SCRIPT], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    result = measure(0, "", env)
    print(json.dumps({"estate": result}, indent=2))
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
