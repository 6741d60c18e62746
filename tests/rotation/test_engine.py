"""Two-user and single-user rotation against real servers (a password-checking private
PostgreSQL cluster and the machine's MariaDB): the owned secrets hold the new value, it logs in,
the previously active user keeps working for one interval, and the password before that is
rejected; conflicts are refused before the target is touched; a failure after the ALTER rolls the
same password forward; the target down ends in ``failed`` and one e-mail to the project admins.

PYTEST_DONT_REWRITE: these assertions handle real passwords, so a failure reports the line, never the
values pytest's rewriting would print.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.notifications.fixtures import deliver_all, smtp_server  # noqa: F401
from tests.rotation.conftest import RotationTarget, define_rotation, login, owned_values


@pytest.fixture(params=["postgresql", "mysql"])
def target(request: Any, allow_local: None) -> RotationTarget:
    return request.getfixturevalue("pg_rotation_target" if request.param == "postgresql" else "mysql_rotation_target")


def _audit_text() -> str:
    from audit.models import AuditEvent

    return " ".join(str(event.metadata) for event in AuditEvent.objects.all())


def test_it_alternates_two_users_and_keeps_the_previous_one_valid_for_one_interval(
    cast: Any, target: RotationTarget
) -> None:
    from rotation.models import Rotation
    from rotation.services.engine import rotation_run

    user_a, user_b = target.users
    rotation = define_rotation(cast, target)

    assert rotation_run(rotation_id=rotation.pk, trigger="manual").outcome == "success"
    first = owned_values(cast)
    assert first["DB_USERNAME"] == user_a and login(target, user_a, first["DB_PASSWORD"])
    assert not login(target, user_a, target.passwords[user_a])  # the password it had before is gone

    assert rotation_run(rotation_id=rotation.pk, trigger="manual").outcome == "success"
    second = owned_values(cast)
    assert second["DB_USERNAME"] == user_b and login(target, user_b, second["DB_PASSWORD"])
    assert login(target, user_a, first["DB_PASSWORD"])  # previous active user: valid one more interval

    assert rotation_run(rotation_id=rotation.pk, trigger="schedule").outcome == "success"
    third = owned_values(cast)
    assert third["DB_USERNAME"] == user_a and login(target, user_a, third["DB_PASSWORD"])
    assert not login(target, user_a, first["DB_PASSWORD"])  # the old inactive password is rejected
    assert login(target, user_b, second["DB_PASSWORD"])

    rotation = Rotation.objects.get(pk=rotation.pk)
    assert (rotation.status, rotation.active_index, rotation.attempts.filter(outcome="success").count()) == (
        "success",
        0,
        3,
    )
    assert rotation.next_run_at is not None and rotation.last_rotated_at is not None
    audit = _audit_text()
    for secret in (first["DB_PASSWORD"], second["DB_PASSWORD"], third["DB_PASSWORD"], target.db.password):
        assert secret not in audit


def test_single_user_mode_rotates_the_one_user(cast: Any, target: RotationTarget) -> None:
    from rotation.services.engine import rotation_run

    user = target.users[0]
    rotation = define_rotation(cast, target, mode="single")
    rotation_run(rotation_id=rotation.pk)
    first = owned_values(cast)
    rotation_run(rotation_id=rotation.pk)
    second = owned_values(cast)

    assert first["DB_USERNAME"] == second["DB_USERNAME"] == user
    assert login(target, user, second["DB_PASSWORD"]) and not login(target, user, first["DB_PASSWORD"])


def test_a_mapping_conflict_is_refused_before_the_target_is_touched(cast: Any, target: RotationTarget) -> None:
    from secrets_app.errors import Conflict
    from secrets_app.services.secrets import SecretInput, secret_create

    secret_create(
        scope=cast.scope(cast.alice), environment="dev", path="/", item=SecretInput(key="DB_PASSWORD", value="x")
    )
    with pytest.raises(Conflict):
        define_rotation(cast, target)
    assert all(login(target, user, target.passwords[user]) for user in target.users)


def test_a_failure_after_the_alter_rolls_the_same_password_forward(
    cast: Any, target: RotationTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rotation.kinds.base import ProviderError, SqlCredentialsKind
    from rotation.models import PendingRotation, Rotation
    from rotation.sealing import open_pending
    from rotation.services.engine import rotation_run

    rotation = define_rotation(cast, target)
    real_verify = SqlCredentialsKind.verify_login

    def refuse(self: Any, *args: Any, **kwargs: Any) -> None:
        raise ProviderError("network blip")

    monkeypatch.setattr(SqlCredentialsKind, "verify_login", refuse)
    assert rotation_run(rotation_id=rotation.pk).outcome == "failed"
    pending = PendingRotation.objects.get(rotation=rotation)
    password = open_pending(rotation, pending)
    assert pending.applied_at is not None and login(target, pending.username, password)  # the ALTER happened
    assert owned_values(cast) == {}  # nothing switched
    assert Rotation.objects.get(pk=rotation.pk).status == "retrying"

    monkeypatch.setattr(SqlCredentialsKind, "verify_login", real_verify)
    result = rotation_run(rotation_id=rotation.pk, trigger="retry")

    assert result.outcome == "success" and result.rolled_forward
    assert owned_values(cast) == {"DB_USERNAME": pending.username, "DB_PASSWORD": password}
    assert not PendingRotation.objects.filter(rotation=rotation).exists()


def test_a_second_run_while_one_holds_the_rotation_is_a_conflict(cast: Any, target: RotationTarget) -> None:
    from django.utils import timezone

    from rotation.services.dispatch import rotation_rotate_now
    from rotation.services.engine import RotationInProgress, _claim, rotation_run

    rotation = define_rotation(cast, target)
    assert _claim(rotation.pk, timezone.now())  # a run holds it

    with pytest.raises(RotationInProgress):
        rotation_run(rotation_id=rotation.pk, trigger="manual")
    with pytest.raises(RotationInProgress):
        rotation_rotate_now(rotation)
    assert owned_values(cast) == {}


def test_target_down_retries_then_fails_and_mails_the_admins(
    cast: Any,
    target: RotationTarget,
    settings: Any,
    smtp_server: Any,  # noqa: F811
) -> None:
    from rotation.models import Rotation
    from rotation.services.engine import rotation_run
    from tests.notifications.fixtures import free_port

    settings.STRONGROOM_ROTATION_MAX_ATTEMPTS = 2
    settings.STRONGROOM_ROTATION_RETRY_BASE_SECONDS = 30
    settings.SITE_URL = "https://strongroom.example.com"
    rotation = define_rotation(cast, target, interval_days=7)
    rotation_run(rotation_id=rotation.pk)
    before = owned_values(cast)
    Rotation.objects.filter(pk=rotation.pk).update(config={**rotation.config, "port": free_port()})  # nothing listens

    assert rotation_run(rotation_id=rotation.pk).outcome == "failed"
    retrying = Rotation.objects.get(pk=rotation.pk)
    assert retrying.status == "retrying" and retrying.next_run_at is not None
    assert rotation_run(rotation_id=rotation.pk, trigger="retry").outcome == "failed"

    failed = Rotation.objects.get(pk=rotation.pk)
    assert failed.status == "failed" and "OperationalError" in failed.last_error
    assert failed.next_run_at is not None and failed.next_run_at > retrying.next_run_at  # the next slot
    assert owned_values(cast) == before and login(target, before["DB_USERNAME"], before["DB_PASSWORD"])
    deliver_all()
    assert [message["To"] for message in smtp_server.messages] == ["alice@example.com"]
    body = smtp_server.messages[0].get_body(preferencelist=("plain",)).get_content()
    assert "Rotation 'db' failed" in smtp_server.messages[0]["Subject"]
    assert "Strongroom tried 2 times to rotate db" in " ".join(body.split())
    assert before["DB_PASSWORD"] not in body and target.db.password not in body


def test_a_rotation_that_gives_up_after_one_attempt_says_it_tried_once(
    cast: Any, target: RotationTarget, settings: Any
) -> None:
    from notifications.models import Notification
    from rotation.models import Rotation
    from rotation.services.engine import rotation_run
    from tests.notifications.fixtures import free_port

    settings.STRONGROOM_ROTATION_MAX_ATTEMPTS = 1
    rotation = define_rotation(cast, target)
    Rotation.objects.filter(pk=rotation.pk).update(config={**rotation.config, "port": free_port()})  # nothing listens

    assert rotation_run(rotation_id=rotation.pk).outcome == "failed"
    summary = Notification.objects.get(event_kind="rotation.failed").summary
    assert summary.startswith("Strongroom tried once to rotate db (dev:/) and gave up for now."), summary


def test_a_run_queued_for_a_deleted_rotation_does_nothing(cast: Any, target: RotationTarget) -> None:
    from rotation.services.rotations import rotation_delete
    from rotation.tasks import rotation_run_task

    rotation = define_rotation(cast, target)
    rotation_delete(scope=cast.scope(cast.alice), rotation=rotation)

    assert rotation_run_task(rotation.pk, "schedule") == "deleted"
    assert all(login(target, user, target.passwords[user]) for user in target.users)


class _MachinePostgres:
    """The machine's PostgreSQL (it trusts every login from 127.0.0.1), as ``_pg_target`` expects."""

    port = 5432

    def execute(self, statement: str) -> None:
        from tests.dynamic.conftest import pg_admin

        with pg_admin() as admin:
            admin.execute(statement)


def test_a_target_that_lets_anyone_in_still_rotates_but_the_attempt_says_the_check_proved_nothing(
    cast: Any, allow_local: None, pg_rotation_target: RotationTarget
) -> None:
    """On a server that trusts Strongroom's address the login check cannot fail; the person reading
    the attempts is told, while a password-checking server (scram_pg) gets no such note."""
    from audit.models import AuditEvent
    from rotation.services.engine import rotation_run
    from tests.dynamic.conftest import pg_admin, postgres_available
    from tests.rotation.conftest import _pg_target

    if not postgres_available():
        pytest.fail("the machine's PostgreSQL is not running on 127.0.0.1:5432")
    checked = define_rotation(cast, pg_rotation_target, name="checked")
    assert rotation_run(rotation_id=checked.pk, trigger="manual").outcome == "success"
    assert checked.attempts.get().error == ""

    trusting = _pg_target(_MachinePostgres())  # type: ignore[arg-type]
    try:
        rotation = define_rotation(
            cast, trusting, name="trusting", mapping={"username": "T_USERNAME", "password": "T_PASSWORD"}
        )
        assert rotation_run(rotation_id=rotation.pk, trigger="manual").outcome == "success"
        attempt = rotation.attempts.get()
        assert attempt.outcome == "success" and attempt.error.startswith("Warning: the login check proves nothing")
        assert trusting.users[0] in attempt.error
        checks = [
            event.metadata["check"]
            for event in AuditEvent.objects.filter(action="rotation.login_verified").order_by("id")
        ]
        assert checks == ["password checked", "inconclusive: the target accepts any password"]
    finally:
        with pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{trusting.db.database}" WITH (FORCE)')
            for role in (*trusting.users, trusting.db.username):
                admin.execute(f'DROP ROLE IF EXISTS "{role}"')
