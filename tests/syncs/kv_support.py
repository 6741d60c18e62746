"""Key Vault test helpers: the HTTPS emulator (fresh port and certificate per test), a Key Vault
connection pointed at it (authority and vault on the emulator), and a sync to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.emulators.azure_key_vault import KeyVaultEmulator

TENANT = "tenant-1"
CLIENT_ID = "client-1"
CLIENT_SECRET = "client-secret-1"


@pytest.fixture(name="kv")
def kv_fixture(settings: Any) -> Iterator[KeyVaultEmulator]:
    with KeyVaultEmulator(tenant_id=TENANT, clients={CLIENT_ID: CLIENT_SECRET}) as emulator:
        settings.STRONGROOM_SYNC_CA_BUNDLE = emulator.ca_file
        yield emulator


def make_kv_connection(cast: Any, kv: KeyVaultEmulator, *, secret: str = CLIENT_SECRET, name: str = "kv") -> Any:
    from secrets_app.principals import Principal
    from syncs.services.connections import connection_create

    return connection_create(
        principal=Principal.for_user(cast.alice),
        organization=cast.organization,
        kind="azure_key_vault",
        method="client_secret",
        name=name,
        credentials={"client_secret": secret},
        config={"tenant_id": TENANT, "client_id": CLIENT_ID, "authority_host": kv.authority},
    )


def make_kv_sync(cast: Any, connection: Any, kv: KeyVaultEmulator, **options: Any) -> Any:
    from syncs.services.syncs import sync_create

    defaults: dict[str, Any] = {
        "name": "to-vault",
        "environment": "dev",
        "path": "/",
        "destination": {"vault_url": kv.vault_url},
        "confirm_overwrite": True,
    }
    defaults.update(options)
    return sync_create(scope=cast.scope(cast.alice), connection=connection, **defaults)
