"""The beat reconciler and the claim: correctness never depends on one message arriving."""

from __future__ import annotations

import datetime
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from tests.syncs.conftest import make_connection, make_sync, put_secret, run_now

pytestmark = pytest.mark.django_db


def test_a_run_stuck_in_running_past_its_heartbeat_is_interrupted_and_requeued(cast: Any, ado: Any) -> None:
    from audit.models import AuditEvent
    from syncs.models import SecretSync, SyncRun
    from syncs.services.reconcile import syncs_reconcile

    sync = make_sync(cast, make_connection(cast, ado))
    long_ago = timezone.now() - datetime.timedelta(minutes=5)
    SecretSync.objects.filter(pk=sync.pk).update(status="running", heartbeat_at=long_ago, run_started_at=long_ago)
    SyncRun.objects.create(sync=sync, status="running", started_at=long_ago)

    with mock.patch("syncs.services.reconcile.send_run_message") as send:
        counts = syncs_reconcile()

    sync.refresh_from_db()
    assert counts["stale"] == 1 and send.call_count >= 1
    assert sync.status == "queued" and "worker stopped" in sync.last_error
    assert sync.runs.get().status == "interrupted"
    assert AuditEvent.objects.filter(action="sync.run_interrupted").exists()
    assert run_now(sync).status == "succeeded"


def test_a_live_run_is_not_touched(cast: Any, ado: Any) -> None:
    from syncs.models import SecretSync
    from syncs.services.reconcile import syncs_reconcile
    from syncs.services.runs import sync_run_execute

    sync = make_sync(cast, make_connection(cast, ado))
    now = timezone.now()
    SecretSync.objects.filter(pk=sync.pk).update(status="running", heartbeat_at=now, run_started_at=now)
    with mock.patch("syncs.services.reconcile.send_run_message"):
        assert syncs_reconcile()["stale"] == 0
    # A duplicate message finds nothing to claim.
    assert sync_run_execute(sync_id=sync.pk).status == "not_claimed"


def test_queued_syncs_whose_message_was_lost_are_sent_again(cast: Any, ado: Any) -> None:
    from syncs.models import SecretSync
    from syncs.services.reconcile import syncs_reconcile

    sync = make_sync(cast, make_connection(cast, ado))
    SecretSync.objects.filter(pk=sync.pk).update(next_attempt_at=timezone.now() - datetime.timedelta(minutes=1))
    with mock.patch("syncs.services.reconcile.send_run_message") as send:
        assert syncs_reconcile()["resent"] == 1
    send.assert_called_once_with(sync.pk)


def test_a_source_change_after_the_last_success_queues_the_sync(cast: Any, ado: Any) -> None:
    from syncs.models import SecretSync
    from syncs.services.reconcile import syncs_reconcile

    sync = make_sync(cast, make_connection(cast, ado))
    run_now(sync)
    SecretSync.objects.filter(pk=sync.pk).update(source_changed_at=timezone.now())
    assert syncs_reconcile()["queued"] == 1
    sync.refresh_from_db()
    assert sync.status == "queued" and sync.trigger == "reconcile"


def test_a_change_during_a_run_is_followed_by_another_run(cast: Any, ado: Any) -> None:
    from syncs.models import SecretSync
    from syncs.providers.azure_devops.provider import AzureDevOpsProvider

    put_secret(cast, "A", "1")
    sync = make_sync(cast, make_connection(cast, ado))
    original = AzureDevOpsProvider.apply

    def change_midway(self: Any, ctx: Any, plan: Any) -> Any:
        SecretSync.objects.filter(pk=sync.pk).update(source_changed_at=timezone.now())  # a write meanwhile
        return original(self, ctx, plan)

    with (
        mock.patch.object(AzureDevOpsProvider, "apply", change_midway),
        mock.patch("syncs.services.queue.send_run_message"),
    ):
        run_now(sync)
    assert sync.status == "queued" and sync.last_success_at is not None


def test_the_destination_lock_serialises_runs_of_one_target(cast: Any, ado: Any) -> None:
    from syncs.locks import lock_acquire, lock_release

    sync = make_sync(cast, make_connection(cast, ado))
    assert lock_acquire(sync.target_key, "someone-else")
    outcome = run_now(sync)
    assert outcome.status == "locked" and outcome.retry_in
    sync.refresh_from_db()
    assert sync.status == "queued"
    lock_release(sync.target_key, "someone-else")
    assert run_now(sync).status == "succeeded"


def test_an_expired_lock_of_a_dead_holder_is_taken_over(cast: Any, ado: Any) -> None:
    from syncs.locks import lock_acquire
    from syncs.models import DestinationLock

    sync = make_sync(cast, make_connection(cast, ado))
    assert lock_acquire(sync.target_key, "dead-worker")
    DestinationLock.objects.update(locked_until=timezone.now() - datetime.timedelta(seconds=1))
    assert run_now(sync).status == "succeeded"


def test_oauth_tokens_are_sent_as_bearer(cast: Any, ado: Any) -> None:
    from secrets_app.principals import Principal
    from syncs.services.connections import connection_create

    connection = connection_create(
        principal=Principal.for_user(cast.alice),
        organization=cast.organization,
        kind="azure_devops",
        method="oauth",
        name="oauth",
        credentials={"access_token": "good-oauth-token"},
        config={"organization_url": ado.org_url},
    )
    put_secret(cast, "A", "1")
    sync = make_sync(cast, connection)
    assert run_now(sync).status == "succeeded"
    assert ado.requests[-1].headers["authorization"] == "Bearer good-oauth-token"
