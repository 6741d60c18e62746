"""Where a request's time goes: the SQL statements PostgreSQL receives per request, and an
in-process profile split (issue 14's groundwork; measures only, changes nothing).

A private PostgreSQL 15 cluster (tests/faults/services.py's ``PrivatePostgres``, so the machine's
shared server is neither restarted nor reconfigured) is started with
``shared_preload_libraries=pg_stat_statements`` and ``track_utility=on``: BEGIN, COMMIT, SAVEPOINT
and RELEASE are counted like any query. Strongroom runs on it as in production (gunicorn with
config/gunicorn.py, one worker so requests are strictly sequential, Redis from BENCH_REDIS_URL). For
each request type: warm-up requests, ``pg_stat_statements_reset()``, N requests, then the counters
of the bench database (read from another database, so the reading itself is not counted) divided by
N. Savepoint names (``"s140_x1"``) are folded into one entry; PostgreSQL 15 does not normalise
utility statements itself.

The profile runs the same requests in-process with Django's test client against the same database
(``python -m bench.statements --profile`` in a child process with the server's settings), first
unprofiled for the wall time per request, then under cProfile; ``bench.profile_split`` assigns the
time to categories.

``make bench`` runs it when BENCH_STATEMENTS is not 0; ``python -m bench.statements`` runs only this.
BENCH_PROFILE_DUMP=<dir> also writes each case's cProfile stats there (<case>.pstats).
BENCH_STATEMENT_REQUESTS (default 50) requests are counted per type, BENCH_PROFILE_REQUESTS (200)
profiled, BENCH_FILL_SECRETS (10000) secrets put into one folder for the create-as-it-fills case (0
skips it), where creates also run for BENCH_CREATE_LOAD_SECONDS (10) on 4 connections against
BENCH_WORKERS (4) gunicorn workers before and after the fill.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
COMPAT = "/compat/infisical"
DATABASE = "strongroom_bench"
SAVEPOINT_NAME = re.compile(r'"?s\d+_x\d+"?')
# The statement ri_triggers.c runs for a foreign-key check. Django's foreign keys are DEFERRABLE
# INITIALLY DEFERRED, so the checks run at COMMIT (or at the end of an autocommit statement), outside
# any executor hook: PostgreSQL 15's pg_stat_statements then marks them toplevel although no client
# sent them.
FOREIGN_KEY_CHECK = re.compile(r'^SELECT 1 FROM ONLY "[^"]+"\."[^"]+" x WHERE .* FOR KEY SHARE OF x$')


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str  # {project} is the project's id; {n} a counter (unique keys for creates)
    body: dict[str, Any] | None
    expect: int
    auth: str  # "identity" (access token from a universal-auth login), "personal" or "none"


def cases(project_id: str) -> list[Case]:
    where = f"workspaceId={project_id}&environment=prod&secretPath=/"
    v1 = "/api/v1/projects/bench/secrets"
    return [
        Case("get_one_compat", "GET", f"{COMPAT}/api/v3/secrets/raw/SECRET_007?{where}", None, 200, "identity"),
        Case("list_50_compat", "GET", f"{COMPAT}/api/v3/secrets/raw?{where}", None, 200, "identity"),
        Case(
            "create_compat",
            "POST",
            f"{COMPAT}/api/v3/secrets/raw/NEW_{{n}}",
            # staging: the folders the reads list stay at 50 secrets
            {"workspaceId": project_id, "environment": "staging", "secretPath": "/", "secretValue": "x" * 32},
            200,
            "identity",
        ),
        Case("login_compat", "POST", f"{COMPAT}/api/v1/auth/universal-auth/login", None, 200, "none"),
        Case("get_one_v1", "GET", f"{v1}/SECRET_007/?environment=prod&path=/", None, 200, "personal"),
        Case("list_50_v1", "GET", f"{v1}/?environment=prod&path=/&include_values=true", None, 200, "personal"),
    ]


def normalise(query: str) -> str:
    """One line per statement kind: whitespace folded, savepoint names replaced by ``sN``."""
    text = " ".join(query.split())
    return SAVEPOINT_NAME.sub("sN", text)


def per_request(rows: list[tuple[str, int, float, bool]], requests: int) -> dict[str, Any]:
    """Fold pg_stat_statements rows (query, calls, total_exec_time ms, toplevel) into calls per
    request. Only top-level statements are what the client sent; nested ones and the foreign-key checks
    PostgreSQL runs itself (``SELECT 1 FROM ONLY … FOR KEY SHARE OF x``) are listed apart."""
    folded: dict[tuple[str, bool], list[float]] = {}
    rows = [(query, calls, ms, top and not FOREIGN_KEY_CHECK.match(normalise(query))) for query, calls, ms, top in rows]
    for query, calls, exec_ms, toplevel in rows:
        entry = folded.setdefault((normalise(query), toplevel), [0.0, 0.0])
        entry[0] += calls
        entry[1] += exec_ms
    ordered = sorted(folded.items(), key=lambda item: (-item[1][0], -item[1][1]))
    statements = [
        {"calls_per_request": round(calls / requests, 2), "exec_ms_per_request": round(ms / requests, 3), "sql": sql}
        for (sql, toplevel), (calls, ms) in ordered
        if toplevel
    ]
    nested = [
        {"calls_per_request": round(calls / requests, 2), "exec_ms_per_request": round(ms / requests, 3), "sql": sql}
        for (sql, toplevel), (calls, ms) in ordered
        if not toplevel
    ]
    return {
        "requests": requests,
        "statements_per_request": round(sum(calls for _, calls, _, top in rows if top) / requests, 2),
        "nested_per_request": round(sum(calls for _, calls, _, top in rows if not top) / requests, 2),
        # total_exec_time of top-level statements includes their nested ones
        "db_exec_ms_per_request": round(sum(ms for _, _, ms, top in rows if top) / requests, 3),
        "statements": statements,
        "nested": nested,
    }


class _Client:
    """Sequential keep-alive HTTP client for one request type."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Content-Type": "application/json", **headers}
        self.counter = 0

    def send(self, case: Case, body: dict[str, Any] | None = None) -> float:
        self.counter += 1
        tag = f"{os.getpid()}_{time.monotonic_ns()}_{self.counter}"
        payload = body if body is not None else case.body
        raw = json.dumps(payload) if payload is not None else None
        started = time.perf_counter()
        try:
            self.connection.request(case.method, case.path.replace("{n}", tag), body=raw, headers=self.headers)
            response = self.connection.getresponse()
        except (ConnectionError, http.client.RemoteDisconnected):
            # gunicorn closed the idle keep-alive connection (keepalive seconds) while another case ran.
            self.connection.close()
            started = time.perf_counter()
            self.connection.request(case.method, case.path.replace("{n}", tag), body=raw, headers=self.headers)
            response = self.connection.getresponse()
        content = response.read()
        elapsed = time.perf_counter() - started
        if response.status != case.expect:
            raise RuntimeError(f"{case.name}: HTTP {response.status} {content[:300]!r}")
        return elapsed


def _stack(redis_url: str) -> tuple[Any, dict[str, str]]:
    from tests.faults.services import PG_BIN, PrivatePostgres

    class StatsPostgres(PrivatePostgres):
        def start(self) -> None:
            options = (
                f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100 "
                "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all "
                "-c pg_stat_statements.track_utility=on -c pg_stat_statements.max=10000"
            )
            self._run(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-o",
                    options,
                    "-l",
                    str(self.log),
                    "-w",
                    "-t",
                    "30",
                    "start",
                ]
            )

    postgres = StatsPostgres()
    postgres.start()
    postgres.execute(f'CREATE DATABASE "{DATABASE}"')
    postgres.execute("CREATE EXTENSION pg_stat_statements")  # read from "postgres": the bench db stays unobserved
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": postgres.url(DATABASE),
        "REDIS_URL": redis_url,
        "STRONGROOM_DATA_DIR": tempfile.mkdtemp(prefix="strongroom-bench-stmts-"),
        "STRONGROOM_ROOT_KEY": base64.b64encode(os.urandom(32)).decode(),
        "STRONGROOM_SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
        "STRONGROOM_LOG_LEVEL": "WARNING",
        "STRONGROOM_LOGIN_RATE_PER_MINUTE": "100000000",
        "STRONGROOM_API_READ_RATE_PER_MINUTE": "0",
        "STRONGROOM_API_WRITE_RATE_PER_MINUTE": "0",
    }
    return postgres, env


SETUP = """
import json, django
django.setup()
from secrets_app.models import Project
project = Project.objects.get(slug="bench")
print(json.dumps({"project_id": str(project.public_id)}))
"""

FILL = """
import sys, django
django.setup()
from secrets_app.models import Project
from secrets_app.principals import Principal
from secrets_app.selectors.access import project_scope_for
from secrets_app.services.secrets import SecretInput, secret_bulk_upsert
from django.contrib.auth import get_user_model
admin = get_user_model().objects.get(email="bench@example.com")
scope = project_scope_for(Principal.for_user(admin), Project.objects.get(slug="bench"))
total = int(sys.argv[1])
for start in range(0, total, 1000):
    items = [SecretInput(key=f"FILL_{i:05d}", value="f" * 40) for i in range(start, min(total, start + 1000))]
    secret_bulk_upsert(scope=scope, environment="dev", path="/", items=items)
"""


def _python(code_or_args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run([PYTHON, *code_or_args], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def _count(postgres: Any, client: _Client, case: Case, requests: int, body: dict[str, Any] | None = None) -> dict:
    for _ in range(5):
        client.send(case, body)
    postgres.execute("SELECT pg_stat_statements_reset()")
    times = [client.send(case, body) for _ in range(requests)]
    rows = postgres.execute(
        "SELECT s.query, s.calls, s.total_exec_time, s.toplevel FROM pg_stat_statements s "
        "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s",
        (DATABASE,),
    )
    result = per_request([(str(q), int(c), float(ms), bool(top)) for q, c, ms, top in rows], requests)
    result["http_ms_p50_sequential"] = round(statistics.median(times) * 1000, 2)
    return result


def _gunicorn(port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(Path(PYTHON).parent / "gunicorn"),
            "config.wsgi",
            "--config",
            "config/gunicorn.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],  # fmt: skip
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,  # the access log
    )


def _dev_folder_size(postgres: Any) -> int:
    rows = postgres.execute(
        "SELECT count(*) FROM secrets_app_secret s JOIN secrets_app_folder f ON f.id = s.folder_id "
        "JOIN secrets_app_environment e ON e.id = f.environment_id "
        "WHERE e.slug = 'dev' AND f.path = '/' AND s.deleted_at IS NULL",
        database=DATABASE,
    )
    return int(rows[0][0])


def _create_load(postgres: Any, port: int, token: str, run: str) -> dict[str, Any]:
    from bench import loadgen

    scenario = loadgen.Scenario(
        "create_v1_dev",
        "POST",
        "/api/v1/projects/bench/secrets/",
        # loadgen's {n} restarts at each run: the run's name keeps the keys of two runs apart
        {"environment": "dev", "path": "/", "key": f"LOAD_{run}_{{n}}", "value": "x" * 32},
        201,
    )
    before = _dev_folder_size(postgres)
    seconds = float(os.environ.get("BENCH_CREATE_LOAD_SECONDS", "10"))
    result = loadgen.run("127.0.0.1", port, token, scenario, seconds=seconds, processes=2, threads=2)
    return {"folder_secrets_at_start": before, **result}


def measure(redis_url: str) -> dict[str, Any]:
    from bench.harness import SETUP_SCRIPT, _free_port, _wait_http

    requests = int(os.environ.get("BENCH_STATEMENT_REQUESTS", "50"))
    profile_requests = int(os.environ.get("BENCH_PROFILE_REQUESTS", "200"))
    fill = int(os.environ.get("BENCH_FILL_SECRETS", "10000"))
    postgres, env = _stack(redis_url)
    server = None
    try:
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        personal = json.loads(_python(["-c", SETUP_SCRIPT], env))["token"]
        project_id = json.loads(_python(["-c", SETUP], env))["project_id"]
        machine = json.loads(
            _python(
                [
                    "manage.py",
                    "identity_create",
                    "--name",
                    "bench-stmts",
                    "--project",
                    "bench",
                    "--role",
                    "admin",
                    "--universal-auth",
                    "--json",
                ],
                env,
            )
        )
        login_body = {"clientId": machine["clientId"], "clientSecret": machine["clientSecret"]}
        port = _free_port()
        server = _gunicorn(port, 1, env)
        _wait_http(f"http://127.0.0.1:{port}/healthz")
        anonymous = _Client(port, {})
        login = next(case for case in cases(project_id) if case.name == "login_compat")
        anonymous.send(login, login_body)
        connection = anonymous.connection
        connection.request("POST", login.path, body=json.dumps(login_body), headers=anonymous.headers)
        access = json.loads(connection.getresponse().read())["accessToken"]
        clients = {
            "identity": _Client(port, {"Authorization": f"Bearer {access}"}),
            "personal": _Client(port, {"Authorization": f"Bearer {personal}"}),
            "none": anonymous,
        }
        counted: dict[str, Any] = {}
        for case in cases(project_id):
            body = login_body if case.auth == "none" else None
            counted[case.name] = _count(postgres, clients[case.auth], case, requests, body)
        if fill:
            fill_case = Case(
                "create_dev",
                "POST",
                f"{COMPAT}/api/v3/secrets/raw/NEW_{{n}}",
                {"workspaceId": project_id, "environment": "dev", "secretPath": "/", "secretValue": "x" * 32},
                200,
                "identity",
            )
            counted["create_compat_empty_folder"] = _count(postgres, clients["identity"], fill_case, requests)
            load_port = _free_port()
            load_server = _gunicorn(load_port, int(os.environ.get("BENCH_WORKERS", "4")), env)
            try:
                _wait_http(f"http://127.0.0.1:{load_port}/healthz")
                # #14's create case: 4 connections, production's worker count, /api/v1, into the
                # same folder, before and after it is filled.
                loads = [_create_load(postgres, load_port, personal, "EMPTY")]
                started = time.monotonic()
                subprocess.run([PYTHON, "-c", FILL, str(fill)], cwd=ROOT, env=env, check=True)
                fill_seconds = time.monotonic() - started
                counted[f"create_compat_folder_of_{fill}"] = _count(postgres, clients["identity"], fill_case, requests)
                counted[f"create_compat_folder_of_{fill}"]["fill_seconds"] = round(fill_seconds, 1)
                loads.append(_create_load(postgres, load_port, personal, "FULL"))
            finally:
                load_server.terminate()
                load_server.wait(timeout=20)
            counted["create_v1_c4_load"] = {"runs": loads}
        server.terminate()
        server.wait(timeout=20)
        server = None
        # The spec (tokens, the client secret) goes through stdin, not argv: argv is visible in ps.
        spec = {"project_id": project_id, "access": access, "personal": personal, "login": login_body}
        spec["requests"] = profile_requests
        child = subprocess.run(
            [PYTHON, "-m", "bench.statements", "--profile"],
            input=json.dumps(spec),
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        profile = json.loads(child.stdout.strip().splitlines()[-1])
        for name, split in profile.items():
            counted.setdefault(name, {})["profile"] = split
        errors = sum(run["errors"] for run in counted.get("create_v1_c4_load", {}).get("runs", []))
        return {
            "errors": errors,
            "requests_per_type": requests,
            "profiled_requests": profile_requests,
            "cases": counted,
        }
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        postgres.close()


def _profile_child(spec: dict[str, Any]) -> dict[str, Any]:
    """In the child: Django's test client, same settings and database as the server."""
    import cProfile
    import pstats

    import django

    django.setup()
    from django.test import Client

    from bench.profile_split import split

    requests = int(spec["requests"])
    result: dict[str, Any] = {}
    for case in cases(spec["project_id"]):
        headers: dict[str, Any] = {"HTTP_HOST": "127.0.0.1"}
        if case.auth == "identity":
            headers["HTTP_AUTHORIZATION"] = f"Bearer {spec['access']}"
        elif case.auth == "personal":
            headers["HTTP_AUTHORIZATION"] = f"Bearer {spec['personal']}"
        client = Client(**headers)
        body = spec["login"] if case.auth == "none" else case.body
        counter = [0]

        def send(case: Case = case, client: Client = client, body: Any = body, counter: list[int] = counter) -> None:
            counter[0] += 1
            path = case.path.replace("{n}", f"P{os.getpid()}_{counter[0]}")
            if case.method == "GET":
                response = client.get(path)
            else:
                response = client.post(path, data=json.dumps(body), content_type="application/json")
            if response.status_code != case.expect:
                raise RuntimeError(f"{case.name}: HTTP {response.status_code} {response.content[:300]!r}")

        for _ in range(20):
            send()
        started = time.perf_counter()
        for _ in range(requests):
            send()
        plain_ms = (time.perf_counter() - started) * 1000 / requests
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for _ in range(requests):
            send()
        profiler.disable()
        profiled_ms = (time.perf_counter() - started) * 1000 / requests
        stats = pstats.Stats(profiler)
        dump_dir = os.environ.get("BENCH_PROFILE_DUMP")
        if dump_dir:  # for `python -m pstats <dir>/<case>.pstats`
            stats.dump_stats(os.path.join(dump_dir, f"{case.name}.pstats"))
        result[case.name] = {
            "in_process_ms_per_request": round(plain_ms, 2),
            "profiled_ms_per_request": round(profiled_ms, 2),
            **split(stats.stats),  # type: ignore[attr-defined]
        }
    return result


if __name__ == "__main__":
    if sys.argv[1:] == ["--profile"]:
        print(json.dumps(_profile_child(json.loads(sys.stdin.read()))))
    else:
        print(json.dumps(measure(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")), indent=2))
