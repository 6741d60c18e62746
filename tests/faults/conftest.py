"""Fault-test fixtures: a private PostgreSQL cluster and Redis per test session (the machine's
shared servers are never stopped), a migrated template database, and per-test ``Stack``s.

Missing ``initdb``/``redis-server`` skips these tests on a newcomer's machine; with ``CI=true``
(or ``STRONGROOM_TEST_REQUIRE_SERVICES=1``) it fails them, like scripts/run_tests.py does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.emulators.azure_devops import AzureDevOpsEmulator
from tests.faults.services import ROOT, TEMPLATE_DB, PrivatePostgres, PrivateRedis, ServiceUnavailable, Stack

GOOD_PAT = "good-pat-0123456789"

# Timings shortened through the processes' environment so faults resolve in seconds, not minutes.
FAST_RECOVERY_ENV = {
    "STRONGROOM_SYNC_ALLOWED_HOSTS": "127.0.0.1",
    "STRONGROOM_SYNC_DEBOUNCE_SECONDS": "0",
    "STRONGROOM_SYNC_RETRY_BASE_SECONDS": "1",
    "STRONGROOM_SYNC_HEARTBEAT_STALE_SECONDS": "3",
    "STRONGROOM_SYNC_LOCK_TTL_SECONDS": "4",
    "CELERY_VISIBILITY_TIMEOUT": "5",
    "CELERY_UNACKED_RESTORE_INTERVAL": "1",
    "STRONGROOM_AUDIT_SEAL_DELAY_SECONDS": "0",
}


def _unavailable(reason: str) -> None:
    truthy = {"1", "true", "yes", "on"}
    if (os.environ.get("CI") or "").lower() in truthy or (
        os.environ.get("STRONGROOM_TEST_REQUIRE_SERVICES") or ""
    ).lower() in truthy:
        pytest.fail(f"fault tests need private servers in CI: {reason}", pytrace=False)
    pytest.skip(f"fault tests need private servers: {reason}")


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    try:
        postgres = PrivatePostgres()
    except ServiceUnavailable as exc:
        _unavailable(str(exc))
    try:
        postgres.start()
        postgres.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("STRONGROOM_", "DJANGO_"))},
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": postgres.url(TEMPLATE_DB),
            "STRONGROOM_DATA_DIR": str(postgres.root / "migrate-data"),
            "STRONGROOM_SECRET_KEY": "faults-template-only-" + "x" * 32,
        }
        env.pop("REDIS_URL", None)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=180
        )
        yield postgres
    finally:
        postgres.close()


@pytest.fixture(scope="session")
def private_redis() -> Iterator[PrivateRedis]:
    try:
        redis = PrivateRedis()
    except ServiceUnavailable as exc:
        _unavailable(str(exc))
    try:
        redis.start()
        yield redis
    finally:
        redis.close()


@pytest.fixture
def make_stack(
    private_postgres: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path
) -> Iterator[Callable[..., Stack]]:
    stacks: list[Stack] = []

    def make(**extra_env: str) -> Stack:
        if not private_redis.answers():  # a previous test left it down
            private_redis.start()
        stack = Stack(private_postgres, private_redis, tmp_path, {**FAST_RECOVERY_ENV, **extra_env})
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.close()


@pytest.fixture
def ado() -> Iterator[AzureDevOpsEmulator]:
    with AzureDevOpsEmulator(pats=(GOOD_PAT,)) as emulator:
        yield emulator


SEED = """
from secrets_app.principals import Principal
from secrets_app.selectors.access import project_scope_for
from secrets_app.services.bootstrap import bootstrap
from secrets_app.services.projects import project_create
from secrets_app.services.secrets import SecretInput, secret_bulk_upsert
from secrets_app.services.personal_tokens import personal_token_create
boot = bootstrap(admin_email="alice@example.com")
principal = Principal.for_user(boot.admin)
project = project_create(principal=principal, organization=boot.organization, slug="acme", name="Acme")
scope = project_scope_for(principal, project)
items = [SecretInput(key=k, value=v) for k, v in SECRETS.items()]
for start in range(0, len(items), 1000):
    secret_bulk_upsert(scope=scope, environment="dev", path="/", items=items[start : start + 1000])
result = {"token": personal_token_create(user=boot.admin, name="faults")[1], "project_id": project.pk}
"""


def seed(stack: Stack, secrets: dict[str, str]) -> dict[str, Any]:
    """alice (first admin) owns project ``acme`` holding *secrets* in dev at ``/``; returns her
    API token and the project id."""
    return dict(stack.django(f"SECRETS = {secrets!r}\n" + SEED))


ADD_SYNC = """
from django.contrib.auth import get_user_model
from secrets_app.models import Project
from secrets_app.principals import Principal
from secrets_app.selectors.access import project_scope_for
from syncs.services.connections import connection_create
from syncs.services.syncs import sync_create
project = Project.objects.get(slug="acme")
admin = get_user_model().objects.get(email="alice@example.com")
principal = Principal.for_user(admin)
connection = connection_create(
    principal=principal, organization=project.organization, kind="azure_devops", method="pat", name="ado",
    credentials={"token": PAT}, config={"organization_url": ORG_URL},
)
sync = sync_create(
    scope=project_scope_for(principal, project), connection=connection, name="to-app-secrets", environment="dev",
    path="/", destination={"project": "proj1", "group_name": "app-secrets"}, confirm_overwrite=True,
)
result = {"sync_id": sync.pk, "public_id": str(sync.public_id)}
"""


def add_sync(stack: Stack, ado: AzureDevOpsEmulator) -> dict[str, Any]:
    """A sync of acme/dev/``/`` to the emulator's variable group ``app-secrets`` (queued at once)."""
    return dict(stack.django(f"PAT = {GOOD_PAT!r}\nORG_URL = {ado.org_url!r}\n" + ADD_SYNC))


SOURCE = """
from django.contrib.auth import get_user_model
from secrets_app.models import Project
from secrets_app.principals import Principal
from secrets_app.selectors.access import project_scope_for
from secrets_app.selectors.secrets import secret_list
project = Project.objects.get(slug="acme")
scope = project_scope_for(Principal.for_user(get_user_model().objects.get(email="alice@example.com")), project)
listing = secret_list(scope, environment="dev", path="/", include_values=True)
result = {view.key: view.value for view in listing.secrets}
"""


def source_values(stack: Stack) -> dict[str, str]:
    """acme/dev/``/`` as alice reads it (decrypted: proves every ciphertext opens)."""
    return dict(stack.django(SOURCE))
