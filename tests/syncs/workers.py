"""Real Celery worker processes for sync tests: started with the sync settings a test needs,
killable with SIGKILL, restartable on the same queue. PostgreSQL test database only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.celery_worker import BROKER_URL, WorkerPool, publish_to


class Workers(WorkerPool):
    """Worker processes consuming one per-test queue."""

    def __init__(self, tmp_path: Path, extra_env: dict[str, str]) -> None:
        queue = f"test-syncs-{uuid.uuid4().hex[:12]}"
        super().__init__(
            tmp_path,
            queue,
            {
                "AZURE_DEVOPS_CACHE_DIR": str(tmp_path / "ado-cache"),
                "STRONGROOM_SYNC_ALLOWED_HOSTS": "127.0.0.1",
                "STRONGROOM_SYNC_QUEUE": queue,
                "STRONGROOM_NOTIFICATIONS_QUEUE": queue,  # the owner's failure e-mail is a delivery task
                "STRONGROOM_SYNC_DEBOUNCE_SECONDS": "0",
                "STRONGROOM_SYNC_RETRY_BASE_SECONDS": "1",
                "STRONGROOM_SYNC_HEARTBEAT_STALE_SECONDS": "3",
                "STRONGROOM_SYNC_LOCK_TTL_SECONDS": "4",
                "CELERY_VISIBILITY_TIMEOUT": "5",
                "CELERY_UNACKED_RESTORE_INTERVAL": "1",
                "STRONGROOM_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
                "STRONGROOM_EMAIL_FILE_PATH": str(tmp_path / "mail"),
                **extra_env,
            },
        )


@contextmanager
def sync_workers(tmp_path: Path, settings: Any, extra_env: dict[str, str] | None = None) -> Iterator[Workers]:
    """Workers for this test; this process enqueues onto their queue through the real broker."""
    from config.celery import app

    workers = Workers(tmp_path, extra_env or {})
    previous = app.conf.broker_url
    publish_to(app, BROKER_URL)
    settings.STRONGROOM_SYNC_QUEUE = workers.queue
    try:
        yield workers
    finally:
        workers.stop_all()
        publish_to(app, previous)
