"""Canary sweeps for rotation: no password or secret a rotation handles appears anywhere Strongroom
writes — a ``pg_dump`` of its database (they are there sealed only), the web process's log, the
worker's log, every key of the broker's Redis database, the audit rows, the attempt rows, the
pending record, the admins' failure e-mail, the API responses and the rotation pages' HTML — in any
of the encodings ``tests/secrets_app/test_canary.py`` looks for, over a rotation's life: created
through the API with its root secret, rotated by a real Celery worker, an attempt that fails with
the target down, and "rotate now" pressed in the UI once the target is back.

- A PostgreSQL rotation (the password-checking private ``scram_pg``): the root password, the users'
  initial passwords and every generated one; the failed attempt's new password is sealed in the
  pending record and rolled forward by the UI's run.
- The kinds whose target issues the credential — AWS IAM access keys (moto) and Entra application
  client secrets (the local Entra/Graph emulator): the root secret (the rotator's secret access key,
  the admin application's client secret) and both issued secrets.

Each target is reached through a port that can go down and come back; the broker is a Redis server
of the test's own, so every key in it is the test's.

PYTEST_DONT_REWRITE: these assertions handle real passwords, so a failure reports the line, never the
values pytest's rewriting would print.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


@contextmanager
def _worker_on_private_broker(tmp_path: Path) -> Iterator[tuple[str, WorkerPool]]:
    """(broker URL, a worker pool not started yet) on a Redis server of the test's own and a fresh
    queue, with this process publishing there ("rotate now" reaches the worker). A run's failure is
    final at once and its e-mail lands in ``tmp_path / "mail"``. Workers stopped and this process's
    broker restored afterwards."""
    from config.celery import app

    queue = f"test-rotation-{uuid.uuid4().hex[:12]}"
    previous_broker, previous_queue = app.conf.broker_url, app.conf.task_default_queue
    with private_redis_server(tmp_path) as (_, redis_port):
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
        app.conf.task_default_queue = queue
        try:
            yield broker, workers
        finally:
            workers.stop_all()
            publish_to(app, previous_broker)
            app.conf.task_default_queue = previous_queue


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
    from rotation.models import PendingRotation, RotationAttempt

    target = pg_rotation_target
    upstream = ("127.0.0.1", target.db.port)
    port = StoppablePort(*upstream)  # the target as Strongroom reaches it: can go down and come back
    web_log = tmp_path / "web.log"
    responses: list[bytes] = []
    pages: list[bytes] = []
    broker_seen: list[bytes] = []
    with process_log(web_log), _worker_on_private_broker(tmp_path) as (broker, workers):
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
            port.stop()
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


# --- kinds whose target issues the credential ------------------------------------------------------


@dataclass
class IssuingTarget:
    """A target that issues the credential, reached through ``port`` (which can go down and come
    back), and the rotation the API creates for it."""

    body: dict[str, Any] = field(repr=False)  # kind, config, credentials, usernames, secretsMapping
    root_secret: str = field(repr=False)
    secret: str  # the owned secret that receives each issued secret
    port: StoppablePort
    accepts: Callable[[dict[str, str]], bool]  # the target takes the owned values (asked directly)


def _aws_target(request: pytest.FixtureRequest) -> IssuingTarget:
    moto = request.getfixturevalue("moto")
    root_key: tuple[str, str] = request.getfixturevalue("root_key")
    user: str = request.getfixturevalue("app_user")
    port = StoppablePort("127.0.0.1", int(urlsplit(moto.url).port or 0))

    def accepts(values: dict[str, str]) -> bool:
        key, secret = values["AWS_ACCESS_KEY_ID"], values["AWS_SECRET_ACCESS_KEY"]
        arn = moto.client("sts", key, secret).get_caller_identity()["Arn"]
        return str(arn).endswith(f":user/{user}")

    body = {
        "kind": "aws_iam_access_key",
        "config": {"region": "us-east-1", "endpointUrl": f"http://127.0.0.1:{port.port}"},
        "credentials": {"accessKey": root_key[0], "secretAccessKey": root_key[1]},
        "usernames": [user],
        "secretsMapping": {"key_id": "AWS_ACCESS_KEY_ID", "secret": "AWS_SECRET_ACCESS_KEY"},
    }
    return IssuingTarget(body, root_key[1], "AWS_SECRET_ACCESS_KEY", port, accepts)


def _entra_target(request: pytest.FixtureRequest) -> IssuingTarget:
    from tests.emulators.entra_graph import EntraGraphEmulator
    from tests.rotation.test_azure_client_secret import make_scene

    entra = EntraGraphEmulator()
    request.addfinalizer(entra.stop)
    # Its self-signed CA trusted as production trusts a private CA; the worker inherits it.
    request.getfixturevalue("monkeypatch").setenv("REQUESTS_CA_BUNDLE", entra.ca_file)
    scene = make_scene(entra)
    port = StoppablePort("127.0.0.1", int(urlsplit(entra.url).port or 0))
    url = f"https://127.0.0.1:{port.port}"  # the token endpoint and Graph, both behind the port
    body = {
        "kind": "azure_client_secret",
        "config": scene.config(authorityUrl=url, graphUrl=url),
        "credentials": {"adminClientSecret": scene.admin_secret},
        "usernames": [scene.app.id],
        "secretsMapping": {"client_id": "AZURE_CLIENT_ID", "client_secret": "AZURE_CLIENT_SECRET"},
    }
    return IssuingTarget(
        body,
        scene.admin_secret,
        "AZURE_CLIENT_SECRET",
        port,
        lambda values: scene.signs_in(values["AZURE_CLIENT_SECRET"]),
    )


def _owned(cast: Any, mapping: dict[str, str]) -> dict[str, str]:
    from secrets_app.selectors.secrets import secret_list

    result = secret_list(cast.scope(cast.alice), environment="dev", path="/", include_values=True)
    return {view.key: str(view.value) for view in result.secrets if view.key in mapping.values()}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
@pytest.mark.parametrize(
    "issuing_target", [_aws_target, _entra_target], ids=["aws_iam_access_key", "azure_client_secret"]
)
def test_no_root_or_issued_secret_anywhere_strongroom_writes(
    cast: Any,
    allow_local: None,
    api: Any,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    issuing_target: Callable[[pytest.FixtureRequest], IssuingTarget],
) -> None:
    require_postgres("the sweep greps pg_dump and a real worker's log")
    from django.test import Client

    from audit.models import AuditEvent
    from rotation.models import PendingRotation, Rotation, RotationAttempt

    target = issuing_target(request)
    port = target.port
    mapping = target.body["secretsMapping"]
    web_log = tmp_path / "web.log"
    responses: list[bytes] = []
    pages: list[bytes] = []
    broker_seen: list[bytes] = []
    with process_log(web_log), _worker_on_private_broker(tmp_path) as (broker, workers):
        try:
            alice = api(cast.alice)
            body = {"environment": "dev", "path": "/", "name": "issued-app", **target.body}
            created = alice.post(BASE, body, format="json")  # the root secret checked live on save
            assert created.status_code == 201, created.status_code
            rotation_id = created.json()["id"]
            one = f"{BASE}{rotation_id}/"
            queued = alice.post(f"{one}rotate/", {}, format="json")
            assert queued.status_code == 202, queued.status_code
            broker_seen.append(redis_dump(broker))  # the run's message, waiting for a worker
            responses += [created.content, queued.content]

            workers.start()
            wait_until(lambda: _attempts(rotation_id, "success") == 1, timeout=30)
            first = _owned(cast, mapping)

            port.stop()  # the target is down: nothing issued, the run's intent left pending
            responses.append(alice.post(f"{one}rotate/", {}, format="json").content)
            wait_until(lambda: _attempts(rotation_id, "failed") == 1, timeout=30)
            wait_until(lambda: list((tmp_path / "mail").glob("*")), timeout=30)  # the admins' alert
            pending = rows(PendingRotation.objects.values())

            port = StoppablePort(*port.upstream, listen_port=port.port)  # back
            ui = Client()
            ui.force_login(cast.alice)
            page = f"/projects/acme/rotations/{rotation_id}/"
            pressed = ui.post(f"{page}rotate/", {"from": "detail"}, headers={"HX-Request": "true"})
            assert pressed.status_code == 200, pressed.status_code
            wait_until(lambda: _attempts(rotation_id, "success") == 2, timeout=30)
            second = _owned(cast, mapping)
            broker_seen.append(redis_dump(broker))

            for url in (BASE, one, f"{one}attempts/"):
                responses.append(alice.get(url).content)
            pages.append(pressed.content)
            for url in ("/projects/acme/rotations/", page, f"{page}edit/"):
                pages.append(ui.get(url).content)
        finally:
            port.stop()
    worker_log = workers.log_text()

    issued_keys = Rotation.objects.get(public_id=rotation_id).issued_keys
    active, previous = issued_keys["active"].encode(), issued_keys["previous"].encode()
    assert second[target.secret] != first[target.secret] and target.accepts(second) and target.accepts(first)
    canaries = {
        "root secret": target.root_secret,
        "issued secret 1": first[target.secret],
        "issued secret 2": second[target.secret],
    }
    dump = pg_dump()
    audit_rows = rows(AuditEvent.objects.values())
    attempt_rows = rows(RotationAttempt.objects.values())
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
    # The sweep is real: each place holds what it should, just not a secret.
    assert active in dump and previous in dump and b"issued-app" in dump
    assert b"rotation.failed" in audit_rows and active in audit_rows and previous in audit_rows
    assert b'"outcome": "failed"' in attempt_rows and b'"outcome": "success"' in attempt_rows
    assert b"rotation.tasks.rotation_run" in places["broker"] and b'"key_id": ""' in pending  # an intent only
    assert places["web log"]  # this process's records were caught (Celery's, redis-py's: none of ours on success)
    assert "rotation.tasks.rotation_run" in worker_log and f"rotation {rotation_id} failed" in worker_log
    assert b"failed" in places["e-mail"] and b"issued-app" in places["e-mail"]
    assert active in places["pages"] and b"rotated" in places["pages"] and active in places["API responses"]
    assert canaries_found(canaries, places) == []
