#!/usr/bin/env python3
"""Run the test suite against the best services this machine offers: ``python scripts/run_tests.py [pytest args]``.

How the services are picked (each independently):

* ``DATABASE_URL`` set → used as is. Otherwise, if PostgreSQL accepts ``postgres@127.0.0.1:5432``
  → ``postgres://postgres@127.0.0.1:5432/strongroom_<run id>``: pytest-django creates and drops
  ``test_strongroom_<run id>_gw<N>``. The run id keeps concurrent runs on one machine (several
  checkouts, several engineers) from dropping each other's test databases.
  Otherwise SQLite (in memory), so a newcomer without services can still run the suite.
* ``REDIS_URL`` set → used as is. Otherwise, if Redis answers PING on ``127.0.0.1:6379`` →
  ``redis://127.0.0.1:6379/15``. Otherwise the file cache and Celery's filesystem broker.

With ``CI=true`` (or ``STRONGROOM_TEST_REQUIRE_SERVICES=1``) a missing PostgreSQL or Redis is an
error, not a fallback: CI must prove the production stack.

The run also gets a fresh root key (unless ``STRONGROOM_ROOT_KEY`` is set) and a throwaway data
directory (unless ``STRONGROOM_DATA_DIR`` is set), so tests never touch ``./var`` of ``make run``.

``--print-env`` prints the chosen settings as ``export`` lines instead of running pytest.
pytest's exit code is passed through; 5 ("no tests collected") therefore fails the run.
"""

from __future__ import annotations

import base64
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
LOCAL_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/strongroom_{run_id}"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/15"
PROBE_TIMEOUT_SECONDS = 2.0


class ServiceMissing(RuntimeError):
    pass


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def services_required(environ: dict[str, str]) -> bool:
    return _truthy(environ.get("CI")) or _truthy(environ.get("STRONGROOM_TEST_REQUIRE_SERVICES"))


def postgres_answers(host: str = "127.0.0.1", port: int = 5432) -> str | None:
    """None when a login as ``postgres`` works; otherwise why not (never includes credentials)."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (run `make venv`)"
    try:
        with psycopg.connect(
            host=host, port=port, user="postgres", dbname="postgres", connect_timeout=int(PROBE_TIMEOUT_SECONDS)
        ) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"no PostgreSQL login as postgres on {host}:{port} ({type(exc).__name__})"
    return None


def redis_answers(host: str = "127.0.0.1", port: int = 6379) -> str | None:
    """None when Redis answers PING; otherwise why not."""
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_SECONDS) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError as exc:
        return f"no Redis on {host}:{port} ({exc.strerror or type(exc).__name__})"
    if not reply.startswith(b"+PONG"):
        return f"Redis on {host}:{port} did not answer PING (got {reply[:20]!r})"
    return None


def redact(url: str) -> str:
    """The URL with any password replaced, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def drop_run_databases(database_url: str) -> None:
    """Drop what a run left behind on the local PostgreSQL: its test databases (``test_<name>``,
    ``test_<name>_gw<N>``) survive pytest when a test leaks a connection (a subprocess still
    attached at teardown). Best effort: a failure here never fails the run."""
    name = urlsplit(database_url).path.lstrip("/")
    try:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=5432, user="postgres", dbname="postgres", autocommit=True, connect_timeout=2
        ) as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE datname = %s OR datname = %s OR datname LIKE %s",
                (name, f"test_{name}", f"test_{name}_gw%"),
            ).fetchall()
            for (datname,) in rows:
                conn.execute(f'DROP DATABASE IF EXISTS "{datname}" WITH (FORCE)')
    except Exception as exc:  # cleanup only: report, never fail the run
        print(f"run_tests: could not drop the run's test databases ({type(exc).__name__})", file=sys.stderr)


def choose_environment(environ: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The variables to add for the test run, and one line per decision for the log.

    Raises ServiceMissing when services are required and one is not there.
    """
    required = services_required(environ)
    chosen: dict[str, str] = {}
    notes: list[str] = []
    missing: list[str] = []

    if environ.get("DATABASE_URL"):
        notes.append(f"database: {redact(environ['DATABASE_URL'])} (from DATABASE_URL)")
    else:
        problem = postgres_answers()
        if problem is None:
            chosen["DATABASE_URL"] = LOCAL_POSTGRES_URL.format(run_id=os.urandom(3).hex())
            notes.append(f"database: {chosen['DATABASE_URL']} (PostgreSQL answered on 127.0.0.1:5432)")
        elif required:
            missing.append(problem)
        else:
            notes.append(f"database: SQLite in memory ({problem})")

    if environ.get("REDIS_URL"):
        notes.append(f"redis: {redact(environ['REDIS_URL'])} (from REDIS_URL)")
    else:
        problem = redis_answers()
        if problem is None:
            chosen["REDIS_URL"] = LOCAL_REDIS_URL
            notes.append(f"redis: {LOCAL_REDIS_URL} (Redis answered on 127.0.0.1:6379)")
        elif required:
            missing.append(problem)
        else:
            notes.append(f"redis: none, file cache + filesystem broker ({problem})")

    if missing:
        raise ServiceMissing(
            "CI=true / STRONGROOM_TEST_REQUIRE_SERVICES=1 needs PostgreSQL and Redis: " + "; ".join(missing)
        )

    if not environ.get("STRONGROOM_ROOT_KEY") and not environ.get("STRONGROOM_ROOT_KEY_FILE"):
        chosen["STRONGROOM_ROOT_KEY"] = base64.b64encode(os.urandom(32)).decode("ascii")
        notes.append("root key: generated for this run")
    return chosen, notes


def main(argv: list[str]) -> int:
    environ = dict(os.environ)
    try:
        chosen, notes = choose_environment(environ)
    except ServiceMissing as exc:
        print(f"run_tests: {exc}", file=sys.stderr)
        return 2

    if argv[:1] == ["--print-env"]:
        for name, value in chosen.items():
            print(f"export {name}={shlex.quote(value)}")
        return 0

    data_dir: str | None = None
    if not environ.get("STRONGROOM_DATA_DIR"):
        data_dir = tempfile.mkdtemp(prefix="strongroom-test-")
        chosen["STRONGROOM_DATA_DIR"] = data_dir
    for note in notes:
        print(f"run_tests: {note}", file=sys.stderr)
    sys.stderr.flush()

    env = {**environ, **chosen, "DJANGO_SETTINGS_MODULE": "config.test_settings"}
    command = [sys.executable, "-m", "pytest", *argv]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        while True:
            try:
                return_code = process.wait()
                break
            except KeyboardInterrupt:
                # pytest got the same Ctrl-C from the terminal: wait for it to print its report.
                continue
    finally:
        if data_dir is not None:
            shutil.rmtree(data_dir, ignore_errors=True)
        if "DATABASE_URL" in chosen:  # only the database this script made up, never one it was given
            drop_run_databases(chosen["DATABASE_URL"])
    if return_code == 5:
        print("run_tests: pytest collected no tests; that counts as a failure", file=sys.stderr)
    return return_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
