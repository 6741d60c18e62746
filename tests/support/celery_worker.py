"""A real Celery worker process for tests, on the real broker and the test's own database.

Only for PostgreSQL test databases (a worker process cannot see an in-memory SQLite database)
and ``transactional_db`` tests (the worker must see committed rows). Each worker consumes its
own queue, so parallel test processes never steal each other's tasks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
BROKER_URL = os.environ.get("STRONGROOM_TEST_BROKER_URL", "redis://127.0.0.1:6379/13")


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    database = settings.DATABASES["default"]
    url = f"postgres://{database.get('USER') or 'postgres'}@{database.get('HOST') or '127.0.0.1'}:{database.get('PORT') or 5432}/{database['NAME']}"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": BROKER_URL,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
        "STRONGROOM_ROOT_KEY": settings.STRONGROOM_ROOT_KEY or "",
        "STRONGROOM_SECRET_KEY": settings.SECRET_KEY,
        "STRONGROOM_DATA_DIR": str(settings.DATA_DIR),
        **(extra or {}),
    }


@contextmanager
def celery_worker(log_path: Path, *, beat: bool = False, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start ``celery -A config worker`` on a fresh queue; yields the queue name.

    With *beat* the worker also runs the real beat scheduler (``-B``, its schedule file next to the
    log), whose messages go to the same fresh queue; *env* adds settings for both."""
    if connection.vendor != "postgresql":
        raise RuntimeError("a real worker needs the PostgreSQL test database")
    queue = f"test-{uuid.uuid4().hex[:12]}"
    extra_args = ["-B", "-s", str(log_path.with_suffix(".beat-schedule"))] if beat else []
    extra_env = {**(env or {}), "CELERY_TASK_DEFAULT_QUEUE": queue} if beat else env
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                queue,
                "--concurrency",
                "1",
                "--pool",
                "solo",
                "-l",
                "info",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                *extra_args,
            ],
            cwd=ROOT,
            env=worker_env(extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while "ready" not in log_path.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("celery worker did not start:\n" + log_path.read_text()[-2000:])
            time.sleep(0.2)
        yield queue
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def send_task(name: str, args: list[Any], queue: str) -> None:
    """Enqueue by name on the test broker (the same message a production enqueue sends)."""
    from config.celery import app

    with app.connection_for_write(BROKER_URL) as conn:
        app.send_task(name, args=args, queue=queue, connection=conn)


def wait_until(predicate: Any, timeout: float = 30, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def require_postgres(reason: str) -> None:
    """Skip on a newcomer's SQLite run; in CI (where PostgreSQL always runs) fail instead."""
    import pytest

    if connection.vendor == "postgresql":
        return
    if os.environ.get("CI") or os.environ.get("STRONGROOM_TEST_REQUIRE_SERVICES"):
        pytest.fail(f"PostgreSQL test database required: {reason}")
    pytest.skip(reason)


class WorkerPool:
    """Celery worker processes consuming one queue of the test's own, each logging to its own file
    in *tmp_path*: started (optionally with the real beat, ``-B``, whose messages go to the same
    queue when the caller sets ``CELERY_TASK_DEFAULT_QUEUE``), killed with SIGKILL, restarted.
    Subclasses (one per suite) choose the queue prefix and the environment."""

    log_prefix = "worker"

    def __init__(self, tmp_path: Path, queue: str, env: dict[str, str]) -> None:
        self.tmp_path = tmp_path
        self.queue = queue
        self.env = env
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def start(self, *, beat: bool = False) -> subprocess.Popen[bytes]:
        index = len(self.processes)
        log_path = self.tmp_path / f"{self.log_prefix}-{index}.log"
        self.logs.append(log_path)
        beat_args = ["-B", "-s", str(self.tmp_path / f"beat-{index}.schedule")] if beat else []
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                [
                    sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", self.queue,
                    "--concurrency", "1", "--pool", "solo", "-l", "info",
                    "--without-gossip", "--without-mingle", "--without-heartbeat",
                    "-n", f"{self.queue}-{index}@%h", *beat_args,
                ],
                cwd=ROOT,
                env=worker_env(self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.processes.append(process)
        deadline = time.monotonic() + 30
        while "ready" not in log_path.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("celery worker did not start:\n" + log_path.read_text()[-3000:])
            time.sleep(0.1)
        return process

    @staticmethod
    def kill(process: subprocess.Popen[bytes]) -> None:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()

    def log_text(self) -> str:
        return "\n".join(path.read_text() for path in self.logs if path.exists())


def publish_to(app: Any, broker_url: str) -> None:
    """Point this process's publishing at *broker_url*. The connection pool *and* the producer
    pool built on it are cached once anything has published (a notification delivery enqueued by an
    earlier test, say): both are dropped, or messages keep going to the old broker."""
    app.conf.broker_url = broker_url
    app.__dict__.pop("_pool", None)
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def eager() -> Iterator[None]:
    """Queued Celery tasks run in the process that queues them, after its commit, as a worker
    would (a live server's request thread included). Import it where a test names it."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = previous
