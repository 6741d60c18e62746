"""Helpers for revocation tests: a TCP port that forwards to a real server and can be stopped (a
target that goes down, without touching the shared server), and real Celery workers on their own
queue of Redis database 14, killable with SIGKILL."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.celery_worker import WorkerPool, publish_to

BROKER_URL = "redis://127.0.0.1:6379/14"


class StoppablePort:
    """Listens on a free 127.0.0.1 port (or *listen_port*: the same port again, a server that came
    back) and forwards each connection to (host, port) until ``stop()``: afterwards connections are
    refused, as from a database server that is down."""

    def __init__(self, host: str, port: int, *, listen_port: int = 0) -> None:
        self.upstream = (host, port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", listen_port))
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


class Workers(WorkerPool):
    """Celery worker processes consuming one fresh queue (optionally with beat: ``-B``)."""

    def __init__(self, tmp_path: Path, extra_env: dict[str, str] | None = None) -> None:
        queue = f"test-dynamic-{uuid.uuid4().hex[:12]}"
        super().__init__(
            tmp_path,
            queue,
            {
                "CELERY_BROKER_URL": BROKER_URL,
                "CELERY_TASK_DEFAULT_QUEUE": queue,  # beat's messages too
                "STRONGROOM_DYNAMIC_QUEUE": queue,
                "STRONGROOM_NOTIFICATIONS_QUEUE": queue,
                "STRONGROOM_DYNAMIC_SWEEP_SECONDS": "1",
                "STRONGROOM_DYNAMIC_LOST_SECONDS": "1",
                "STRONGROOM_DYNAMIC_RETRY_BASE_SECONDS": "0",
                "STRONGROOM_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
                "STRONGROOM_EMAIL_FILE_PATH": str(tmp_path / "mail"),
                **(extra_env or {}),
            },
        )


@contextmanager
def dynamic_workers(tmp_path: Path, settings: Any, extra_env: dict[str, str] | None = None) -> Iterator[Workers]:
    """Workers for this test; this process publishes revocations onto their queue."""
    from config.celery import app

    workers = Workers(tmp_path, extra_env)
    previous = app.conf.broker_url
    publish_to(app, BROKER_URL)
    settings.STRONGROOM_DYNAMIC_QUEUE = workers.queue
    try:
        yield workers
    finally:
        workers.stop_all()
        publish_to(app, previous)
