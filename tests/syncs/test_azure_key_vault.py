"""The reconcile loop in-process against the Key Vault emulator over HTTPS, driven by the real
``azure-keyvault-secrets`` + ``azure-identity`` clients (no worker: SQLite-friendly)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.syncs.conftest import delete_secret, put_secret, run_now
from tests.syncs.kv_support import kv_fixture, make_kv_connection, make_kv_sync  # noqa: F401  (the kv fixture)

pytestmark = pytest.mark.django_db


def test_create_update_and_removal_reach_the_vault_with_tags(cast: Any, kv: Any) -> None:
    put_secret(cast, "DB_PASSWORD", "s3cr3t")
    put_secret(cast, "API_KEY", "k-1")
    sync = make_kv_sync(cast, make_kv_connection(cast, kv), kv)

    assert run_now(sync).status == "succeeded", sync.last_error
    assert kv.values() == {"API-KEY": "k-1", "DB-PASSWORD": "s3cr3t"}
    tags = kv.get("DB-PASSWORD").current.tags
    assert tags == {"managed-by": "strongroom", "strongroom-sync": str(sync.pk)}
    # The SDK went through the challenge and the local Entra token endpoint.
    paths = [request.path for request in kv.requests]
    assert "/tenant-1/oauth2/v2.0/token" in paths
    assert any(request.status == 401 for request in kv.requests)

    put_secret(cast, "API_KEY", "k-2")
    delete_secret(cast, "DB_PASSWORD")
    assert run_now(sync).status == "succeeded", sync.last_error

    assert kv.values() == {"API-KEY": "k-2"}
    # Removed by default = disabled (still there, still ours, value kept).
    assert kv.values(include_disabled=True) == {"API-KEY": "k-2", "DB-PASSWORD": "s3cr3t"}
    assert not kv.get("DB-PASSWORD").current.enabled
    assert sync.managed_keys.get(name="DB-PASSWORD").disabled

    put_secret(cast, "DB_PASSWORD", "back")  # a key that comes back is re-enabled with its new value
    assert run_now(sync).status == "succeeded", sync.last_error
    assert kv.values() == {"API-KEY": "k-2", "DB-PASSWORD": "back"}


def test_removal_by_deletion_when_asked(cast: Any, kv: Any) -> None:
    put_secret(cast, "A", "1")
    sync = make_kv_sync(cast, make_kv_connection(cast, kv), kv, provider_options={"removal": "delete"})
    run_now(sync)
    delete_secret(cast, "A")

    assert run_now(sync).status == "succeeded", sync.last_error

    assert kv.get("A").deleted_at is not None and kv.values() == {}
    assert not sync.managed_keys.exists()


def test_unmanaged_secrets_survive_every_run(cast: Any, kv: Any) -> None:
    kv.seed("FOREIGN", "theirs")
    kv.seed("FOREIGN-TAGGED", "theirs-too", tags={"owner": "ops"})
    put_secret(cast, "MINE", "1")
    sync = make_kv_sync(cast, make_kv_connection(cast, kv), kv, provider_options={"removal": "delete"})
    run_now(sync)
    put_secret(cast, "MINE", "2")
    run_now(sync)
    delete_secret(cast, "MINE")
    run_now(sync)

    assert kv.values() == {"FOREIGN": "theirs", "FOREIGN-TAGGED": "theirs-too"}
    assert kv.get("FOREIGN").current.tags == {} and len(kv.get("FOREIGN").versions) == 1
    touched = {request.path.split("/")[2] for request in kv.writes()}
    assert touched == {"MINE"}


def test_a_soft_deleted_secret_is_recovered_then_written(cast: Any, kv: Any) -> None:
    kv.seed("DB-URL", "old", deleted=True)
    put_secret(cast, "DB_URL", "new")
    sync = make_kv_sync(cast, make_kv_connection(cast, kv), kv)

    assert run_now(sync).status == "succeeded", sync.last_error

    assert kv.values() == {"DB-URL": "new"}
    writes = [(request.method, request.path) for request in kv.writes()]
    assert writes[0] == ("POST", "/deletedsecrets/DB-URL/recover")
    assert writes[-1] == ("PUT", "/secrets/DB-URL")


def test_a_secret_deleted_after_our_read_is_recovered_on_409(cast: Any, kv: Any) -> None:
    put_secret(cast, "A", "1")
    sync = make_kv_sync(cast, make_kv_connection(cast, kv), kv)
    run_now(sync)
    put_secret(cast, "A", "2")
    from syncs.providers.azure_key_vault import provider as module

    original = module.AzureKeyVaultProvider.read_remote

    def read_then_someone_deletes(self: Any, ctx: Any) -> Any:
        remote = original(self, ctx)
        kv.get("A").deleted_at = 1
        return remote

    module.AzureKeyVaultProvider.read_remote = read_then_someone_deletes  # type: ignore[method-assign]
    try:
        assert run_now(sync).status == "succeeded", sync.last_error
    finally:
        module.AzureKeyVaultProvider.read_remote = original  # type: ignore[method-assign]
    assert kv.values() == {"A": "2"}


def test_the_a_b_collision_is_reported_and_nothing_is_written(cast: Any, kv: Any) -> None:
    put_secret(cast, "A_B", "1")
    put_secret(cast, "A-B", "2")
    put_secret(cast, "OTHER", "3")
    sync = make_kv_sync(cast, make_kv_connection(cast, kv), kv)

    outcome = run_now(sync)

    assert outcome.status == "failed"
    assert "both map to the destination name A-B" in sync.last_error
    assert kv.writes() == [] and kv.values() == {}
    assert not sync.managed_keys.exists()


def test_a_run_with_nothing_to_change_writes_nothing(cast: Any, kv: Any) -> None:
    put_secret(cast, "A", "1")
    sync = make_kv_sync(cast, make_kv_connection(cast, kv), kv)
    run_now(sync)
    writes = len(kv.writes())

    assert run_now(sync).status == "succeeded"
    assert len(kv.writes()) == writes


def _drift(sync: Any) -> dict[str, str]:
    from syncs.services.drift import sync_drift_check

    return {entry.name: entry.kind for entry in sync_drift_check(sync_id=sync.pk)}


def test_a_value_edited_in_the_vault_is_drift_then_overwritten(cast: Any, kv: Any) -> None:
    put_secret(cast, "A", "1")
    put_secret(cast, "B", "2")
    sync = make_kv_sync(cast, make_kv_connection(cast, kv), kv)
    run_now(sync)
    assert _drift(sync) == {}
    kv.edit("A", "edited")
    kv.seed("NEW-ONE", "x")

    assert _drift(sync) == {"A": "changed", "NEW-ONE": "unmanaged"}
    assert run_now(sync).status == "succeeded"  # the readable value differs: rewritten

    assert kv.values() == {"A": "1", "B": "2", "NEW-ONE": "x"}
    assert _drift(sync) == {"NEW-ONE": "unmanaged"}


def test_a_value_edited_in_the_vault_can_be_adopted(cast: Any, kv: Any) -> None:
    from secrets_app.selectors.secrets import secret_get
    from syncs.services.drift import sync_drift_adopt

    put_secret(cast, "A", "1")
    sync = make_kv_sync(cast, make_kv_connection(cast, kv), kv)
    run_now(sync)
    kv.edit("A", "edited-in-vault")
    assert _drift(sync) == {"A": "changed"}

    sync_drift_adopt(scope=cast.scope(cast.alice), sync=sync, name="A")

    assert secret_get(cast.scope(cast.alice), environment="dev", path="/", key="A").value == "edited-in-vault"
    run_now(sync)
    assert kv.values() == {"A": "edited-in-vault"}


def test_removing_the_sync_deletes_only_its_tagged_secrets(cast: Any, kv: Any) -> None:
    from syncs.services.syncs import sync_delete

    kv.seed("FOREIGN", "theirs")
    put_secret(cast, "A", "1")
    put_secret(cast, "B", "2")
    sync = make_kv_sync(cast, make_kv_connection(cast, kv), kv)
    run_now(sync)
    kv.get("B").current.tags = {}  # somebody stripped our tag: no longer provably ours

    sync_delete(scope=cast.scope(cast.alice), sync=sync, remove_managed=True)

    assert kv.values() == {"FOREIGN": "theirs", "B": "2"}
    assert kv.get("A").deleted_at is not None


def test_removing_the_sync_reports_an_untagged_secret_as_a_warning_not_as_removed(cast: Any, kv: Any, api: Any) -> None:
    from audit.models import AuditEvent

    put_secret(cast, "A", "1")
    put_secret(cast, "B", "2")
    sync = make_kv_sync(cast, make_kv_connection(cast, kv), kv)
    run_now(sync)
    kv.get("B").current.tags = {}  # untagged by hand: left alone, and said so

    answer = api(cast.alice).delete(f"/api/v1/projects/acme/syncs/{sync.public_id}/?removeManaged=true")

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["removed"] == ["A"] and body["left"] == ["B"]
    assert [warning["name"] for warning in body["warnings"]] == ["B"]
    assert "managed-by=strongroom" in body["warnings"][0]["message"]
    event = AuditEvent.objects.get(action="sync.deleted")
    assert event.metadata["removed"] == ["A"] and event.metadata["left"] == ["B"]
    assert [warning["name"] for warning in event.metadata["warnings"]] == ["B"]
    assert kv.values() == {"B": "2"}


def test_a_bad_client_secret_fails_at_once_without_retry(cast: Any, kv: Any) -> None:
    put_secret(cast, "A", "1")
    sync = make_kv_sync(cast, make_kv_connection(cast, kv, secret="wrong"), kv)

    outcome = run_now(sync)

    assert outcome.status == "failed" and sync.status == "failed"
    assert "refused the credentials" in sync.last_error and "wrong" not in sync.last_error
    assert kv.values() == {}


def test_a_429_is_retried_no_sooner_than_retry_after(cast: Any, kv: Any) -> None:
    put_secret(cast, "A", "1")
    sync = make_kv_sync(cast, make_kv_connection(cast, kv), kv)
    kv.fail_next(429, retry_after=7, method="PUT")

    outcome = run_now(sync)

    assert outcome.status == "retrying" and outcome.retry_in >= 7, sync.last_error
    assert "429" in sync.last_error
    assert run_now(sync).status == "succeeded"
    assert kv.values() == {"A": "1"}


def test_the_connection_test_reaches_the_vault(cast: Any, kv: Any) -> None:
    from syncs.providers.registry import provider_for
    from syncs.services.connections import connection_info

    connection = make_kv_connection(cast, kv)
    connection.config = {**connection.config, "vault_url": kv.vault_url}
    connection.save()
    assert provider_for("azure_key_vault").test_connection(connection_info(connection)).startswith("reached")
