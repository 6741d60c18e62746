"""The reconcile loop in-process against the Azure DevOps emulator (no worker: SQLite-friendly)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.syncs.conftest import delete_secret, make_connection, make_sync, put_secret, run_now

pytestmark = pytest.mark.django_db


def test_it_creates_the_group_and_writes_every_secret_as_a_secret_variable(cast: Any, ado: Any) -> None:
    put_secret(cast, "DB_PASSWORD", "s3cr3t")
    put_secret(cast, "API_KEY", "k-1")
    sync = make_sync(cast, make_connection(cast, ado))

    assert run_now(sync).status == "succeeded"

    assert ado.values("app-secrets") == {"API_KEY": "k-1", "DB_PASSWORD": "s3cr3t"}
    group = ado.group_by_name("app-secrets")
    assert all(variable.is_secret for variable in group.variables.values())
    assert sync.status == "succeeded" and sync.created_container and sync.last_success_at
    assert sync.managed_keys.count() == 2
    # Only digests are stored: never a value.
    assert all("s3cr3t" not in row.digest for row in sync.managed_keys.all())


def test_it_updates_changed_values_and_removes_deleted_keys_it_manages(cast: Any, ado: Any) -> None:
    put_secret(cast, "A", "1")
    put_secret(cast, "B", "2")
    sync = make_sync(cast, make_connection(cast, ado))
    run_now(sync)
    put_secret(cast, "A", "1-new")
    delete_secret(cast, "B")
    put_secret(cast, "C", "3")

    run_now(sync)

    assert ado.values("app-secrets") == {"A": "1-new", "C": "3"}
    assert sorted(sync.managed_keys.values_list("name", flat=True)) == ["A", "C"]


def test_it_keeps_removed_keys_when_told_to(cast: Any, ado: Any) -> None:
    put_secret(cast, "A", "1")
    sync = make_sync(cast, make_connection(cast, ado), delete_on_source_removal=False)
    run_now(sync)
    delete_secret(cast, "A")

    run_now(sync)

    assert ado.values("app-secrets") == {"A": "1"}


def test_variables_it_does_not_manage_survive_every_run(cast: Any, ado: Any) -> None:
    ado.seed_group("app-secrets", {"FOREIGN_SECRET": ("theirs", True), "FOREIGN_PLAIN": ("visible", False)})
    put_secret(cast, "MINE", "1")
    sync = make_sync(cast, make_connection(cast, ado))
    run_now(sync)
    put_secret(cast, "MINE", "2")
    run_now(sync)
    delete_secret(cast, "MINE")
    run_now(sync)

    group = ado.group_by_name("app-secrets")
    assert ado.values("app-secrets") == {"FOREIGN_SECRET": "theirs", "FOREIGN_PLAIN": "visible"}
    assert group.variables["FOREIGN_SECRET"].is_secret and not group.variables["FOREIGN_PLAIN"].is_secret
    assert not sync.created_container
    # Every PUT sent the foreign secret back without a value (ADO keeps it), the plain one as it was.
    for request in ado.writes():
        assert request.body["variables"]["FOREIGN_SECRET"] == {"isSecret": True}
        assert request.body["variables"]["FOREIGN_PLAIN"] == {"isSecret": False, "value": "visible"}


def test_a_run_with_nothing_to_change_writes_nothing(cast: Any, ado: Any) -> None:
    put_secret(cast, "A", "1")
    sync = make_sync(cast, make_connection(cast, ado))
    run_now(sync)
    writes = len(ado.writes())

    for _ in range(3):  # replays of the same task
        assert run_now(sync).status == "succeeded"

    assert len(ado.writes()) == writes


def test_the_name_template_maps_keys(cast: Any, ado: Any) -> None:
    put_secret(cast, "DB", "x")
    sync = make_sync(cast, make_connection(cast, ado), key_name_template="APP_{{environment}}_{{secretKey}}")

    run_now(sync)

    assert ado.values("app-secrets") == {"APP_dev_DB": "x"}


def test_two_keys_for_one_name_are_reported_and_nothing_is_written(cast: Any, ado: Any) -> None:
    put_secret(cast, "db_url", "a")
    put_secret(cast, "DB_URL", "b")  # Azure DevOps names are case-insensitive
    sync = make_sync(cast, make_connection(cast, ado))

    outcome = run_now(sync)

    assert outcome.status == "failed"
    assert sync.status == "failed" and "both map to the destination name" in sync.last_error
    assert ado.writes() == []


def test_a_429_is_retried_no_sooner_than_retry_after(cast: Any, ado: Any) -> None:
    put_secret(cast, "A", "1")
    sync = make_sync(cast, make_connection(cast, ado))
    ado.fail_next(429, retry_after=7, path_contains="variablegroups")

    outcome = run_now(sync)

    assert outcome.status == "retrying" and outcome.retry_in >= 7
    assert sync.status == "queued" and sync.attempts == 1 and "429" in sync.last_error
    assert (sync.next_attempt_at - sync.runs.first().finished_at).total_seconds() >= 6.9
    assert run_now(sync).status == "succeeded"
    assert ado.values("app-secrets") == {"A": "1"}
    assert sync.attempts == 0 and sync.last_error == ""


def test_500s_back_off_exponentially_with_jitter_then_give_up(cast: Any, ado: Any, settings: Any) -> None:
    settings.STRONGROOM_SYNC_MAX_ATTEMPTS = 4
    settings.STRONGROOM_SYNC_RETRY_BASE_SECONDS = 3
    put_secret(cast, "A", "1")
    sync = make_sync(cast, make_connection(cast, ado))
    ado.fail_next(500, count=10, path_contains="variablegroups")

    delays = [run_now(sync).retry_in for _ in range(3)]
    last = run_now(sync)

    for attempt, delay in enumerate(delays, start=1):
        ceiling = 3 * 2 ** (attempt - 1)
        assert ceiling / 2 <= delay <= ceiling
    assert last.status == "failed" and last.retry_in is None
    assert sync.status == "failed" and sync.attempts == 4
    assert [run.final for run in sync.runs.order_by("id")] == [False, False, False, True]


def test_a_401_fails_at_once_notifies_the_owner_and_is_audited(
    cast: Any, ado: Any, mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from audit.models import AuditEvent

    put_secret(cast, "A", "s3cr3t-value")
    sync = make_sync(cast, make_connection(cast, ado, token="revoked-pat"))

    with django_capture_on_commit_callbacks(execute=True):
        outcome = run_now(sync)

    assert outcome.status == "failed" and outcome.retry_in is None
    assert sync.status == "failed" and sync.attempts == 1 and "401" in sync.last_error
    # The owner's e-mail is a retried, visible delivery of a ``syncs.failed`` notification.
    from notifications.models import Delivery
    from notifications.tasks import delivery_send

    delivery = Delivery.objects.get(notification__event_kind="syncs.failed")
    assert delivery.recipient_user_id == cast.alice.pk and delivery.status == "pending"
    assert delivery_send(delivery.pk) == "sent"
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [cast.alice.email]
    assert "s3cr3t-value" not in mailoutbox[0].body and "revoked-pat" not in mailoutbox[0].body
    assert f"/projects/acme/syncs/{sync.public_id}/" in mailoutbox[0].body
    event = AuditEvent.objects.filter(action="sync.run_failed").get()
    assert event.metadata["final"] is True
    assert "s3cr3t-value" not in str(event.metadata) and "revoked-pat" not in str(event.metadata)


def test_a_group_it_did_not_create_is_never_deleted(cast: Any, ado: Any) -> None:
    from syncs.services.syncs import sync_delete

    ado.seed_group("app-secrets", {"FOREIGN": ("keep", True)})
    put_secret(cast, "MINE", "1")
    sync = make_sync(cast, make_connection(cast, ado))
    run_now(sync)

    result = sync_delete(scope=cast.scope(cast.alice), sync=sync, remove_managed=True)

    assert result["removed"] == ["MINE"]
    assert ado.values("app-secrets") == {"FOREIGN": "keep"}
    assert not [r for r in ado.requests if r.method == "DELETE"]


def test_removing_a_sync_that_created_its_group_deletes_the_group(cast: Any, ado: Any) -> None:
    from syncs.services.syncs import sync_delete

    put_secret(cast, "MINE", "1")
    sync = make_sync(cast, make_connection(cast, ado))
    run_now(sync)

    sync_delete(scope=cast.scope(cast.alice), sync=sync, remove_managed=True)

    assert ado.group_by_name("app-secrets") is None


def test_removing_a_sync_and_leaving_its_keys_changes_nothing_remote(cast: Any, ado: Any) -> None:
    from syncs.services.syncs import sync_delete

    put_secret(cast, "MINE", "1")
    sync = make_sync(cast, make_connection(cast, ado))
    run_now(sync)
    writes = len(ado.writes())

    sync_delete(scope=cast.scope(cast.alice), sync=sync, remove_managed=False)

    assert ado.values("app-secrets") == {"MINE": "1"} and len(ado.writes()) == writes


def test_two_syncs_on_one_group_own_only_their_keys(cast: Any, ado: Any) -> None:
    from secrets_app.services.folders import folder_create

    folder_create(scope=cast.scope(cast.alice), environment="dev", path="/", name="b")
    put_secret(cast, "A_KEY", "a")
    put_secret(cast, "B_KEY", "b", path="/b")
    connection = make_connection(cast, ado)
    sync_a = make_sync(cast, connection, name="a")
    sync_b = make_sync(cast, connection, name="b", path="/b")
    run_now(sync_a)
    run_now(sync_b)
    delete_secret(cast, "A_KEY")
    run_now(sync_a)
    run_now(sync_b)

    assert ado.values("app-secrets") == {"B_KEY": "b"}


def test_without_overwrite_an_existing_variable_of_the_same_name_is_not_touched(cast: Any, ado: Any) -> None:
    ado.seed_group("app-secrets", {"SHARED": ("theirs", True)})
    put_secret(cast, "SHARED", "ours")
    put_secret(cast, "OTHER", "o")
    sync = make_sync(cast, make_connection(cast, ado), initial_behavior="import_prefer_destination")

    run_now(sync)

    assert ado.values("app-secrets") == {"SHARED": "theirs", "OTHER": "o"}
    assert sync.runs.first().warnings[0]["code"] == "unreadable_remote"


def test_overwrite_destination_needs_a_confirmation(cast: Any, ado: Any) -> None:
    from secrets_app.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        make_sync(cast, make_connection(cast, ado), confirm_overwrite=False)


def test_import_destination_pulls_readable_values_into_strongroom(cast: Any, ado: Any) -> None:
    from secrets_app.selectors.secrets import secret_get

    ado.seed_group("app-secrets", {"PLAIN": ("from-ado", False), "HIDDEN": ("x", True)})
    put_secret(cast, "MINE", "1")
    sync = make_sync(cast, make_connection(cast, ado), initial_behavior="import_destination")

    run_now(sync)

    assert secret_get(cast.scope(cast.alice), environment="dev", path="/", key="PLAIN").value == "from-ado"
    assert sorted(sync.managed_keys.values_list("name", flat=True)) == ["MINE", "PLAIN"]
    assert any(w["code"] == "unreadable_remote" for w in sync.runs.first().warnings)


def test_a_secret_the_owner_may_not_read_fails_the_run_instead_of_deleting(cast: Any, ado: Any) -> None:
    put_secret(cast, "A", "1")
    sync = make_sync(cast, make_connection(cast, ado))
    run_now(sync)
    from secrets_app.models import ProjectMembership

    ProjectMembership.objects.filter(project=cast.project, user=cast.alice).update(builtin_role="viewer")

    outcome = run_now(sync)

    assert outcome.status == "failed" and "read" in sync.last_error
    assert ado.values("app-secrets") == {"A": "1"}


def test_personal_overrides_are_never_pushed(cast: Any, ado: Any) -> None:
    from secrets_app.services.secrets import SecretInput, secret_create

    put_secret(cast, "A", "shared")
    secret_create(
        scope=cast.scope(cast.alice),
        environment="dev",
        path="/",
        item=SecretInput(key="A", value="mine"),
        secret_type="personal",
    )
    sync = make_sync(cast, make_connection(cast, ado))

    run_now(sync)

    assert ado.values("app-secrets") == {"A": "shared"}


def test_a_secret_write_queues_the_projects_auto_syncs(
    cast: Any, ado: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from unittest import mock

    sync = make_sync(cast, make_connection(cast, ado))
    run_now(sync)
    with mock.patch("syncs.services.queue.send_run_message") as send:
        with django_capture_on_commit_callbacks(execute=True):
            put_secret(cast, "A", "1")
            put_secret(cast, "B", "2")  # a second write while queued: no second message
    sync.refresh_from_db()
    assert sync.status == "queued" and sync.source_changed_at is not None
    assert send.call_count == 1


def test_changing_the_name_template_moves_the_managed_variables(cast: Any, ado: Any, api: Any) -> None:
    ado.seed_group("app-secrets", {"FOREIGN": ("f", True)})
    put_secret(cast, "DB", "x")
    sync = make_sync(cast, make_connection(cast, ado))
    run_now(sync)

    response = api(cast.alice).patch(
        f"/api/v1/projects/acme/syncs/{sync.public_id}/", {"keyNameTemplate": "APP_{{secretKey}}"}, format="json"
    )
    assert response.status_code == 200, response.content
    run_now(sync)

    assert ado.values("app-secrets") == {"FOREIGN": "f", "APP_DB": "x"}
    assert list(sync.managed_keys.values_list("name", flat=True)) == ["APP_DB"]


def test_the_beat_schedule_runs_the_reconciler_and_the_drift_check(settings: Any) -> None:
    from config.celery import app

    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"syncs.tasks.syncs_reconcile", "syncs.tasks.syncs_drift_check"} <= tasks
    app.loader.import_default_modules()
    assert {"syncs.tasks.syncs_reconcile", "syncs.tasks.syncs_drift_check", "syncs.tasks.sync_run"} <= set(app.tasks)


def test_a_failing_destination_does_not_hold_up_a_healthy_one(cast: Any, ado: Any) -> None:
    put_secret(cast, "A", "1")
    broken = make_sync(cast, make_connection(cast, ado, token="revoked", name="bad"), name="broken", group="g1")
    healthy = make_sync(cast, make_connection(cast, ado, name="good"), name="healthy", group="g2")
    ado.fail_next(429, retry_after=30, method="PUT")  # irrelevant to the first POSTs: stays queued

    assert run_now(broken).status == "failed"
    assert run_now(healthy).status == "succeeded"
    assert ado.values("g2") == {"A": "1"} and ado.group_by_name("g1") is None


def test_C2_a_sync_meeting_a_tampered_value_fails_for_good_and_is_audited(cast: Any, ado: Any) -> None:
    from audit.models import AuditEvent
    from secrets_app.models import SecretVersion

    put_secret(cast, "A", "canary-c2-sync-a")
    put_secret(cast, "B", "canary-c2-sync-b")
    sync = make_sync(cast, make_connection(cast, ado))
    assert run_now(sync).status == "succeeded"
    put_secret(cast, "B", "canary-c2-sync-b2")
    row = SecretVersion.objects.get(secret__key="B", version=2)
    flipped = bytearray(row.value_ciphertext)
    flipped[-20] ^= 0x01
    SecretVersion.objects.filter(pk=row.pk).update(value_ciphertext=bytes(flipped))

    outcome = run_now(sync)

    sync.refresh_from_db()
    assert outcome.status == "failed" and "integrity" in sync.last_error and "canary" not in sync.last_error
    assert ado.values("app-secrets") == {"A": "canary-c2-sync-a", "B": "canary-c2-sync-b"}  # nothing pushed
    failure = AuditEvent.objects.get(action="secret.integrity_failed")
    assert failure.resource_id == "B" and failure.actor_type == "system"
