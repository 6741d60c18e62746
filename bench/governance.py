"""The governance dashboard at scale for `make bench` (issue 15): 10,000 secrets and 1,000,000 audit
rows, the engine's refreshes timed, then the dashboard's render time (goal: < 1 s).

- Seeding: ``BENCH_GOVERNANCE_SECRETS`` (10,000) real secrets through the services (encrypted, so
  the risk refresh compares real values) in folders of 50 over dev/staging/prod, every tenth value
  equal in all three; 20 identities and 10 people; then ``BENCH_GOVERNANCE_AUDIT_ROWS`` (1,000,000)
  audit rows in one ``INSERT … SELECT generate_series`` spread over 115 days: 20 % list reads that
  deliver a folder, 1 % single reads by people (reveals), the rest listings and logins. The last
  92 days read only 80 % of the folders (the others go stale) and 5 % are never read.
- ``refresh_s``: ``deliveries`` (catching up with every read event), ``risk`` and ``snapshots``,
  then the steady state (``risk_again``, ``snapshots_again``: what beat does every 5 minutes).
- ``render_ms``: p50/p95 over ``BENCH_GOVERNANCE_REQUESTS`` (30) sequential GETs, through gunicorn,
  of the home page and the organization and project dashboard pages (a signed-in person), and of
  the dashboard API (organization and project) and the risk list's first page (a token).

Standalone: ``python -m bench.governance`` prepares its own database (BENCH_DATABASE_URL with
``_governance`` appended) and server the way ``bench.harness`` does.
"""

from __future__ import annotations

import base64
import http.cookiejar
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-governance-password-1"
GOAL_MS = 1000

SEED = r"""
import datetime, json, os, sys, time, django
django.setup()
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from governance.models import LeakFlag
from secrets_app.models import MachineIdentity, OrganizationMembership, Project, Secret
from secrets_app.principals import Principal
from secrets_app.selectors.access import project_scope_for
from secrets_app.services.folders import folder_create
from secrets_app.services.projects import project_create
from secrets_app.services.secrets import SecretInput, secret_bulk_upsert

SECRETS, ROWS, PASSWORD = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
PER_FOLDER = 50
started = time.perf_counter()
User = get_user_model()
admin = User.objects.get(email="bench@example.com")
admin.set_password(PASSWORD)
admin.save(update_fields=["password"])
organization = Project.objects.get(slug="bench").organization
principal = Principal.for_user(admin)
project = project_create(principal=principal, organization=organization, slug="gov", name="Governance bench")
scope = project_scope_for(principal, project)
envs = ("dev", "staging", "prod")
made = 0
folder = 0
while made < SECRETS:
    name = f"svc-{folder:03d}"
    for env in envs:
        folder_create(scope=scope, environment=env, path="/", name=name)
        count = min(PER_FOLDER, max(0, SECRETS - made))
        if not count:
            continue
        items = [
            SecretInput(key=f"KEY_{i:02d}", value=f"shared-{folder}-{i}" if i % 10 == 0 else f"{env}-{folder}-{i}")
            for i in range(count)
        ]
        secret_bulk_upsert(scope=scope, environment=env, path=f"/{name}", items=items)
        made += count
    folder += 1
seeded_secrets = time.perf_counter() - started

identities = MachineIdentity.objects.bulk_create(
    [MachineIdentity(organization=organization, name=f"pipeline-{i:02d}") for i in range(20)]
)
people = User.objects.bulk_create(
    [User(username=f"person{i:02d}@example.com", email=f"person{i:02d}@example.com") for i in range(10)]
)
OrganizationMembership.objects.bulk_create([OrganizationMembership(organization=organization, user=u) for u in people])
now = timezone.now()
live = Secret.objects.filter(project=project)
# Some governance metadata: expiries, rotation policies and leak flags on a few secrets.
Secret.objects.filter(pk__in=list(live.values_list("pk", flat=True)[::100])).update(
    expires_at=now + datetime.timedelta(days=7)
)
Secret.objects.filter(pk__in=list(live.values_list("pk", flat=True)[1::20])).update(rotation_interval_days=30)
LeakFlag.objects.bulk_create(
    [LeakFlag(secret=s, project=project, reason="bench", flagged_version=s.version) for s in live[:10]]
)

audit_started = time.perf_counter()
with connection.cursor() as cursor:
    cursor.execute(
        '''
        CREATE TEMP TABLE bench_folders AS
        SELECT row_number() OVER (ORDER BY s.folder_id) AS rn, e.slug AS env, f.path,
               jsonb_agg(s.id ORDER BY s.id) AS ids, count(*) AS n, min(s.id) AS first_id
        FROM secrets_app_secret s
        JOIN secrets_app_folder f ON f.id = s.folder_id
        JOIN secrets_app_environment e ON e.id = s.environment_id
        WHERE s.project_id = %s AND s.deleted_at IS NULL
        GROUP BY s.folder_id, e.slug, f.path
        ''',
        [project.pk],
    )
    cursor.execute("SELECT count(*) FROM bench_folders")
    folders = cursor.fetchone()[0]
    read_folders = max(1, folders * 95 // 100)  # 5 % never read
    recent_folders = max(1, folders * 80 // 100)  # the rest goes stale
    cursor.execute(
        '''
        INSERT INTO audit_auditevent (occurred_at, action, outcome, actor_type, actor_id, actor_label,
            actor_role, organization_id, project_id, environment, path, resource_type, resource_id,
            source_ip, user_agent, request_id, metadata)
        SELECT now() - ((%(rows)s - g) * interval '10 seconds') - interval '1 minute',
            CASE WHEN g %% 100 = 3 THEN 'secret.value_read'
                 WHEN g %% 5 = 0 THEN 'secret.values_read'
                 WHEN g %% 5 = 1 THEN 'secret.listed'
                 ELSE 'identity.logged_in' END,
            'allow',
            CASE WHEN g %% 100 = 3 THEN 'user' ELSE 'identity' END,
            CASE WHEN g %% 100 = 3 THEN (%(people)s::bigint[])[1 + g %% 10]::text
                 ELSE (%(identities)s::bigint[])[1 + g %% 20]::text END,
            CASE WHEN g %% 100 = 3 THEN 'person' || lpad((g %% 10)::text, 2, '0') || '@example.com'
                 ELSE 'pipeline-' || lpad((g %% 20)::text, 2, '0') END,
            '', %(organization)s, %(project)s, f.env, f.path, 'secret', '',
            '10.0.' || (g %% 200) || '.' || (g %% 250), 'bench-agent/1.0', '',
            CASE WHEN g %% 100 = 3 THEN jsonb_build_object('ids', jsonb_build_array(f.first_id), 'count', 1)
                 WHEN g %% 5 IN (0, 1) THEN jsonb_build_object('ids', f.ids, 'count', f.n)
                 ELSE '{}'::jsonb END
        FROM generate_series(1, %(rows)s) AS g
        JOIN bench_folders f
          ON f.rn = 1 + ((g::bigint * 7919) %% (CASE WHEN g > %(rows)s / 5 THEN %(recent)s ELSE %(read)s END))
        ''',
        {
            "rows": ROWS,
            "people": [u.pk for u in people],
            "identities": [i.pk for i in identities],
            "organization": organization.pk,
            "project": project.pk,
            "recent": recent_folders,
            "read": read_folders,
        },
    )
    cursor.execute("ANALYZE audit_auditevent")
print(json.dumps({
    "organization": organization.slug,
    "secrets": Secret.objects.filter(deleted_at__isnull=True).count(),
    "folders": folders,
    "seed_secrets_s": round(seeded_secrets, 1),
    "seed_audit_s": round(time.perf_counter() - audit_started, 1),
}))
"""

REFRESH = r"""
import json, time, django
django.setup()
from audit.models import AuditEvent
from governance.services.deliveries import CATCH_UP_BATCH, deliveries_refresh
from governance.services.risk import risk_refresh
from governance.services.snapshots import snapshots_refresh

figures = {}
started = time.perf_counter()
events = 0
while consumed := deliveries_refresh(batch_size=CATCH_UP_BATCH):
    events += consumed
figures["deliveries"] = round(time.perf_counter() - started, 2)
figures["read_events"] = events
for name, run in (("risk", risk_refresh), ("snapshots", snapshots_refresh),
                  ("risk_again", risk_refresh), ("snapshots_again", snapshots_refresh)):
    started = time.perf_counter()
    run()
    figures[name] = round(time.perf_counter() - started, 2)
started = time.perf_counter()
deliveries_refresh()
figures["deliveries_idle"] = round(time.perf_counter() - started, 3)
figures["audit_rows"] = AuditEvent.objects.count()
print(json.dumps(figures))
"""


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _session(base: str) -> urllib.request.OpenerDirector:
    """A signed-in browser: the login form with its CSRF token, as a person would."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base}/login/", timeout=30) as response:
        page = response.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if token is None:
        raise RuntimeError("bench governance: no CSRF token on the login page")
    body = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token.group(1), "email": "bench@example.com", "password": PASSWORD}
    )
    request = urllib.request.Request(f"{base}/login/", data=body.encode(), headers={"Referer": f"{base}/login/"})
    with opener.open(request, timeout=30) as response:
        if "/login" in response.geturl():
            raise RuntimeError("bench governance: the login did not succeed")
    return opener


def _time_get(
    opener: urllib.request.OpenerDirector, url: str, requests: int, headers: dict[str, str]
) -> dict[str, Any]:
    durations, errors, status = [], 0, 0
    for attempt in range(requests + 3):
        started = time.perf_counter()
        try:
            with opener.open(urllib.request.Request(url, headers=headers), timeout=60) as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            status, errors = exc.code, errors + 1
        if attempt >= 3:  # three warm-ups (process start, caches)
            durations.append((time.perf_counter() - started) * 1000)
    return {
        "p50": round(statistics.median(durations), 1),
        "p95": round(_percentile(durations, 0.95), 1),
        "requests": requests,
        "status": status,
        "errors": errors,
    }


def measure(port: int, token: str, env: dict[str, str]) -> dict[str, Any]:
    secrets = os.environ.get("BENCH_GOVERNANCE_SECRETS", "10000")
    rows = os.environ.get("BENCH_GOVERNANCE_AUDIT_ROWS", "1000000")
    requests = int(os.environ.get("BENCH_GOVERNANCE_REQUESTS", "30"))
    run_env = {**env, "STRONGROOM_AUDIT_SEAL_DELAY_SECONDS": "0"}
    seed = subprocess.run(
        [sys.executable, "-c", SEED, secrets, rows, PASSWORD],
        cwd=ROOT,
        env=run_env,
        check=True,
        capture_output=True,
        text=True,
    )
    seeded = json.loads(seed.stdout.strip().splitlines()[-1])
    refresh = subprocess.run(
        [sys.executable, "-c", REFRESH], cwd=ROOT, env=run_env, check=True, capture_output=True, text=True
    )
    refreshed = json.loads(refresh.stdout.strip().splitlines()[-1])
    base = f"http://127.0.0.1:{port}"
    organization = seeded["organization"]
    browser = _session(base)
    api = urllib.request.build_opener()
    bearer = {"Authorization": f"Bearer {token}"}
    render = {
        "home_page": _time_get(browser, f"{base}/", requests, {}),
        "org_dashboard_page": _time_get(browser, f"{base}/org/{organization}/governance/", requests, {}),
        "project_dashboard_page": _time_get(browser, f"{base}/projects/gov/governance/", requests, {}),
        "org_dashboard_api": _time_get(
            api, f"{base}/api/v1/organizations/{organization}/governance/dashboard/", requests, bearer
        ),
        "project_dashboard_api": _time_get(api, f"{base}/api/v1/projects/gov/governance/dashboard/", requests, bearer),
        "org_risks_api": _time_get(
            api, f"{base}/api/v1/organizations/{organization}/governance/risks/", requests, bearer
        ),
    }
    worst = max(figures["p95"] for figures in render.values())
    return {
        "seed": seeded,
        "refresh_s": refreshed,
        "render_ms": render,
        "goal_ms": GOAL_MS,
        "within_goal": worst < GOAL_MS,
        "errors": sum(figures["errors"] for figures in render.values()),
    }


def main() -> int:
    """Run this part alone: a database and a gunicorn of its own, as ``bench.harness`` does."""
    from bench.harness import PYTHON, SETUP_SCRIPT, _free_port, _recreate_database, _wait_http

    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/strongroom_bench")
    database_url += "_governance"
    _recreate_database(database_url)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        "STRONGROOM_DATA_DIR": tempfile.mkdtemp(prefix="strongroom-bench-governance-"),
        "STRONGROOM_ROOT_KEY": base64.b64encode(os.urandom(32)).decode(),
        "STRONGROOM_SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
        "STRONGROOM_LOG_LEVEL": "WARNING",
        "STRONGROOM_LOGIN_RATE_PER_MINUTE": "100000000",
        "STRONGROOM_API_READ_RATE_PER_MINUTE": "0",
        "STRONGROOM_API_WRITE_RATE_PER_MINUTE": "0",
    }
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    setup = subprocess.run([PYTHON, "-c", SETUP_SCRIPT], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    token = json.loads(setup.stdout.strip().splitlines()[-1])["token"]
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(PYTHON).parent / "gunicorn"), "config.wsgi", "--config", "config/gunicorn.py",
         "--bind", f"127.0.0.1:{port}", "--workers", os.environ.get("BENCH_WORKERS", "4"), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_http(f"http://127.0.0.1:{port}/healthz")
        result = measure(port, token, env)
    finally:
        server.terminate()
        server.wait(timeout=20)
    print(json.dumps({"governance": result}, indent=2))
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
