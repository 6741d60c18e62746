"""/healthz and /readyz: what a load balancer or `docker compose` sees."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import OperationalError
from django.test import Client, override_settings
from kombu import Connection

from secrets_app import health
from secrets_app.keyring import keyring

pytestmark = pytest.mark.django_db


def _new_root_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def root_key() -> Iterator[str]:
    """A usable root key for this test, whatever the environment configured."""
    key = _new_root_key()
    keyring.reset()
    with override_settings(STRONGROOM_ROOT_KEY=key):
        yield key
    keyring.reset()


def test_it_answers_healthz_without_touching_dependencies(client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_it_reports_ready_with_the_configured_root_key(client: Client, root_key: str) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "ready",
        "database": "ok",
        "broker": "ok",
        "sealed": False,
        "sealedReason": None,
    }


def test_it_reports_sealed_when_the_root_key_does_not_match_the_database(client: Client, root_key: str) -> None:
    assert keyring.sealed_reason() is None  # writes the key check under the first root key
    keyring.reset()
    try:
        with override_settings(STRONGROOM_ROOT_KEY=_new_root_key()):
            response = client.get("/readyz")
    finally:
        keyring.reset()

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "sealed"
    assert body["sealed"] is True
    assert body["sealedReason"] == "the configured root key does not match this database"
    assert body["database"] == "ok"
    assert body["broker"] == "ok"


def test_it_reports_sealed_when_no_root_key_is_configured(client: Client, tmp_path: Path) -> None:
    keyring.reset()
    try:
        with override_settings(
            STRONGROOM_ROOT_KEY=None, STRONGROOM_EMBEDDED_ROOT_KEY_PATH=tmp_path / "does-not-exist.key"
        ):
            response = client.get("/readyz")
    finally:
        keyring.reset()

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "sealed"
    assert body["sealed"] is True
    assert body["sealedReason"] == "no root key is configured"


def test_it_reports_sealed_for_a_malformed_root_key(client: Client) -> None:
    keyring.reset()
    try:
        with override_settings(STRONGROOM_ROOT_KEY="not-a-key"):
            response = client.get("/readyz")
    finally:
        keyring.reset()

    assert response.status_code == 503
    assert response.json()["status"] == "sealed"
    assert "not-a-key" not in response.content.decode()


def test_it_reports_an_unreachable_broker_without_leaking_its_url(
    client: Client, monkeypatch: pytest.MonkeyPatch, root_key: str
) -> None:
    from config.celery import app

    url = "redis://:hunter2-broker-password@127.0.0.1:1/0"  # nothing listens on port 1
    monkeypatch.setattr(app, "connection_for_write", lambda: Connection(url, connect_timeout=1))

    with override_settings(CELERY_BROKER_URL=url):
        response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["broker"] == "error"
    assert body["database"] == "ok"
    assert "hunter2" not in response.content.decode()


def test_it_reports_an_unreachable_database_without_leaking_the_error(
    client: Client, monkeypatch: pytest.MonkeyPatch, root_key: str
) -> None:
    class DeadConnection:
        def ensure_connection(self) -> None:
            raise OperationalError('connection to "db" failed: password=hunter2-db-password')

    monkeypatch.setattr(health, "connection", DeadConnection())

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == "error"
    assert "hunter2" not in response.content.decode()


def test_it_keeps_health_reachable_while_sealed(client: Client, tmp_path: Path) -> None:
    keyring.reset()
    try:
        with override_settings(STRONGROOM_ROOT_KEY=None, STRONGROOM_EMBEDDED_ROOT_KEY_PATH=tmp_path / "none.key"):
            response = client.get("/healthz")
    finally:
        keyring.reset()

    assert response.status_code == 200
