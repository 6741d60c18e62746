"""Canary sweep for rotation: the root password and every password a rotation generated appear
nowhere Strongroom writes — a ``pg_dump`` of its database (they are there sealed only), the web
process's log, the worker's log, every key of the broker's Redis database, the audit rows, the
attempt rows, the pending record, the admins' failure e-mail, the API responses and the rotation
pages' HTML — in any of the encodings ``tests/secrets_app/test_canary.py`` looks for, over a
rotation's life: created through the API with the root password, rotated by a real Celery worker,
an attempt that fails with the target down (its new password sealed in the pending record), and
"rotate now" pressed in the UI once the target is back (the same password rolled forward).

The target is the password-checking private PostgreSQL (``scram_pg``), reached through a port
that can go down and come back; the broker is a Redis server of this test's own, so every key in
it is this test's.

PYTEST_DONT_REWRITE: these assertions handle real passwords, so a failure reports the line, never the
values pytest's rewriting would print.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.dynamic.support import StoppablePort
from tests.rotation.conftest import RotationTarget, login, owned_values
from tests.support.canary import canaries_found, pg_dump, process_log, redis_dump, rows
from tests.support.celery_worker import WorkerPool, publish_to, require_postgres, wait_until
from tests.support.redis_server import private_redis_server

BASE = "/api/v1/projects/acme/rotations/"


def _attempts(rotation_id: str, outcome: str) -> int:
    from rotation.models import RotationAttempt

    return RotationAttempt.objects.filter(rotation__public_id=rotation_id, outcome=outcome).count()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
def test_no_root_or_generated_password_anywhere_strongroom_writes(
    cast: Any,
    allow_local: None,
    pg_rotation_target: RotationTarget,
    api: Any,
    tmp_path: Path,
    settings: Any,
) -> None:
    require_postgres("the sweep greps pg_dump and a real worker's log")
    from django.test import Client

    from audit.models import AuditEvent
    from config.celery import app
    from rotation.models import PendingRotation, RotationAttempt

    target = pg_rotation_target
    upstream = ("127.0.0.1", target.db.port)
    port = StoppablePort(*upstream)  # the target as Strongroom reaches it: can go down and come back
    queue = f"test-rotation-{uuid.uuid4().hex[:12]}"
    web_log = tmp_path / "web.log"
    responses: list[bytes] = []
    pages: list[bytes] = []
    broker_seen: list[bytes] = []
    previous_broker, previous_queue = app.conf.broker_url, app.conf.task_default_queue
    with private_redis_server(tmp_path) as (_, redis_port), process_log(web_log):
        broker = f"redis://127.0.0.1:{redis_port}/0"
        workers = WorkerPool(
            tmp_path,
            queue,
            {
                "CELERY_BROKER_URL": broker,
                "CELERY_TASK_DEFAULT_QUEUE": queue,
                "STRONGROOM_NOTIFICATIONS_QUEUE": queue,
                "STRONGROOM_ROTATION_MAX_ATTEMPTS": "1",  # the failure is final: the admins' e-mail
                "STRONGROOM_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
                "STRONGROOM_EMAIL_FILE_PATH": str(tmp_path / "mail"),
            },
        )
        publish_to(app, broker)
        app.conf.task_default_queue = queue  # "rotate now" from this process reaches the worker
        try:
            alice = api(cast.alice)
            body = {
                "environment": "dev",
                "path": "/",
                "name": "app-db",
                "kind": "postgresql",
                "config": {**target.db.config(), "port": port.port},
                "credentials": target.db.credentials(),
                "usernames": target.users,
                "secretsMapping": {"username": "DB_USERNAME", "password": "DB_PASSWORD"},
            }
            created = alice.post(BASE, body, format="json")
            assert created.status_code == 201, created.status_code
            rotation_id = created.json()["id"]
            one = f"{BASE}{rotation_id}/"
            queued = alice.post(f"{one}rotate/", {}, format="json")
            assert queued.status_code == 202, queued.status_code
            broker_seen.append(redis_dump(broker))  # the run's message, waiting for a worker
            responses += [created.content, queued.content]

            workers.start()
            wait_until(lambda: _attempts(rotation_id, "success") == 1, timeout=30)
            first = owned_values(cast)

            port.stop()  # the target is down
            responses.append(alice.post(f"{one}rotate/", {}, format="json").content)
            wait_until(lambda: _attempts(rotation_id, "failed") == 1, timeout=30)
            wait_until(lambda: list((tmp_path / "mail").glob("*")), timeout=30)  # the admins' alert
            pending = rows(PendingRotation.objects.values())  # the new password, sealed

            port = StoppablePort(*upstream, listen_port=port.port)  # back
            ui = Client()
            ui.force_login(cast.alice)
            page = f"/projects/acme/rotations/{rotation_id}/"
            pressed = ui.post(f"{page}rotate/", {"from": "detail"}, headers={"HX-Request": "true"})
            assert pressed.status_code == 200, pressed.status_code
            wait_until(lambda: _attempts(rotation_id, "success") == 2, timeout=30)
            second = owned_values(cast)
            broker_seen.append(redis_dump(broker))

            for url in (BASE, one, f"{one}attempts/"):
                responses.append(alice.get(url).content)
            pages.append(pressed.content)
            for url in ("/projects/acme/rotations/", page, f"{page}edit/"):
                pages.append(ui.get(url).content)
        finally:
            workers.stop_all()
            port.stop()
            publish_to(app, previous_broker)
            app.conf.task_default_queue = previous_queue
    worker_log = workers.log_text()

    assert second["DB_USERNAME"] == target.users[1] and login(target, second["DB_USERNAME"], second["DB_PASSWORD"])
    attempt_rows = rows(RotationAttempt.objects.values())
    assert b'"rolled_forward": true' in attempt_rows  # the failed attempt's password, applied by the UI's run
    canaries = {
        "root password": target.db.password,
        "generated password 1": first["DB_PASSWORD"],
        "generated password 2": second["DB_PASSWORD"],
        **{f"{user}'s initial password": password for user, password in target.passwords.items()},
    }
    dump = pg_dump()
    audit_rows = rows(AuditEvent.objects.values())
    places = {
        "pg_dump": dump,
        "web log": web_log.read_bytes(),
        "worker log": worker_log.encode(),
        "broker": b"\n".join(broker_seen),
        "audit rows": audit_rows,
        "attempt rows": attempt_rows,
        "pending record": pending,
        "e-mail": b"\n".join(path.read_bytes() for path in (tmp_path / "mail").glob("*")),
        "API responses": b"\n".join(responses),
        "pages": b"\n".join(pages),
    }
    # The sweep is real: each place holds what it should, just not a password.
    assert target.users[1].encode() in dump and b"rotation.failed" in audit_rows and b"rotation.rotated" in audit_rows
    assert b"rotation.tasks.rotation_run" in places["broker"] and b"password_ciphertext" in pending
    assert "rotation.tasks.rotation_run" in worker_log and b"failed" in places["e-mail"]
    assert b"app-db" in places["pages"] and b"rotated" in places["pages"] and b"app-db" in places["API responses"]
    assert canaries_found(canaries, places) == []
