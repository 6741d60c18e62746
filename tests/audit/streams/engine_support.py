"""Helpers for the delivery engine's tests (tests/audit/streams/test_delivery*.py)::

    from tests.audit.streams.engine_support import org_admin, other_org, receiver, stream_org  # noqa: F401

- ``receiver``: a :class:`Receiver`: the webhook emulator (``tests/audit/streams/emulators.py``:
  signature checked, ``fail_next``, ``reject_if``, ``down()``/``up()``) plus ``delay``,
  ``on_batch(callback)`` and ``event_ids()`` (accepted events' ids in arrival order).
- ``stream_org`` / ``other_org``: organizations; ``org_admin``: an admin of ``stream_org``.
- ``make_stream(org, receiver)``: a webhook stream to the receiver, starting after the newest event.
- ``record(org, n)``: n events through ``audit_record`` (ids returned); ``seal()`` seals everything.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.models import Max

from audit.models import AuditEvent
from audit.sealing import audit_seal_pending
from audit.services import SYSTEM_ACTOR, audit_record
from audit.streams.credentials import stream_seal_credentials
from audit.streams.delivery import DeliveryOutcome, stream_deliver
from audit.streams.models import AuditStream
from tests.audit.streams.emulators import Request, Response, WebhookReceiver
from tests.support.celery_worker import WorkerPool

SIGNING_SECRET = "whsec-engine-test-7d1f0c2a9b"


class Receiver(WebhookReceiver):
    """The webhook emulator (signature checked, faults, down/up) plus what the engine's tests need:
    ``delay`` (seconds before each answer), ``on_batch(callback)`` (runs while an accepted batch is
    at the receiver, before the answer: a pause or a second run lands mid-batch) and ``event_ids()``."""

    def __init__(self) -> None:
        super().__init__(SIGNING_SECRET)
        self.delay = 0.0
        self._on_batch: Callable[[list[dict[str, Any]]], Any] | None = None

    def on_batch(self, callback: Callable[[list[dict[str, Any]]], Any] | None) -> None:
        self._on_batch = callback

    def event_ids(self) -> list[int]:
        with self._lock:
            return [int(event["id"]) for event in self.events]

    def handle(self, request: Request) -> Response:
        if self.delay:
            time.sleep(self.delay)
        return super().handle(request)

    def accepted(self, events: list[dict[str, Any]]) -> Response:
        if self._on_batch is not None:
            try:
                self._on_batch(events)
            finally:
                connection.close()  # this request thread's own connection, if the callback used one
        return super().accepted(events)


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]  # the receiver is local plain http
    endpoint = Receiver()
    endpoint.up()
    try:
        yield endpoint
    finally:
        endpoint.stop()


@pytest.fixture
def stream_org(db: None) -> Any:
    from secrets_app.services.projects import organization_get_or_create

    return organization_get_or_create(slug="stream-org", name="Streaming Org")


@pytest.fixture
def other_org(db: None) -> Any:
    from secrets_app.services.projects import organization_get_or_create

    return organization_get_or_create(slug="other-org", name="Other Org")


@pytest.fixture
def org_admin(stream_org: Any) -> Any:
    from secrets_app.models import OrgRole
    from secrets_app.principals import Principal
    from secrets_app.services.users import user_create

    user = user_create(
        email="alice@example.com",
        password="correct-horse-battery-staple",
        organization=stream_org,
        org_role=OrgRole.ADMIN,
    )
    return Principal.for_user(user)


def make_stream(organization: Any, receiver: Receiver, *, name: str = "siem", **fields: Any) -> AuditStream:
    """A webhook stream to *receiver* whose cursor starts after the newest event (as "start at the
    end" does), so a test sees only the events it writes."""
    stream = AuditStream(
        organization=organization,
        name=name,
        kind="webhook",
        config={"url": receiver.url},
        credential_names=["signing_secret"],
        cursor_event_id=AuditEvent.objects.aggregate(top=Max("id"))["top"] or 0,
        **fields,
    )
    stream.credentials_ciphertext = stream_seal_credentials(stream, {"signing_secret": receiver.secret})
    stream.save()
    return stream


def record(organization: Any, count: int, *, action: str = "secret.value_read") -> list[int]:
    """Write *count* events of *organization* (None: instance events) the way requests do."""
    organization_id = organization.pk if organization is not None else None
    return [
        audit_record(action=action, actor=SYSTEM_ACTOR, organization_id=organization_id, metadata={"n": n}).pk
        for n in range(count)
    ]


def seal() -> int:
    return audit_seal_pending(delay_seconds=0)


def org_events(organization: Any) -> list[int]:
    return list(AuditEvent.objects.filter(organization_id=organization.pk).order_by("id").values_list("id", flat=True))


def actions_of(organization: Any, prefix: str) -> list[str]:
    return list(
        AuditEvent.objects.filter(organization_id=organization.pk, action__startswith=prefix)
        .order_by("id")
        .values_list("action", flat=True)
    )


def deliver_until_caught_up(stream: AuditStream, *, rounds: int = 50) -> None:
    """Seal and deliver until the stream holds everything sealed (its own events included)."""
    for _ in range(rounds):
        seal()
        report = stream_deliver(stream_id=stream.pk, ignore_backoff=True)
        if report.outcome == DeliveryOutcome.CAUGHT_UP and report.delivered == 0:
            return
        assert report.outcome in (DeliveryOutcome.CAUGHT_UP, DeliveryOutcome.MORE), report
    raise AssertionError("the stream did not catch up")


# --- real Celery workers (PostgreSQL test database, Redis broker db 12) -----------------------------
STREAM_BROKER_URL = os.environ.get("STRONGROOM_TEST_STREAM_BROKER_URL", "redis://127.0.0.1:6379/12")


class StreamWorkers(WorkerPool):
    """Celery worker processes on a queue of this test's own; killable with SIGKILL, restartable.
    ``beat=True`` runs the real beat scheduler inside the worker (``-B``), its messages on the same queue."""

    log_prefix = "stream-worker"

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        from tests.support.celery_worker import require_postgres

        require_postgres("a real worker needs the PostgreSQL test database")
        _require_redis()
        queue = f"test-streams-{uuid.uuid4().hex[:12]}"
        super().__init__(
            tmp_path,
            queue,
            {
                "CELERY_BROKER_URL": STREAM_BROKER_URL,
                "CELERY_TASK_DEFAULT_QUEUE": queue,
                "STRONGROOM_AUDIT_STREAM_QUEUE": queue,
                "STRONGROOM_OUTBOUND_ALLOWED_HOSTS": "127.0.0.1",
                "CELERY_VISIBILITY_TIMEOUT": "5",
                "CELERY_UNACKED_RESTORE_INTERVAL": "1",
                **env,
            },
        )

    def send(self, task: str, *args: Any) -> None:
        from config.celery import app

        with app.connection_for_write(STREAM_BROKER_URL) as conn:
            app.send_task(task, args=list(args), queue=self.queue, connection=conn)


def _require_redis() -> None:
    host_port = STREAM_BROKER_URL.split("//", 1)[1].split("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port or 6379)), timeout=2).close()
    except OSError:
        if os.environ.get("CI") or os.environ.get("STRONGROOM_TEST_REQUIRE_SERVICES"):
            pytest.fail("Redis required for the real worker's broker")
        pytest.skip("no Redis for the real worker's broker")


@pytest.fixture
def stream_workers(tmp_path: Path) -> Iterator[Callable[..., StreamWorkers]]:
    made: list[StreamWorkers] = []

    def make(**env: str) -> StreamWorkers:
        workers = StreamWorkers(tmp_path, env)
        made.append(workers)
        return workers

    try:
        yield make
    finally:
        for workers in made:
            workers.stop_all()
