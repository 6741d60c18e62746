"""Revocation: at expiry by a real worker, by the beat sweeper after a worker was killed, and when
the target is down — retries, irrevocable, one alert e-mail to the project admins, force-revoke.
Never two revocations of one lease at once, and no password in errors, mail or worker logs."""

from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import Any

import pytest

from tests.dynamic.conftest import DbTarget, define, pg_login, pg_role_exists
from tests.dynamic.support import StoppablePort, dynamic_workers
from tests.notifications.fixtures import deliver_all, smtp_server  # noqa: F401
from tests.support.celery_worker import require_postgres, wait_until


def _lease(cast: Any, secret: Any, ttl: Any = None) -> Any:
    from dynamic.services.leases import lease_create

    return lease_create(scope=cast.scope(cast.alice), secret=secret, ttl=ttl)


@pytest.fixture
def eager(settings: Any) -> Any:
    """Revocation messages run in this process at once (the retry chain without a broker)."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    settings.STRONGROOM_DYNAMIC_ETA_HORIZON_SECONDS = 3600
    yield
    app.conf.task_always_eager = previous


@pytest.mark.django_db
def test_two_claims_of_one_lease_never_both_win(cast: Any, pg_secret: Any) -> None:
    from django.utils import timezone

    from dynamic.models import Lease
    from dynamic.services.revocation import _claim

    lease = _lease(cast, pg_secret).lease
    Lease.objects.filter(pk=lease.pk).update(expire_at=timezone.now() - datetime.timedelta(seconds=1))

    first = _claim(lease.pk, now=timezone.now())
    second = _claim(lease.pk, now=timezone.now())

    assert first is not None and first.status == "revoking" and second is None


@pytest.mark.django_db(transaction=True)
def test_a_target_that_stays_down_ends_irrevocable_alerts_admins_once_and_can_be_force_revoked(
    cast: Any,
    allow_local: None,
    pg_target: DbTarget,
    dyn_settings: Any,
    eager: Any,
    smtp_server: Any,  # noqa: F811
) -> None:
    from audit.models import AuditEvent
    from dynamic.models import Lease
    from dynamic.services.leases import lease_force_revoke
    from dynamic.services.revocation import lease_revoke_execute
    from secrets_app.errors import PermissionDenied

    port = StoppablePort(pg_target.host, pg_target.port)
    secret = define(cast, DbTarget(**{**pg_target.__dict__, "port": port.port}), name="flaky")
    issued = _lease(cast, secret)
    port.stop()  # the database goes down before the lease expires
    Lease.objects.filter(pk=issued.lease.pk).update(expire_at=issued.lease.created_at)

    first = lease_revoke_execute(lease_id=issued.lease.pk)  # then the retries run as messages (eager)

    lease = Lease.objects.get(pk=issued.lease.pk)
    assert first.status == "failed"
    assert lease.status == "irrevocable" and lease.revoke_attempts == 3 and lease.alerted_at is not None
    assert lease.last_error == "PostgreSQL connection failed (OperationalError)"
    assert list(
        AuditEvent.objects.filter(resource_id=str(lease.public_id)).values_list("action", flat=True).order_by("id")
    ) == [
        "lease.created",
        "lease.revoke_failed",
        "lease.revoke_failed",
        "lease.marked_irrevocable",
    ]
    deliver_all()
    assert [message["To"] for message in smtp_server.messages] == ["alice@example.com"]
    mail = smtp_server.messages[0]
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "could not be revoked" in mail["Subject"] and issued.data["DB_USERNAME"] in body
    assert issued.data["DB_PASSWORD"] not in mail.as_string() and pg_target.password not in mail.as_string()

    lease_revoke_execute(lease_id=lease.pk)  # an irrevocable lease is not retried by the sweeper
    with pytest.raises(PermissionDenied):
        lease_force_revoke(scope=cast.scope(cast.bob), lease=lease)
    forced = lease_force_revoke(scope=cast.scope(cast.alice), lease=lease)

    assert forced.status == "revoked" and forced.forced
    assert AuditEvent.objects.get(action="lease.force_revoked").metadata["username"] == issued.data["DB_USERNAME"]
    deliver_all()
    assert len(smtp_server.messages) == 1  # alerted once
    assert pg_role_exists(issued.data["DB_USERNAME"])  # forced: the user is left where it is (by design)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_revokes_a_lease_at_expiry(
    cast: Any, allow_local: None, pg_target: DbTarget, tmp_path: Path, settings: Any
) -> None:
    require_postgres("revocation workers need the PostgreSQL test database")
    settings.STRONGROOM_DYNAMIC_MIN_TTL_SECONDS = 1
    secret = define(cast, pg_target, name="expiring", default_ttl=3, max_ttl=60)
    with dynamic_workers(tmp_path, settings) as workers:
        workers.start()
        issued = _lease(cast, secret)  # the ETA message leaves on commit
        with pg_login(pg_target, issued.data["DB_USERNAME"], issued.data["DB_PASSWORD"]) as conn:
            conn.execute("SELECT 1")
        assert pg_role_exists(issued.data["DB_USERNAME"])

        wait_until(lambda: not pg_role_exists(issued.data["DB_USERNAME"]), timeout=20)

    from dynamic.models import Lease

    lease = Lease.objects.get(pk=issued.lease.pk)
    assert lease.status == "revoked" and lease.revoked_at >= lease.expire_at
    assert issued.data["DB_PASSWORD"] not in workers.log_text() and pg_target.password not in workers.log_text()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_sweeper_revokes_what_a_killed_worker_held(
    cast: Any, allow_local: None, pg_target: DbTarget, tmp_path: Path, settings: Any
) -> None:
    require_postgres("revocation workers need the PostgreSQL test database")
    from audit.models import AuditEvent
    from dynamic.models import Lease

    settings.STRONGROOM_DYNAMIC_MIN_TTL_SECONDS = 1
    secret = define(cast, pg_target, name="orphaned", default_ttl=4, max_ttl=60)
    with dynamic_workers(tmp_path, settings) as workers:
        first = workers.start()
        issued = _lease(cast, secret)
        wait_until(lambda: "lease_revoke" in workers.log_text(), timeout=10)  # the ETA message is held
        workers.kill(first)  # SIGKILL before expiry: the ETA is lost with it
        while Lease.objects.get(pk=issued.lease.pk).expire_at > datetime.datetime.now(datetime.UTC):
            time.sleep(0.2)
        time.sleep(1)
        assert pg_role_exists(issued.data["DB_USERNAME"])  # nobody revoked it at expiry

        workers.start(beat=True)  # a new worker with beat: the sweeper finds the overdue lease

        wait_until(lambda: not pg_role_exists(issued.data["DB_USERNAME"]), timeout=30)
    lease = Lease.objects.get(pk=issued.lease.pk)
    assert lease.status == "revoked"
    assert AuditEvent.objects.get(action="lease.revoked", resource_id=str(lease.public_id)).actor_type == "system"


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_sends_each_due_or_near_lease_once_per_lost_window(
    cast: Any, pg_secret: Any, eager: Any, settings: Any
) -> None:
    from django.utils import timezone

    from dynamic.models import Lease
    from dynamic.services.revocation import leases_sweep

    settings.STRONGROOM_DYNAMIC_ETA_HORIZON_SECONDS = 600
    due, near, later = (_lease(cast, pg_secret).lease for _ in range(3))
    now = timezone.now()
    Lease.objects.filter(pk=due.pk).update(expire_at=now - datetime.timedelta(seconds=5), dispatched_at=None)
    Lease.objects.filter(pk=near.pk).update(expire_at=now + datetime.timedelta(seconds=300), dispatched_at=None)
    Lease.objects.filter(pk=later.pk).update(expire_at=now + datetime.timedelta(hours=2), dispatched_at=None)

    first = leases_sweep()  # eager: each message runs at once (the near one is not due yet: a no-op)
    second = leases_sweep()

    assert first == {"due": 1, "scheduled": 1} and second == {"due": 0, "scheduled": 0}
    statuses = dict(Lease.objects.values_list("pk", "status"))
    assert statuses == {due.pk: "revoked", near.pk: "active", later.pk: "active"}
    assert Lease.objects.get(pk=later.pk).dispatched_at is None  # beyond the horizon: left to a later sweep
