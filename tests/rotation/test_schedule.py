"""The schedule: every N days at a UTC time, or cron (UTC); the beat task queues due, unpaused
rotations only, and a queued run rotates."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from rotation.services.schedule import ScheduleError, next_cron_run, next_interval_run
from tests.rotation.conftest import RotationTarget, define_rotation, owned_values

NOW = dt.datetime(2026, 12, 6, 15, 20, tzinfo=dt.UTC)  # a Sunday


def test_it_runs_n_days_after_the_last_rotation_at_the_utc_time() -> None:
    assert next_interval_run(interval_days=30, hour=2, minute=0, last=NOW, now=NOW) == dt.datetime(
        2027, 1, 5, 2, 0, tzinfo=dt.UTC
    )
    # A slot missed long ago runs at the next one, never in the past.
    long_ago = NOW - dt.timedelta(days=90)
    assert next_interval_run(interval_days=1, hour=3, minute=0, last=long_ago, now=NOW) == dt.datetime(
        2026, 12, 7, 3, 0, tzinfo=dt.UTC
    )


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 3 * * 1", dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)),  # Monday 03:00
        ("*/15 * * * *", dt.datetime(2026, 12, 6, 15, 30, tzinfo=dt.UTC)),
        ("30 2 1 * *", dt.datetime(2027, 1, 1, 2, 30, tzinfo=dt.UTC)),
    ],
)
def test_it_reads_cron_in_utc(expression: str, expected: dt.datetime) -> None:
    assert next_cron_run(expression, NOW) == expected


@pytest.mark.parametrize("expression", ["", "* * *", "61 * * * *", "nope nope nope nope nope"])
def test_it_refuses_bad_cron(expression: str) -> None:
    with pytest.raises(ScheduleError):
        next_cron_run(expression, NOW)


@pytest.mark.django_db
def test_the_beat_task_rotates_due_unpaused_rotations_only(
    cast: Any, allow_local: None, mysql_rotation_target: RotationTarget, django_capture_on_commit_callbacks: Any
) -> None:
    from django.utils import timezone

    from config.celery import app
    from rotation.models import Rotation
    from rotation.services.dispatch import rotations_dispatch_due

    due = define_rotation(cast, mysql_rotation_target, name="due")
    paused = define_rotation(
        cast, mysql_rotation_target, name="paused", mapping={"username": "OTHER_USER", "password": "OTHER_PASSWORD"}
    )
    Rotation.objects.filter(pk=paused.pk).update(paused=True)
    assert due.next_run_at is not None and due.next_run_at <= timezone.now()  # a new rotation is due at once

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert rotations_dispatch_due() == 1
    finally:
        app.conf.task_always_eager = previous

    rotated = Rotation.objects.get(pk=due.pk)
    assert rotated.status == "success" and rotated.next_run_at > timezone.now()
    assert owned_values(cast)["DB_USERNAME"] == mysql_rotation_target.users[0]
    assert Rotation.objects.get(pk=paused.pk).status == "new"
    with django_capture_on_commit_callbacks(execute=False):
        assert rotations_dispatch_due() == 0  # nothing due any more
