"""Syncs executed by real Celery worker processes (PostgreSQL test database + Redis broker).

Secret writes in this process enqueue on commit, exactly as in production; the workers claim,
lock, retry and record. Timings are shortened through the workers' environment (stale heartbeat
3 s, lock TTL 4 s, broker visibility timeout 5 s, retry base 1 s).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.celery_worker import require_postgres, wait_until
from tests.syncs.conftest import delete_secret, make_connection, make_sync, put_secret
from tests.syncs.workers import sync_workers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def wcast() -> Any:
    require_postgres("sync workers need the PostgreSQL test database")
    from tests.conftest import build_cast

    return build_cast()


def _source(cast: Any, path: str = "/") -> dict[str, str]:
    from secrets_app.selectors.secrets import secret_list

    result = secret_list(cast.scope(cast.alice), environment="dev", path=path, include_values=True)
    return {view.key: view.value for view in result.secrets}


def _sync_row(sync: Any) -> Any:
    sync.refresh_from_db()
    return sync


def test_create_update_delete_reach_azure_devops_through_a_worker(
    wcast: Any, ado: Any, tmp_path: Path, settings: Any
) -> None:
    put_secret(wcast, "DB_PASSWORD", "v1")
    ado.seed_group("app-secrets", {"FOREIGN": ("keep-me", True)})
    with sync_workers(tmp_path, settings) as workers:
        workers.start()
        sync = make_sync(wcast, make_connection(wcast, ado))
        wait_until(lambda: ado.values("app-secrets") == {"FOREIGN": "keep-me", "DB_PASSWORD": "v1"})

        put_secret(wcast, "DB_PASSWORD", "v2")
        put_secret(wcast, "API_KEY", "k")
        wait_until(lambda: ado.values("app-secrets") == {"FOREIGN": "keep-me", "DB_PASSWORD": "v2", "API_KEY": "k"})

        delete_secret(wcast, "DB_PASSWORD")
        wait_until(lambda: ado.values("app-secrets") == {"FOREIGN": "keep-me", "API_KEY": "k"})
        wait_until(lambda: _sync_row(sync).status == "succeeded")
    assert sync.last_success_at and sync.last_error == ""
    assert all(variable.is_secret for variable in ado.group_by_name("app-secrets").variables.values())
    assert "v2" not in workers.log_text() and "keep-me" not in workers.log_text()


def test_a_worker_killed_mid_sync_of_500_keys_is_resumed_and_the_destination_equals_the_source(
    wcast: Any, ado: Any, tmp_path: Path, settings: Any
) -> None:
    from audit.models import AuditEvent
    from secrets_app.services.secrets import SecretInput, secret_bulk_upsert

    items = [SecretInput(key=f"KEY_{i:03d}", value=f"value-{i}-\u00e9\r\n ") for i in range(500)]
    secret_bulk_upsert(scope=wcast.scope(wcast.alice), environment="dev", path="/", items=items)
    ado.seed_group("app-secrets", {"FOREIGN": ("keep-me", True)})
    ado.delay = 0.15  # each variable-group write takes a while, so the kill lands mid-run
    with sync_workers(tmp_path, settings, {"STRONGROOM_SYNC_ADO_BATCH": "25"}) as workers:
        first = workers.start()
        sync = make_sync(wcast, make_connection(wcast, ado))
        wait_until(lambda: len(ado.writes()) >= 8, timeout=60)
        workers.kill(first)
        written_before_kill = len(ado.writes())
        assert written_before_kill < 20  # 500 keys / 25 per PUT: the run was cut short
        assert _sync_row(sync).status == "running"
        # The source moves on while no worker runs.
        put_secret(wcast, "KEY_007", "changed-while-dead")
        delete_secret(wcast, "KEY_499")

        workers.start()
        expected = {**_source(wcast), "FOREIGN": "keep-me"}
        wait_until(lambda: ado.values("app-secrets") == expected, timeout=90)
        wait_until(lambda: _sync_row(sync).status == "succeeded", timeout=30)

    assert len(ado.values("app-secrets")) == 500  # 499 ours + the foreign one, no duplicates
    assert sync.managed_keys.count() == 499
    actions = list(AuditEvent.objects.filter(resource_id=str(sync.public_id)).values_list("action", flat=True))
    assert "sync.run_interrupted" in actions and "sync.run_succeeded" in actions
    assert sync.runs.filter(status="interrupted").exists()


def test_429_with_retry_after_then_success(wcast: Any, ado: Any, tmp_path: Path, settings: Any) -> None:
    put_secret(wcast, "A", "1")
    ado.fail_next(429, retry_after=3, method="POST")
    with sync_workers(tmp_path, settings) as workers:
        workers.start()
        sync = make_sync(wcast, make_connection(wcast, ado))
        wait_until(lambda: ado.values("app-secrets") == {"A": "1"}, timeout=30)
        wait_until(lambda: _sync_row(sync).status == "succeeded")
    posts = [r for r in ado.requests if r.method == "POST"]
    assert [r.status for r in posts] == [429, 200]
    assert posts[1].at - posts[0].at >= 3
    failed, succeeded = sync.runs.order_by("id")
    assert failed.status == "failed" and not failed.final and "429" in failed.error
    assert succeeded.status == "succeeded" and succeeded.attempt == 2


def test_500s_are_retried_with_backoff(wcast: Any, ado: Any, tmp_path: Path, settings: Any) -> None:
    put_secret(wcast, "A", "1")
    ado.fail_next(500, count=2, path_contains="variablegroups")
    with sync_workers(tmp_path, settings) as workers:
        workers.start()
        sync = make_sync(wcast, make_connection(wcast, ado))
        wait_until(lambda: _sync_row(sync).status == "succeeded", timeout=30)
    runs = list(sync.runs.order_by("id"))
    assert [run.status for run in runs] == ["failed", "failed", "succeeded"]
    # Backoff: at least base/2 · 2^(n-1) between attempts (base 1 s, with jitter).
    assert (runs[1].started_at - runs[0].finished_at).total_seconds() >= 0.5
    assert (runs[2].started_at - runs[1].finished_at).total_seconds() >= 1.0
    assert ado.values("app-secrets") == {"A": "1"}


def test_401_fails_at_once_and_emails_the_owner(wcast: Any, ado: Any, tmp_path: Path, settings: Any) -> None:
    from audit.models import AuditEvent

    put_secret(wcast, "A", "canary-value-401")
    with sync_workers(tmp_path, settings) as workers:
        workers.start()
        sync = make_sync(wcast, make_connection(wcast, ado, token="revoked-token"))
        wait_until(lambda: _sync_row(sync).status == "failed", timeout=30)
        wait_until(lambda: list((tmp_path / "mail").glob("*")), timeout=10)
        time.sleep(0.5)
    assert sync.attempts == 1 and sync.runs.count() == 1 and "401" in sync.last_error
    mail = "".join(path.read_text() for path in (tmp_path / "mail").glob("*"))
    assert wcast.alice.email in mail and "failed" in mail
    assert "canary-value-401" not in mail and "revoked-token" not in mail
    event = AuditEvent.objects.get(action="sync.run_failed")
    assert event.metadata["final"] is True
    assert "canary-value-401" not in workers.log_text()


def test_concurrent_runs_for_one_destination_end_at_the_newest_version(
    wcast: Any, ado: Any, tmp_path: Path, settings: Any
) -> None:
    from syncs.services.queue import send_run_message

    put_secret(wcast, "VERSIONED", "v1")
    ado.delay = 0.05
    with sync_workers(tmp_path, settings) as workers:
        workers.start()
        workers.start()  # two workers compete for every message
        sync = make_sync(wcast, make_connection(wcast, ado))
        # A second sync writing other keys into the same group: its runs share the destination lock.
        from secrets_app.services.folders import folder_create

        folder_create(scope=wcast.scope(wcast.alice), environment="dev", path="/", name="other")
        put_secret(wcast, "OTHER", "o", path="/other")
        other = make_sync(wcast, make_connection(wcast, ado, name="ado-2"), name="other", path="/other")
        for version in range(2, 8):
            put_secret(wcast, "VERSIONED", f"v{version}")
            send_run_message(sync.pk)  # duplicate messages on top of the debounced ones
            send_run_message(other.pk)
        wait_until(lambda: (ado.values("app-secrets") or {}).get("VERSIONED") == "v7", timeout=60)
        wait_until(lambda: _sync_row(sync).status == "succeeded" and _sync_row(other).status == "succeeded")
        time.sleep(1.0)
    assert ado.values("app-secrets") == {"VERSIONED": "v7", "OTHER": "o"}
