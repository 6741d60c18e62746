"""Real Celery worker processes for sync tests: started with the sync settings a test needs,
killable with SIGKILL, restartable on the same queue. PostgreSQL test database only."""

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

from tests.support.celery_worker import BROKER_URL, ROOT, worker_env


class Workers:
    """Worker processes consuming one per-test queue."""

    def __init__(self, tmp_path: Path, extra_env: dict[str, str]) -> None:
        self.queue = f"test-syncs-{uuid.uuid4().hex[:12]}"
        self.tmp_path = tmp_path
        self.env = {
            "AZURE_DEVOPS_CACHE_DIR": str(tmp_path / "ado-cache"),
            "STRONGROOM_SYNC_ALLOWED_HOSTS": "127.0.0.1",
            "STRONGROOM_SYNC_QUEUE": self.queue,
            "STRONGROOM_NOTIFICATIONS_QUEUE": self.queue,  # the owner's failure e-mail is a delivery task
            "STRONGROOM_SYNC_DEBOUNCE_SECONDS": "0",
            "STRONGROOM_SYNC_RETRY_BASE_SECONDS": "1",
            "STRONGROOM_SYNC_HEARTBEAT_STALE_SECONDS": "3",
            "STRONGROOM_SYNC_LOCK_TTL_SECONDS": "4",
            "CELERY_VISIBILITY_TIMEOUT": "5",
            "CELERY_UNACKED_RESTORE_INTERVAL": "1",
            "STRONGROOM_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "STRONGROOM_EMAIL_FILE_PATH": str(tmp_path / "mail"),
            **extra_env,
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def start(self) -> subprocess.Popen[bytes]:
        log_path = self.tmp_path / f"worker-{len(self.processes)}.log"
        self.logs.append(log_path)
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                [
                    sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", self.queue,
                    "--concurrency", "1", "--pool", "solo", "-l", "info",
                    "--without-gossip", "--without-mingle", "--without-heartbeat",
                    "-n", f"{self.queue}-{len(self.processes)}@%h",
                ],
                cwd=ROOT,
                env=worker_env(self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while "ready" not in log_path.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("celery worker did not start:\n" + log_path.read_text()[-3000:])
            time.sleep(0.1)
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
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


@contextmanager
def sync_workers(tmp_path: Path, settings: Any, extra_env: dict[str, str] | None = None) -> Iterator[Workers]:
    """Workers for this test; this process enqueues onto their queue through the real broker."""
    from config.celery import app

    workers = Workers(tmp_path, extra_env or {})
    previous = app.conf.broker_url
    _publish_to(app, BROKER_URL)
    settings.STRONGROOM_SYNC_QUEUE = workers.queue
    try:
        yield workers
    finally:
        workers.stop_all()
        _publish_to(app, previous)


def _publish_to(app: Any, broker_url: str) -> None:
    """Point this process's publishing at *broker_url*. The connection pool *and* the producer
    pool built on it are cached once anything has published (a notification delivery enqueued by an
    earlier test, say): both are dropped, or messages keep going to the old broker."""
    app.conf.broker_url = broker_url
    app.__dict__.pop("_pool", None)
    app._pool = None
    app.amqp._producer_pool = None
