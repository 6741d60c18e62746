"""The switch is an ordinary secret write: a rotated password reaches the project's Azure DevOps
variable group through its sync with nobody touching the sync.

PYTEST_DONT_REWRITE: these assertions handle real passwords, so a failure reports the line, never the
values pytest's rewriting would print.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.rotation.conftest import RotationTarget, define_rotation, digest, login, owned_values
from tests.syncs.conftest import _sync_settings, ado, make_connection, make_sync  # noqa: F401

pytestmark = pytest.mark.django_db


def test_a_rotated_password_reaches_the_variable_group_through_the_sync(
    cast: Any,
    allow_local: None,
    mysql_rotation_target: RotationTarget,
    ado: Any,  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:
    from config.celery import app
    from rotation.services.engine import rotation_run

    rotation = define_rotation(cast, mysql_rotation_target)
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True  # queued sync runs happen in this process, as a worker's would
    try:
        with django_capture_on_commit_callbacks(execute=True):
            make_sync(cast, make_connection(cast, ado))  # its first run: nothing to push yet
        for _ in range(2):
            with django_capture_on_commit_callbacks(execute=True):
                assert rotation_run(rotation_id=rotation.pk).outcome == "success"
            values = owned_values(cast)
            assert digest(ado.values("app-secrets")) == digest(values)
    finally:
        app.conf.task_always_eager = previous
    assert values["DB_USERNAME"] == mysql_rotation_target.users[1]
    assert login(mysql_rotation_target, values["DB_USERNAME"], values["DB_PASSWORD"])
