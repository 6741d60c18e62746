"""Sync test fixtures: the Azure DevOps emulator (fresh port per test), a connection and a sync
for the cast's project, and running a sync in-process or through a real Celery worker.

``AZURE_DEVOPS_CACHE_DIR`` is set here, at import, before anything imports ``azure.devops``
(wire-protocols.md §1.3); worker processes get it through their environment.
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("AZURE_DEVOPS_CACHE_DIR", tempfile.mkdtemp(prefix="ado-cache-"))

from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from tests.emulators.azure_devops import AzureDevOpsEmulator  # noqa: E402

GOOD_PAT = "good-pat-0123456789"


@pytest.fixture(autouse=True)
def _sync_settings(settings: Any) -> None:
    settings.STRONGROOM_SYNC_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.STRONGROOM_SYNC_DEBOUNCE_SECONDS = 0
    settings.STRONGROOM_SYNC_RETRY_BASE_SECONDS = 1
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def ado() -> Iterator[AzureDevOpsEmulator]:
    with AzureDevOpsEmulator(pats=(GOOD_PAT,), tokens=("good-oauth-token",)) as emulator:
        yield emulator


def make_connection(cast: Any, ado: AzureDevOpsEmulator, *, token: str = GOOD_PAT, name: str = "ado") -> Any:
    from secrets_app.principals import Principal
    from syncs.services.connections import connection_create

    return connection_create(
        principal=Principal.for_user(cast.alice),
        organization=cast.organization,
        kind="azure_devops",
        method="pat",
        name=name,
        credentials={"token": token},
        config={"organization_url": ado.org_url},
    )


def make_sync(cast: Any, connection: Any, *, group: str = "app-secrets", **options: Any) -> Any:
    from syncs.services.syncs import sync_create

    defaults: dict[str, Any] = {
        "name": f"to-{group}",
        "environment": "dev",
        "path": "/",
        "destination": {"project": "proj1", "group_name": group},
        "confirm_overwrite": True,
    }
    defaults.update(options)
    return sync_create(scope=cast.scope(cast.alice), connection=connection, **defaults)


def run_now(sync: Any) -> Any:
    """Run one attempt in this process, whatever its schedule (the worker's job, minus Celery)."""
    from django.utils import timezone

    from syncs.models import SecretSync, SyncStatus
    from syncs.services.runs import sync_run_execute

    SecretSync.objects.filter(pk=sync.pk).exclude(status=SyncStatus.RUNNING).update(
        status=SyncStatus.QUEUED, next_attempt_at=timezone.now()
    )
    outcome = sync_run_execute(sync_id=sync.pk)
    sync.refresh_from_db()
    return outcome


def put_secret(cast: Any, key: str, value: str, *, environment: str = "dev", path: str = "/") -> None:
    from secrets_app.services.secrets import SecretInput, secret_bulk_upsert

    secret_bulk_upsert(
        scope=cast.scope(cast.alice), environment=environment, path=path, items=[SecretInput(key=key, value=value)]
    )


def delete_secret(cast: Any, key: str, *, environment: str = "dev", path: str = "/") -> None:
    from secrets_app.services.secrets import secret_delete

    secret_delete(scope=cast.scope(cast.alice), environment=environment, path=path, key=key)
