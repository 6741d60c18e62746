"""Private PostgreSQL and Redis servers for fault tests, and Strongroom's processes on top of them.

Fault tests stop, kill and restart servers. They must never touch the machine's shared
PostgreSQL (5432) or Redis (6379), which other tests use in parallel, so each test session starts
its own: a PostgreSQL 15 cluster (``initdb``/``pg_ctl`` run as the ``postgres`` OS user, since
initdb refuses root; ``fsync=off``: nothing here needs to survive the machine) and a
``redis-server``, both on free ports bound to 127.0.0.1, both removed at the end.

On top of them a ``Stack`` runs Strongroom as production does: gunicorn, a Celery worker and beat
started with the commands ``docker-compose.yml`` gives its ``web``, ``worker`` and ``beat``
services (so a change there, e.g. another gunicorn worker class, is what these tests exercise).
Each test gets a database of its own, cloned from a migrated template in a fraction of a second.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("STRONGROOM_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
TEMPLATE_DB = "strongroom_template"


class ServiceUnavailable(RuntimeError):
    """A tool the fault tests need (initdb, redis-server) is not installed."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Any, timeout: float = 30, interval: float = 0.1, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {timeout:g} s")
        time.sleep(interval)


def _as_postgres_user(argv: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; when we are not root we already are someone else.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a free port (trust auth for ``postgres`` on 127.0.0.1)."""

    def __init__(self) -> None:
        for tool in ("initdb", "pg_ctl"):
            if not (PG_BIN / tool).is_file():
                raise ServiceUnavailable(f"{PG_BIN / tool} is missing (Debian package postgresql-15)")
        self.root = Path(tempfile.mkdtemp(prefix="strongroom-faults-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                   "--no-sync", "--no-instructions"])  # fmt: skip

    def _run(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(_as_postgres_user(argv), capture_output=True, text=True, cwd=self.root)
        if check and result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {result.stdout[-1500:]}{result.stderr[-1500:]}")
        return result

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-t", "30",
                   "start"])  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """``fast`` is a clean shutdown; ``immediate`` is a crash (the primary killed), recovered at start."""
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop"], check=False)

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, params: tuple[Any, ...] = (), database: str = "postgres") -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(sql.encode(), params or None)
            return list(cursor.fetchall()) if cursor.description else []

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """A throwaway redis-server on a free port, no persistence: a restart comes back empty, as a
    Redis without persistence (or a failed-over cache node) does."""

    def __init__(self) -> None:
        if not Path(REDIS_SERVER).is_file():
            raise ServiceUnavailable("redis-server is missing (Debian package redis-server)")
        self.root = Path(tempfile.mkdtemp(prefix="strongroom-faults-redis-"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with open(self.root / "redis.log", "ab") as log:
            self.process = subprocess.Popen(
                [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(self.root)],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_until(self.answers, timeout=10, what="private redis-server answering PING")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def flush(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(b"FLUSHALL\r\n")
            sock.recv(16)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # SIGKILL: the outage starts at once, nothing is flushed
            self.process.wait(timeout=10)
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _compose_command(service: str) -> list[str]:
    """The command docker-compose.yml runs for *service* (``${VAR:-default}`` resolved to defaults)."""
    import re

    import yaml

    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = document["services"][service]["command"]
    if isinstance(command, str):
        import shlex

        command = shlex.split(command)
    return [re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", part) for part in command]


def _replace_option(argv: list[str], option: str, value: str) -> list[str]:
    """Set ``option value`` (or ``option=value``) in *argv*, adding it when absent."""
    out = list(argv)
    for index, part in enumerate(out):
        if part == option and index + 1 < len(out):
            out[index + 1] = value
            return out
        if part.startswith(option + "="):
            out[index] = f"{option}={value}"
            return out
    return [*out, option, value]


class Stack:
    """Strongroom's processes for one test, on its own database of the private cluster and the
    private Redis (cache, broker and rate-limit state, as in production)."""

    def __init__(
        self, postgres: PrivatePostgres, redis: PrivateRedis, tmp_path: Path, extra_env: dict[str, str]
    ) -> None:
        self.postgres = postgres
        self.redis = redis
        self.tmp_path = tmp_path
        self.database = f"strongroom_{uuid.uuid4().hex[:10]}"
        postgres.execute(f'CREATE DATABASE "{self.database}" TEMPLATE "{TEMPLATE_DB}"')
        redis.flush()
        inherited = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("STRONGROOM_", "CELERY_", "DJANGO_", "PYTEST_"))
            and name not in {"DATABASE_URL", "REDIS_URL"}
        }
        data_dir = tmp_path / "data"
        data_dir.mkdir(mode=0o700, exist_ok=True)
        self.env = {
            **inherited,
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": postgres.url(self.database),
            "REDIS_URL": redis.url,
            "STRONGROOM_DATA_DIR": str(data_dir),
            "STRONGROOM_ROOT_KEY": base64.b64encode(os.urandom(32)).decode(),
            "STRONGROOM_SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
            "STRONGROOM_LOG_LEVEL": "INFO",
            "AZURE_DEVOPS_CACHE_DIR": str(tmp_path / "ado-cache"),
            "STRONGROOM_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "STRONGROOM_EMAIL_FILE_PATH": str(tmp_path / "mail"),
            **extra_env,
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: list[Path] = []
        self.web_port: int | None = None

    # --- Django code in a process of its own, on this stack's database ---------------------------

    def django(self, code: str, *, timeout: float = 60) -> Any:
        """Run *code* after ``django.setup()``; it sets ``result`` (JSON-serialisable), returned here."""
        script = "import json, django\ndjango.setup()\nresult = None\n" + code + "\nprint('\\n' + json.dumps(result))"
        completed = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if completed.returncode != 0:
            raise RuntimeError(f"django script failed:\n{completed.stdout[-2000:]}\n{completed.stderr[-3000:]}")
        return json.loads(completed.stdout.strip().splitlines()[-1])

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120
        )
        if check and completed.returncode != 0:
            raise RuntimeError(
                f"manage.py {' '.join(args)} failed:\n{completed.stdout[-2000:]}{completed.stderr[-2000:]}"
            )
        return completed

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows of *query* (``%s`` placeholders for *params*) on this stack's database."""
        return self.postgres.execute(query, params, self.database)

    # --- processes -----------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log_path = self.tmp_path / f"{name}.log"
        self.logs.append(log_path)
        with open(log_path, "ab") as log:
            # A session of its own: a SIGKILL to the group takes the process and its children
            # (prefork pool, gunicorn workers) down together, as a container or node kill does.
            process = subprocess.Popen(
                argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.processes[name] = process
        return process

    def start_web(self, workers: int = 2) -> int:
        """gunicorn as docker-compose.yml's ``web`` runs it, bound to a free local port."""
        command = _compose_command("web")
        assert command[0] == "gunicorn", command
        port = free_port()
        argv = [sys.executable, "-m", "gunicorn", *_replace_option(command[1:], "--bind", f"127.0.0.1:{port}")]
        argv = _replace_option(argv, "--workers", str(workers))
        self._spawn("web", argv)
        self.web_port = port
        wait_until(lambda: self._healthy(port), timeout=30, what="gunicorn answering /healthz")
        return port

    def _healthy(self, port: int) -> bool:
        process = self.processes["web"]
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited:\n" + self.log_text("web")[-3000:])
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def start_worker(self, name: str = "worker", concurrency: int = 1) -> subprocess.Popen[bytes]:
        """A Celery worker as docker-compose.yml's ``worker`` runs it; returns once it is ready."""
        command = _compose_command("worker")
        assert command[0] == "celery", command
        argv = [sys.executable, "-m", *_replace_option(command, "--concurrency", str(concurrency))]
        argv += ["-n", f"{name}-{uuid.uuid4().hex[:6]}@%h", "--without-mingle", "--without-gossip"]
        process = self._spawn(name, argv)
        log_path = self.tmp_path / f"{name}.log"
        start = log_path.stat().st_size if log_path.exists() else 0

        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError("celery worker exited:\n" + log_path.read_text()[-3000:])
            return " ready." in log_path.read_text()[start:]

        wait_until(ready, timeout=40, what=f"celery worker {name} ready")
        return process

    def start_beat(self) -> subprocess.Popen[bytes]:
        command = _compose_command("beat")
        return self._spawn("beat", [sys.executable, "-m", *command])

    def kill(self, name: str) -> None:
        """SIGKILL the process and everything it started (no shutdown handlers run)."""
        process = self.processes[name]
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for name in list(self.processes):
            try:
                self.processes[name].wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill(name)

    def log_text(self, name: str | None = None) -> str:
        paths = [self.tmp_path / f"{name}.log"] if name else self.logs
        return "\n".join(path.read_text(errors="replace") for path in dict.fromkeys(paths) if path.exists())

    def close(self) -> None:
        self.stop_all()
        with contextlib.suppress(Exception):  # cleanup only; the cluster is removed with the session
            self.postgres.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


class Client:
    """A small HTTP client for the stack's gunicorn: one fresh connection per request, so a
    server-side restart never leaves it holding a dead keep-alive socket."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.port = port
        self.token = token

    def request(self, method: str, path: str, body: Any = None, timeout: float = 15) -> tuple[int, Any, float]:
        """(status, parsed JSON or text, seconds); status 0 when the connection failed."""
        import http.client

        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        started = time.perf_counter()
        try:
            connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
            response = connection.getresponse()
            raw = response.read().decode("utf-8", errors="replace")
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            return 0, f"{type(exc).__name__}", time.perf_counter() - started
        finally:
            connection.close()
        try:
            payload: Any = json.loads(raw)
        except ValueError:
            payload = raw
        return status, payload, time.perf_counter() - started


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
