"""Helpers for revocation tests: a TCP port that forwards to a real server and can be stopped (a
target that goes down, without touching the shared server), and real Celery workers on their own
queue of Redis database 14, killable with SIGKILL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.celery_worker import ROOT, worker_env

BROKER_URL = "redis://127.0.0.1:6379/14"


class StoppablePort:
    """Listens on a free 127.0.0.1 port and forwards each connection to (host, port) until
    ``stop()``: afterwards connections are refused, as from a database server that is down."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(32)
        self.port = int(self.listener.getsockname()[1])
        self.sockets: list[socket.socket] = []
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            self.sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        self.running = False
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        self.listener.close()
        for sock in self.sockets:
            try:
                sock.close()
            except OSError:
                pass


class Workers:
    """Celery worker processes consuming one fresh queue (optionally with beat: ``-B``)."""

    def __init__(self, tmp_path: Path, extra_env: dict[str, str] | None = None) -> None:
        self.queue = f"test-dynamic-{uuid.uuid4().hex[:12]}"
        self.tmp_path = tmp_path
        self.env = {
            "CELERY_BROKER_URL": BROKER_URL,
            "CELERY_TASK_DEFAULT_QUEUE": self.queue,  # beat's messages too
            "STRONGROOM_DYNAMIC_QUEUE": self.queue,
            "STRONGROOM_NOTIFICATIONS_QUEUE": self.queue,
            "STRONGROOM_DYNAMIC_SWEEP_SECONDS": "1",
            "STRONGROOM_DYNAMIC_LOST_SECONDS": "1",
            "STRONGROOM_DYNAMIC_RETRY_BASE_SECONDS": "0",
            "STRONGROOM_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "STRONGROOM_EMAIL_FILE_PATH": str(tmp_path / "mail"),
            **(extra_env or {}),
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def start(self, *, beat: bool = False) -> subprocess.Popen[bytes]:
        index = len(self.processes)
        log_path = self.tmp_path / f"worker-{index}.log"
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


def _publish_to(app: Any, broker_url: str) -> None:
    """Point this process's publishing at *broker_url* (the cached pools are dropped too)."""
    app.conf.broker_url = broker_url
    app.__dict__.pop("_pool", None)
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def dynamic_workers(tmp_path: Path, settings: Any, extra_env: dict[str, str] | None = None) -> Iterator[Workers]:
    """Workers for this test; this process publishes revocations onto their queue."""
    from config.celery import app

    workers = Workers(tmp_path, extra_env)
    previous = app.conf.broker_url
    _publish_to(app, BROKER_URL)
    settings.STRONGROOM_DYNAMIC_QUEUE = workers.queue
    try:
        yield workers
    finally:
        workers.stop_all()
        _publish_to(app, previous)
