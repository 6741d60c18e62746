"""#14's API cases driven by wrk (a C load generator), so the load costs the 2 cores far less than the
server it measures.

Strongroom runs as in production: gunicorn with config/gunicorn.py, ``WEB_CONCURRENCY`` workers
(default 4 here) of ``BENCH_WORKER_CLASS`` (gevent, sync or gthread with ``BENCH_THREADS`` threads
each; passed as ``STRONGROOM_WORKER_CLASS``), Redis from BENCH_REDIS_URL, audit on, on a private
PostgreSQL 15 cluster with pg_stat_statements (bench/statements.py's ``_stack``). A machine identity
(admin, universal auth) logs in; every authenticated case uses its access token, through the
Infisical compat API and through ``/api/v1``.

The data is made over HTTP with compat routes only (so ``bench.compare`` can make the same on any
Infisical): under ``<secret path>/wrkbench<stamp>/``, ``read`` holds 50 secrets, ``empty`` and
``empty_v1`` start empty, ``full`` is filled with BENCH_FILL (10,000) secrets by the batch route,
``warm`` takes the creates of the warm-ups.

Per case: BENCH_WARMUP_SECONDS (2) of the same load, then ``pg_stat_statements_reset()`` and the CPU
counters of the gunicorn master and workers (and of PostgreSQL) from /proc, BENCH_SECONDS (10) of
wrk, then the counters again. Reported: req/s, p50/p99 ms (wrk's latency histogram, printed as
JSON by the Lua ``done()``), non-2xx responses and socket errors (a case with any is flagged),
statements per request (top-level calls in the bench database / requests; PostgreSQL's own
foreign-key checks apart), server and database CPU ms per request. ``python -m bench.wrk_cases``
prints the table and writes var/bench/wrk-<timestamp>.json; ``make bench`` runs it. BENCH_CASES
(comma-separated name prefixes, e.g. ``compat_get,v1_login``) runs some cases only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

from bench.server_counters import AccessLog, cpu_seconds
from bench.wrk import WrkCase, ensure_wrk, run_wrk

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
COMPAT = "/compat/infisical"
READ_SECRETS = 50
FILL_CHUNK = 500


@dataclass
class Layout:
    """Where a target's bench data lives: ``root`` is ``<secret path>/wrkbench<stamp>``."""

    project_id: str
    environment: str
    root: str
    read_key: str = "SECRET_007"

    def folder(self, name: str) -> str:
        return f"{self.root}/{name}"


@dataclass
class Target:
    base_url: str  # the compat API's base (Infisical's own base URL; Strongroom's .../compat/infisical)
    token: str
    login_body: dict[str, str]
    server_pid: int | None = None  # gunicorn master: CPU accounting
    database_pid: int | None = None  # postmaster: CPU accounting
    postgres: Any = None  # bench.statements' private cluster: statement counts
    folder_size: Callable[[str], int] | None = None
    served: Callable[[], int] | None = None  # requests the server has answered (its access log)


def ratios(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """Strongroom / other per case present in both: req/s ratio (> 1: Strongroom serves more) and
    p50/p99 ratios (< 1: Strongroom answers sooner). A case with errors on either side has no ratio."""
    out: dict[str, Any] = {}
    for name, mine in ours.items():
        other = theirs.get(name)
        if other is None:
            continue
        if mine["errors"] or other["errors"] or not other["rps"] or not other["p50_ms"] or not other["p99_ms"]:
            out[name] = {"rps": None, "p50": None, "p99": None, "flag": "errors"}
            continue
        out[name] = {
            "rps": round(mine["rps"] / other["rps"], 2),
            "p50": round(mine["p50_ms"] / other["p50_ms"], 2),
            "p99": round(mine["p99_ms"] / other["p99_ms"], 2),
            "flag": "",
        }
    return out


def table(results: dict[str, dict[str, Any]]) -> str:
    """A markdown table of the cases (the figures that are not measured for a target are '-')."""

    def cell(value: Any) -> str:
        return "-" if value is None else str(value)

    lines = [
        "| case | req/s | p50 ms | p99 ms | non-2xx / socket errors | statements/req (+FK checks) "
        "| server CPU ms/req | PostgreSQL CPU ms/req |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, result in results.items():
        errors = f"{result['non2xx']} / {result['socket_errors']}"
        if result["errors"]:
            errors = f"**{errors} FAILED** {result['non2xx_by_status']}"
        statements = result.get("statements_per_request")
        if statements is not None:
            statements = f"{statements} (+{result['fk_checks_per_request']})"
        lines.append(
            f"| {name} | {result['rps']} | {result['p50_ms']} | {result['p99_ms']} | {errors} | {cell(statements)} "
            f"| {cell(result.get('server_cpu_ms_per_request'))} | {cell(result.get('db_cpu_ms_per_request'))} |"
        )
    return "\n".join(lines)


def compat_cases(base_path: str, layout: Layout) -> list[WrkCase]:
    """#14's cases through the Infisical API; ``base_path`` is the base URL's path ("" for Infisical)."""

    def where(folder: str) -> str:
        return (
            f"workspaceId={quote(layout.project_id)}&environment={quote(layout.environment)}&secretPath={quote(folder)}"
        )

    def create(name: str, folder: str) -> WrkCase:
        def body(folder: str) -> str:
            return json.dumps(
                {
                    "workspaceId": layout.project_id,
                    "environment": layout.environment,
                    "secretPath": folder,
                    "secretValue": "x" * 32,
                }
            )

        path = f"{base_path}/api/v3/secrets/raw/{{key}}"
        warm = WrkCase(f"{name}_warmup", "POST", path, body(layout.folder("warm")), 4)
        return WrkCase(name, "POST", path, body(folder), 4, warmup=warm)

    read = layout.folder("read")
    one = f"{base_path}/api/v3/secrets/raw/{layout.read_key}?{where(read)}"
    return [
        WrkCase("compat_get_one_c1", "GET", one, None, 1),
        WrkCase("compat_get_one_c16", "GET", one, None, 16),
        WrkCase("compat_list_50_c4", "GET", f"{base_path}/api/v3/secrets/raw?{where(read)}", None, 4),
        WrkCase("compat_login_c4", "POST", f"{base_path}/api/v1/auth/universal-auth/login", None, 4, auth=False),
        create("compat_create_empty_c4", layout.folder("empty")),
        create("compat_create_full_c4", layout.folder("full")),
    ]


def v1_cases(layout: Layout) -> list[WrkCase]:
    """The same through Strongroom's own routes (same identity, same folders)."""
    base = f"/api/v1/projects/{quote(layout.project_id)}/secrets"

    def at(folder: str) -> str:
        return f"environment={quote(layout.environment)}&path={quote(folder)}"

    def create(name: str, folder: str) -> WrkCase:
        def body(folder: str) -> str:
            return json.dumps({"environment": layout.environment, "path": folder, "key": "{key}", "value": "x" * 32})

        warm = WrkCase(f"{name}_warmup", "POST", f"{base}/", body(layout.folder("warm")), 4)
        return WrkCase(name, "POST", f"{base}/", body(folder), 4, warmup=warm)

    read = layout.folder("read")
    one = f"{base}/{layout.read_key}/?{at(read)}"
    return [
        WrkCase("v1_get_one_c1", "GET", one, None, 1),
        WrkCase("v1_get_one_c16", "GET", one, None, 16),
        WrkCase("v1_list_50_c4", "GET", f"{base}/?{at(read)}&include_values=true", None, 4),
        WrkCase("v1_login_c4", "POST", "/api/v1/auth/universal-auth/login", None, 4, auth=False),
        create("v1_create_empty_c4", layout.folder("empty_v1")),
        create("v1_create_full_c4", layout.folder("full")),
    ]


def with_login_body(case: WrkCase, login_body: dict[str, str]) -> WrkCase:
    return replace(case, body=json.dumps(login_body)) if not case.auth else case


def _statements(postgres: Any, database: str, requests: int) -> dict[str, Any]:
    from bench.statements import FOREIGN_KEY_CHECK, normalise, per_request

    rows = postgres.execute(
        "SELECT s.query, s.calls, s.total_exec_time, s.toplevel FROM pg_stat_statements s "
        "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s",
        (database,),
    )
    rows = [(str(q), int(c), float(ms), bool(top)) for q, c, ms, top in rows]
    counted = per_request(rows, max(1, requests))
    fk = sum(calls for query, calls, _, _ in rows if FOREIGN_KEY_CHECK.match(normalise(query)))
    return {
        "statements_per_request": counted["statements_per_request"],
        "fk_checks_per_request": round(fk / max(1, requests), 2),
        "db_exec_ms_per_request": counted["db_exec_ms_per_request"],
        "statements": counted["statements"],
    }


def drain(target: Target, quiet: float = 0.5, limit: float = 30) -> None:
    """Wait until the server has answered what wrk left in flight (its access log stops growing for
    ``quiet`` seconds), so one run's requests are not counted in the next."""
    if target.served is None:
        time.sleep(quiet)
        return
    deadline = time.monotonic() + limit
    last = target.served()
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = target.served()
        if now == last:
            return
        last = now


def run_case(target: Target, case: WrkCase, seconds: float, warmup: float, tag: str) -> dict[str, Any]:
    """Warm-up, then one measured wrk run with the server's counters around it. ``tag`` keeps the
    keys of this case's creates apart from every other run's. Statements and CPU are divided by the
    requests the server answered in the window (its access log: wrk does not count the requests in
    flight at its deadline, the server still runs them), or by wrk's count when that is unknown."""
    parsed = urlparse(target.base_url)
    url = f"{parsed.scheme}://{parsed.netloc}/"
    case = with_login_body(case, target.login_body)
    if warmup > 0:
        warm = with_login_body(case.warmup or case, target.login_body)
        run_wrk(url, warm, target.token, warmup, f"{tag}w")
        drain(target)
    before_size = None
    if target.folder_size is not None and case.method == "POST" and case.auth:
        before_size = target.folder_size(case.name)
    if target.postgres is not None:
        target.postgres.execute("SELECT pg_stat_statements_reset()")
    served_before = target.served() if target.served else 0
    cpu_before = cpu_seconds([target.server_pid, target.database_pid])
    result = run_wrk(url, case, target.token, seconds, tag)
    drain(target)
    cpu_after = cpu_seconds([target.server_pid, target.database_pid])
    requests = target.served() - served_before if target.served else result["requests"]
    result["server_requests"] = requests
    for key, before, after in zip(("server", "db"), cpu_before, cpu_after, strict=True):
        if before is not None and after is not None:
            result[f"{key}_cpu_ms_per_request"] = round((after - before) * 1000 / max(1, requests), 2)
    if target.postgres is not None:
        from bench.statements import DATABASE

        result.update(_statements(target.postgres, DATABASE, requests))
    if before_size is not None:
        result["folder_secrets_at_start"] = before_size
    result["connections"] = case.connections
    return result


def _names() -> str:
    return os.environ.get("BENCH_CASES", "")


def selected(cases: list[WrkCase], names: str) -> list[WrkCase]:
    """The cases named by the comma-separated ``names`` (all when empty): a full case name picks
    that case, anything else every case whose name starts with it."""
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    exact = {case.name for case in cases} & set(wanted)
    prefixes = [name for name in wanted if name not in exact]
    return [
        case
        for case in cases
        if not wanted or case.name in exact or any(case.name.startswith(prefix) for prefix in prefixes)
    ]


def run_cases(target: Target, cases: list[WrkCase], *, seconds: float, warmup: float) -> dict[str, Any]:
    """Each case in turn (BENCH_CASES, comma-separated name prefixes, picks some: e.g. ``compat_get,v1_login``)."""
    stamp = time.strftime("%H%M%S")
    results = {}
    for index, case in enumerate(selected(cases, _names())):
        results[case.name] = run_case(target, case, seconds, warmup, f"W{stamp}_{index}")
        print(f"wrk: {case.name}: {results[case.name]['rps']} req/s", file=sys.stderr, flush=True)
    return results


# --- data over the compat API ---------------------------------------------------------------------


def http_json(
    base_url: str, method: str, path: str, body: Any = None, token: str | None = None, timeout: float = 120
) -> Any:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base_url.rstrip("/") + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        # the status and the server's error text only: never the request (it may carry a secret)
        raise RuntimeError(f"{method} {path.split('?')[0]}: HTTP {exc.code} {exc.read()[:300]!r}") from None


def login(base_url: str, login_body: dict[str, str]) -> str:
    return str(http_json(base_url, "POST", "/api/v1/auth/universal-auth/login", login_body)["accessToken"])


def prepare(base_url: str, token: str, project_id: str, environment: str, secret_path: str, fill: int) -> Layout:
    """Folders and secrets for the cases, made through the compat API (works on Infisical too)."""
    parent = "/" + secret_path.strip("/") if secret_path.strip("/") else ""
    name = f"wrkbench{time.strftime('%Y%m%d%H%M%S')}"
    layout = Layout(project_id=project_id, environment=environment, root=f"{parent}/{name}")

    def folder(path: str, folder_name: str) -> None:
        body = {"workspaceId": project_id, "environment": environment, "path": path or "/", "name": folder_name}
        http_json(base_url, "POST", "/api/v1/folders", body, token)

    def batch(path: str, items: list[tuple[str, str]]) -> None:
        secrets = [{"secretKey": key, "secretValue": value} for key, value in items]
        body = {"workspaceId": project_id, "environment": environment, "secretPath": path, "secrets": secrets}
        http_json(base_url, "POST", "/api/v3/secrets/batch/raw", body, token)

    folder(parent, name)
    for sub in ("read", "empty", "empty_v1", "full", "warm"):
        folder(layout.root, sub)
    batch(layout.folder("read"), [(f"SECRET_{i:03d}", "v" * 64 + str(i)) for i in range(READ_SECRETS)])
    for start in range(0, fill, FILL_CHUNK):
        batch(layout.folder("full"), [(f"FILL_{i:05d}", "f" * 40) for i in range(start, min(fill, start + FILL_CHUNK))])
    return layout


# --- Strongroom, self-started ---------------------------------------------------------------------


@dataclass
class Strongroom:
    target: Target
    layout: Layout
    server: subprocess.Popen[bytes]
    postgres: Any
    settings: dict[str, Any]

    def close(self) -> None:
        self.server.terminate()
        try:
            self.server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()
        self.postgres.close()


def _python(argv: list[str], env: dict[str, str]) -> str:
    result = subprocess.run([PYTHON, *argv], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:  # stderr only: stdout may hold a credential
        raise RuntimeError(f"{argv[:2]} failed: {result.stderr.strip()[-2000:]}")
    return result.stdout.strip().splitlines()[-1]


def start_strongroom(redis_url: str, fill: int) -> Strongroom:
    from bench.harness import _free_port, _wait_http
    from bench.statements import DATABASE, _stack

    workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
    worker_class = os.environ.get("BENCH_WORKER_CLASS", "gevent")
    threads = int(os.environ.get("BENCH_THREADS", "4"))
    postgres, env = _stack(redis_url)
    server = None
    try:
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        # management commands and HTTP only: the bench does not depend on the services' signatures
        _python(["manage.py", "bootstrap", "--admin-email", "bench@example.com", "--json"], env)
        project = ["manage.py", "project_create", "--slug", "bench", "--name", "Bench", "--owner", "bench@example.com"]
        project_id = json.loads(_python([*project, "--json"], env))["id"]
        argv = ["manage.py", "identity_create", "--name", "bench-wrk", "--project", "bench", "--role", "admin"]
        machine = json.loads(_python([*argv, "--universal-auth", "--json"], env))
        login_body = {"clientId": machine["clientId"], "clientSecret": machine["clientSecret"]}
        port = _free_port()
        server_env = {**env, "WEB_CONCURRENCY": str(workers), "STRONGROOM_WORKER_CLASS": worker_class}
        command = [str(Path(PYTHON).parent / "gunicorn"), "config.wsgi", "--config", "config/gunicorn.py"]
        command += ["--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
        if worker_class == "gthread":
            command += ["--threads", str(threads)]
        server = subprocess.Popen(command, cwd=ROOT, env=server_env, stdout=subprocess.PIPE)
        access_log = AccessLog(server.stdout)
        _wait_http(f"http://127.0.0.1:{port}/healthz")
        base_url = f"http://127.0.0.1:{port}{COMPAT}"
        token = login(base_url, login_body)
        started = time.monotonic()
        layout = prepare(base_url, token, project_id, "dev", "/", fill)
        fill_seconds = round(time.monotonic() - started, 1)
        postmaster = int((postgres.data / "postmaster.pid").read_text().split()[0])

        def folder_size(case_name: str) -> int:
            folder = layout.folder("full" if "full" in case_name else "empty_v1" if "v1" in case_name else "empty")
            rows = postgres.execute(
                "SELECT count(*) FROM secrets_app_secret s JOIN secrets_app_folder f ON f.id = s.folder_id "
                "JOIN secrets_app_environment e ON e.id = f.environment_id "
                "WHERE e.slug = %s AND f.path = %s AND s.deleted_at IS NULL",
                (layout.environment, folder),
                database=DATABASE,
            )
            return int(rows[0][0])

        target = Target(base_url, token, login_body, server.pid, postmaster, postgres, folder_size, access_log)
        settings = {
            "workers": workers,
            "worker_class": worker_class,
            "threads": threads if worker_class == "gthread" else None,
            "fill": fill,
            "fill_seconds": fill_seconds,
        }
        return Strongroom(target, layout, server, postgres, settings)
    except BaseException:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        postgres.close()
        raise


def _commit() -> str:
    """HEAD, with ``+changes`` when the working tree differs from it (figures of uncommitted code)."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True)
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def measure(redis_url: str) -> dict[str, Any]:
    """All cases (compat and /api/v1) against a self-started Strongroom; the document ``make bench``
    puts under ``wrk`` (its ``errors`` is the sum over cases)."""
    ensure_wrk()
    seconds = float(os.environ.get("BENCH_SECONDS", "10"))
    warmup = float(os.environ.get("BENCH_WARMUP_SECONDS", "2"))
    fill = int(os.environ.get("BENCH_FILL", "10000"))
    blank = Layout("", "", "")
    if not any("full" in case.name for case in selected(compat_cases("", blank) + v1_cases(blank), _names())):
        fill = 0  # no case writes to the full folder
    stack = start_strongroom(redis_url, fill)
    try:
        layout = stack.layout
        cases = compat_cases(COMPAT, layout) + v1_cases(layout)
        results = run_cases(stack.target, cases, seconds=seconds, warmup=warmup)
    finally:
        stack.close()
    return {
        "errors": sum(result["errors"] for result in results.values()),
        "commit": _commit(),
        "seconds": seconds,
        "warmup_seconds": warmup,
        "server": stack.settings,
        "machine": {"cpus": os.cpu_count(), "load_average_at_end": list(os.getloadavg())},
        "cases": results,
    }


def write_json(document: dict[str, Any], prefix: str = "wrk") -> Path:
    directory = ROOT / "var" / "bench"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{prefix}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(document, indent=2))
    return path


def main() -> int:
    document = measure(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"))
    path = write_json(document)
    print(table(document["cases"]))
    print(f"\n{document['server']}, commit {document['commit']}; JSON: {path}")
    return 0 if document["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
