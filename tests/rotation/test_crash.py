"""Crash safety with a real worker killed by SIGKILL: after the pending record is written (the
target untouched) and after the target accepted the new password (our switch not committed). In
both cases the owned secrets still hold a working credential, and the next run converges on the
*same* password the pending record holds — no credential is lost or orphaned.

The run kills itself at the named step (``STRONGROOM_ROTATION_TEST_CRASH_AT``) in a process of its
own (tests/support/crash_runner.py: ``rotation_run`` — the call the Celery task makes — in a fresh
``python -c``): a real SIGKILL of a real process, at a point a test cannot otherwise hit reliably.

PYTEST_DONT_REWRITE: these assertions handle real passwords, so a failure reports the line, never the
values pytest's rewriting would print.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.rotation.conftest import RotationTarget, define_rotation, login, owned_values
from tests.support.celery_worker import require_postgres
from tests.support.crash_runner import run_killed_at


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_run_killed_mid_rotation_is_rolled_forward_with_the_same_password(
    cast: Any, allow_local: None, mysql_rotation_target: RotationTarget, tmp_path: Path
) -> None:
    """One rotation killed in turn at each step (one transactional test: a database flush per step
    would cost more than the runs)."""
    require_postgres("a separate process needs the PostgreSQL test database")
    from django.utils import timezone

    from rotation.models import PendingRotation, Rotation
    from rotation.sealing import open_pending
    from rotation.services.engine import rotation_run

    target = mysql_rotation_target
    rotation = define_rotation(cast, target)
    rotation_run(rotation_id=rotation.pk)  # user a active
    for step in ("after_pending", "after_alter"):
        before = owned_values(cast)
        log = tmp_path / f"{step}.log"
        assert run_killed_at(step, rotation.pk, log) == -9, step  # SIGKILL at the step, nothing cleaned up

        pending = PendingRotation.objects.get(rotation=rotation)
        password = open_pending(rotation, pending)
        assert pending.username != before["DB_USERNAME"], step  # the other user
        assert owned_values(cast) == before and login(target, before["DB_USERNAME"], before["DB_PASSWORD"]), step
        assert login(target, pending.username, password) is (step == "after_alter"), step
        assert Rotation.objects.get(pk=rotation.pk).status == "running", step  # the dead run's claim

        with pytest.raises(Exception, match="already running"):
            rotation_run(rotation_id=rotation.pk)  # the claim holds until its lease runs out
        Rotation.objects.filter(pk=rotation.pk).update(locked_until=timezone.now() - dt.timedelta(seconds=1))
        result = rotation_run(rotation_id=rotation.pk, trigger="retry")

        assert result.outcome == "success" and result.rolled_forward, step
        assert owned_values(cast) == {"DB_USERNAME": pending.username, "DB_PASSWORD": password}, step
        assert login(target, pending.username, password), step
        assert login(target, before["DB_USERNAME"], before["DB_PASSWORD"]), step  # previous active: still valid
        assert not PendingRotation.objects.filter(rotation=rotation).exists(), step
        text = log.read_text()
        assert password not in text and target.db.password not in text, step
