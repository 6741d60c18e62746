"""A Key Vault sync executed by a real Celery worker process (PostgreSQL test database + Redis
broker). The worker trusts the emulator's self-signed certificate through ``REQUESTS_CA_BUNDLE``
(requests merges it when ``connection_verify`` is left at True: wire-protocols.md §2.1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.celery_worker import require_postgres, wait_until
from tests.syncs.conftest import delete_secret, put_secret
from tests.syncs.kv_support import kv_fixture, make_kv_connection, make_kv_sync  # noqa: F401  (the kv fixture)
from tests.syncs.workers import sync_workers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def wcast() -> Any:
    require_postgres("sync workers need the PostgreSQL test database")
    from tests.conftest import build_cast

    return build_cast()


def test_create_update_delete_reach_key_vault_through_a_worker(
    wcast: Any,
    kv: Any,
    tmp_path: Path,
    settings: Any,
) -> None:
    put_secret(wcast, "DB_PASSWORD", "v1")
    kv.seed("FOREIGN", "keep-me")
    with sync_workers(tmp_path, settings, {"REQUESTS_CA_BUNDLE": kv.ca_file}) as workers:
        workers.start()
        sync = make_kv_sync(wcast, make_kv_connection(wcast, kv), kv)
        wait_until(lambda: kv.values() == {"FOREIGN": "keep-me", "DB-PASSWORD": "v1"})

        put_secret(wcast, "DB_PASSWORD", "v2")
        put_secret(wcast, "API_KEY", "k")
        wait_until(lambda: kv.values() == {"FOREIGN": "keep-me", "DB-PASSWORD": "v2", "API-KEY": "k"})

        delete_secret(wcast, "DB_PASSWORD")  # disabled by default, not deleted
        wait_until(lambda: kv.values() == {"FOREIGN": "keep-me", "API-KEY": "k"})
        wait_until(lambda: (sync.refresh_from_db(), sync.status)[1] == "succeeded")
    assert kv.values(include_disabled=True)["DB-PASSWORD"] == "v2"
    assert sync.last_success_at and sync.last_error == ""
