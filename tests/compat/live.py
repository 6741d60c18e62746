"""Seed data shared by the live-server client tests (official SDKs, the operator's sequence)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from secrets_app.services.folders import folder_create, import_create
from secrets_app.services.secrets import SecretInput, secret_create
from tests.compat.conftest import BASE, make_machine


def seed(cast: Any) -> None:
    """prod:/backend/api holds DATABASE_URL (the Azure DevOps guide's example); dev has a reference,
    and dev:/ imports dev:/common."""
    scope = cast.scope(cast.alice)
    folder_create(scope=scope, environment="prod", path="/", name="backend")
    folder_create(scope=scope, environment="prod", path="/backend", name="api")
    secret_create(
        scope=scope,
        environment="prod",
        path="/backend/api",
        item=SecretInput(key="DATABASE_URL", value="postgres://app@db.prod:5432/app"),
    )
    secret_create(scope=scope, environment="dev", path="/", item=SecretInput(key="HOST", value="dev.internal"))
    secret_create(scope=scope, environment="dev", path="/", item=SecretInput(key="URL", value="https://${HOST}/x"))
    folder_create(scope=scope, environment="dev", path="/", name="common")
    secret_create(scope=scope, environment="dev", path="/common", item=SecretInput(key="COMMON", value="c0mmon"))
    import_create(scope=scope, environment="dev", path="/", source_environment="dev", source_path="/common")


@pytest.fixture
def live(transactional_db: None, live_server: Any) -> Iterator[Any]:
    """(site_url, cast, machine) against a live server; the machine is a project member."""
    from tests.conftest import build_cast

    cast = build_cast()
    seed(cast)
    machine = make_machine(cast.project, "ci-pipeline", "member")
    yield live_server.url + BASE, cast, machine
    # Let the server's request threads finish closing their (shared, in-memory SQLite) connection
    # before the server stops sharing it.
    time.sleep(0.3)
