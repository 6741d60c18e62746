"""Crash safety with a real worker killed by SIGKILL: after the pending record is written (the
target untouched) and after the target accepted the new password (our switch not committed). In
both cases the owned secrets still hold a working credential, and the next run converges on the
*same* password the pending record holds — no credential is lost or orphaned.

The worker kills itself at the named step (``STRONGROOM_ROTATION_TEST_CRASH_AT``): a real SIGKILL
of a real ``celery worker`` process, at a point a test cannot otherwise hit reliably.

PYTEST_DONT_REWRITE: these assertions handle real passwords, so a failure reports the line, never the
values pytest's rewriting would print.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.rotation.conftest import RotationTarget, define_rotation, login, owned_values
from tests.support.celery_worker import celery_worker, require_postgres, send_task, wait_until


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("step", ["after_pending", "after_alter"])
def test_a_worker_killed_mid_rotation_is_rolled_forward_with_the_same_password(
    cast: Any, allow_local: None, mysql_rotation_target: RotationTarget, tmp_path: Path, step: str
) -> None:
    require_postgres("a real worker needs the PostgreSQL test database")
    from django.utils import timezone

    from rotation.models import PendingRotation, Rotation
    from rotation.sealing import open_pending
    from rotation.services.engine import rotation_run

    target = mysql_rotation_target
    rotation = define_rotation(cast, target)
    rotation_run(rotation_id=rotation.pk)  # user a active
    before = owned_values(cast)
    log = tmp_path / "worker.log"

    with celery_worker(log, env={"STRONGROOM_ROTATION_TEST_CRASH_AT": step}) as queue:
        send_task("rotation.tasks.rotation_run", [rotation.pk, "manual"], queue)
        if step == "after_pending":
            wait_until(lambda: PendingRotation.objects.filter(rotation=rotation).exists(), timeout=20)
        else:
            wait_until(
                lambda: PendingRotation.objects.filter(rotation=rotation, applied_at__isnull=False).exists(), timeout=20
            )
        wait_until(lambda: "rotation_run" in log.read_text() and "succeeded" not in log.read_text(), timeout=5)

    pending = PendingRotation.objects.get(rotation=rotation)
    password = open_pending(rotation, pending)
    assert pending.username == target.users[1]
    assert owned_values(cast) == before and login(target, before["DB_USERNAME"], before["DB_PASSWORD"])
    assert login(target, pending.username, password) is (step == "after_alter")
    assert Rotation.objects.get(pk=rotation.pk).status == "running"  # the dead run's claim

    with pytest.raises(Exception, match="already running"):
        rotation_run(rotation_id=rotation.pk)  # the claim holds until its lease runs out
    Rotation.objects.filter(pk=rotation.pk).update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    result = rotation_run(rotation_id=rotation.pk, trigger="retry")

    assert result.outcome == "success" and result.rolled_forward
    assert owned_values(cast) == {"DB_USERNAME": pending.username, "DB_PASSWORD": password}
    assert login(target, pending.username, password)
    assert login(target, before["DB_USERNAME"], before["DB_PASSWORD"])  # previous active: still valid
    assert not PendingRotation.objects.filter(rotation=rotation).exists()
    assert password not in log.read_text() and target.db.password not in log.read_text()
