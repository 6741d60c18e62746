"""A reveal schedules the rotation: a person revealing, in the UI, the password a two-user rotation
owns (where the environment counts reveals) queues that rotation within the environment's hours;
after that run and the grace period, the previously active user (whose password was revealed) gets
a fresh random password nobody keeps — against the password-checking private PostgreSQL cluster.

PYTEST_DONT_REWRITE: these assertions handle real passwords, so a failure reports the line, never the
values pytest's rewriting would print.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.dynamic.providers.aws import MotoServer
from tests.notifications.fixtures import deliver_all, smtp_server  # noqa: F401 (fixture)
from tests.rotation.conftest import RotationTarget, define_rotation, login, owned_values
from tests.rotation.test_aws_iam import (
    KEY_ID,
    SECRET,
    _caller,
    _define,
    _keys,
    _owned,
    _rotate,
)
from tests.support.celery_worker import eager  # noqa: F401 (fixture)

REVEAL = "/projects/acme/secrets/value/?environment=dev&path=/&key=DB_PASSWORD"
PANEL = "/projects/acme/secrets/item/?environment=dev&path=/&key=DB_PASSWORD"
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def counted(cast: Any) -> Any:
    from secrets_app.models import Environment

    Environment.objects.filter(project=cast.project, slug="dev").update(reveal_marks_due=True, reveal_rotation_hours=2)
    return cast


def _reveal(user: Any, capture: Any, key: str = "DB_PASSWORD") -> str:
    client = Client()
    client.force_login(user)
    with capture(execute=True):
        response = client.get(REVEAL.replace("DB_PASSWORD", key), **HX)
    return response.content.decode() if response.status_code == 200 else str(response.status_code)


def _audit_text() -> str:
    from audit.models import AuditEvent

    return " ".join(str(event.metadata) for event in AuditEvent.objects.all())


def _beat(capture: Any) -> None:
    from rotation.tasks import rotations_dispatch_due_task

    with capture(execute=True):
        rotations_dispatch_due_task()


def _run_due(rotation: Any, capture: Any) -> None:
    """The beat's dispatch, as it would run once the queued slot has come."""
    from rotation.models import Rotation
    from rotation.services.dispatch import rotations_dispatch_due

    when = Rotation.objects.get(pk=rotation.pk).next_run_at + dt.timedelta(seconds=1)
    with capture(execute=True):
        assert rotations_dispatch_due(now=when) == 1


def test_it_queues_the_rotation_on_a_reveal_and_resets_the_revealed_user_after_the_run(
    counted: Any,
    api: Any,
    allow_local: None,
    pg_rotation_target: RotationTarget,
    django_capture_on_commit_callbacks: Any,
    eager: None,  # noqa: F811
    settings: Any,
) -> None:
    from audit.models import AuditEvent
    from rotation.models import Rotation
    from rotation.services.engine import rotation_run
    from rotation.services.rotations import RotationChange, rotation_update
    from secrets_app.models import Secret

    settings.STRONGROOM_ROTATION_REVEAL_GRACE_MINUTES = 0
    target = pg_rotation_target
    user_a, user_b = target.users
    rotation = define_rotation(counted, target)
    rotation_run(rotation_id=rotation.pk, trigger="manual")
    Rotation.objects.filter(pk=rotation.pk).update(next_run_at=timezone.now() + dt.timedelta(days=30))

    client = Client()
    client.force_login(counted.alice)
    panel = client.get(PANEL, **HX).content.decode()
    assert "schedules its rotation (db) to run within 2 hours" in panel  # said before the value is shown

    revealed = owned_values(counted)
    before = timezone.now()
    page = _reveal(counted.alice, django_capture_on_commit_callbacks)
    assert revealed["DB_PASSWORD"] in page and 'Rotation <span class="mono">db</span> is scheduled' in page
    queued = Rotation.objects.get(pk=rotation.pk)
    assert before + dt.timedelta(hours=2) - dt.timedelta(seconds=5) <= queued.next_run_at
    assert queued.next_run_at <= timezone.now() + dt.timedelta(hours=2)
    assert AuditEvent.objects.filter(action="rotation.reveal_queued", actor_label=counted.alice.get_username()).exists()
    # A secret a rotation owns is rotated, not marked due for its owner.
    assert Secret.objects.get(key="DB_PASSWORD").rotation_due_at is None
    # Editing the schedule meanwhile does not push the reveal's run later.
    rotation_update(scope=counted.scope(counted.alice), rotation=queued, change=RotationChange(interval_days=10))
    assert Rotation.objects.get(pk=rotation.pk).next_run_at == queued.next_run_at

    _run_due(rotation, django_capture_on_commit_callbacks)
    rotated = Rotation.objects.get(pk=rotation.pk)
    assert rotated.attempts.first().trigger == "reveal" and rotated.active_index == 1
    assert rotated.reset_user_index == 0 and rotated.reset_due_at is not None
    assert login(target, user_a, revealed["DB_PASSWORD"])  # still valid during the grace period

    detail = client.get(f"/projects/acme/rotations/{rotation.public_id}/").content.decode()
    assert "Pending reset" in detail and user_a in detail and revealed["DB_PASSWORD"] not in detail
    api_view = api(counted.alice).get(f"/api/v1/projects/acme/rotations/{rotation.public_id}/").json()
    assert api_view["pendingReset"]["username"] == user_a and api_view["pendingReset"]["dueAt"]

    _beat(django_capture_on_commit_callbacks)
    current = owned_values(counted)
    assert not login(target, user_a, revealed["DB_PASSWORD"])  # the revealed password is dead
    assert current["DB_USERNAME"] == user_b and login(target, user_b, current["DB_PASSWORD"])
    after = Rotation.objects.get(pk=rotation.pk)
    assert (after.reset_user_index, after.reset_due_at, after.reveal_requested_at) == (None, None, None)
    assert AuditEvent.objects.filter(action="rotation.previous_user_reset").count() == 1
    audit = _audit_text()
    for secret in (revealed["DB_PASSWORD"], current["DB_PASSWORD"], target.db.password):
        assert secret not in audit


def test_a_rotation_in_between_drops_the_reset_and_the_active_credential_keeps_working(
    counted: Any,
    allow_local: None,
    pg_rotation_target: RotationTarget,
    django_capture_on_commit_callbacks: Any,
    eager: None,  # noqa: F811
    settings: Any,
) -> None:
    from audit.models import AuditEvent
    from rotation.models import Rotation
    from rotation.services.engine import rotation_run

    settings.STRONGROOM_ROTATION_REVEAL_GRACE_MINUTES = 0
    target = pg_rotation_target
    user_a, _user_b = target.users
    rotation = define_rotation(counted, target)
    rotation_run(rotation_id=rotation.pk, trigger="manual")
    _reveal(counted.alice, django_capture_on_commit_callbacks)
    _run_due(rotation, django_capture_on_commit_callbacks)
    assert Rotation.objects.get(pk=rotation.pk).reset_user_index == 0

    rotation_run(rotation_id=rotation.pk, trigger="manual")  # user a becomes active again, new password
    _beat(django_capture_on_commit_callbacks)

    current = owned_values(counted)
    assert current["DB_USERNAME"] == user_a and login(target, user_a, current["DB_PASSWORD"])
    assert AuditEvent.objects.filter(action="rotation.reset_dropped").count() == 1
    assert not AuditEvent.objects.filter(action="rotation.previous_user_reset").exists()
    assert Rotation.objects.get(pk=rotation.pk).reset_due_at is None


def test_nothing_is_queued_with_the_setting_off_or_for_a_person_who_may_not_reveal(
    cast: Any, allow_local: None, pg_rotation_target: RotationTarget, django_capture_on_commit_callbacks: Any
) -> None:
    from audit.models import AuditEvent
    from rotation.models import Rotation
    from rotation.services.engine import rotation_run
    from secrets_app.models import Environment

    rotation = define_rotation(cast, pg_rotation_target)
    rotation_run(rotation_id=rotation.pk, trigger="manual")
    slot = Rotation.objects.get(pk=rotation.pk).next_run_at

    page = _reveal(cast.alice, django_capture_on_commit_callbacks)  # dev does not count reveals
    assert "is scheduled" not in page
    Environment.objects.filter(project=cast.project, slug="dev").update(reveal_marks_due=True)
    assert _reveal(cast.dave, django_capture_on_commit_callbacks) == "403"  # a viewer reads no values

    after = Rotation.objects.get(pk=rotation.pk)
    assert (after.next_run_at, after.reveal_requested_at) == (slot, None)
    assert not AuditEvent.objects.filter(action="rotation.reveal_queued").exists()


SETTINGS = "/projects/acme/rotations/reveal-settings/"


@pytest.mark.django_db
def test_project_admins_set_what_a_reveal_does_on_the_rotations_tab(cast: Any) -> None:
    from audit.models import AuditEvent
    from secrets_app.models import Environment

    alice, bob = Client(), Client()
    alice.force_login(cast.alice)
    bob.force_login(cast.bob)
    assert "When someone reveals a value" in alice.get("/projects/acme/rotations/").content.decode()
    assert "When someone reveals a value" not in bob.get("/projects/acme/rotations/").content.decode()

    saved = alice.post(SETTINGS, {"environment": "prod", "enabled": "on", "hours": "4"}, **HX)
    assert saved.status_code == 200 and "schedules the owning rotation within 4 h" in saved.content.decode()
    prod = Environment.objects.get(project=cast.project, slug="prod")
    assert (prod.reveal_marks_due, prod.reveal_rotation_hours) == (True, 4)
    assert AuditEvent.objects.filter(action="environment.updated", environment="prod").count() == 1

    refused = alice.post(SETTINGS, {"environment": "prod", "enabled": "on", "hours": "500"}, **HX)
    assert refused.status_code == 422 and "168" in refused.content.decode()
    assert bob.post(SETTINGS, {"environment": "prod", "hours": "0"}, **HX).status_code == 403
    charlie = Client()
    charlie.force_login(cast.charlie)
    assert charlie.post(SETTINGS, {"environment": "prod", "hours": "0"}, **HX).status_code in (403, 404)
    prod.refresh_from_db()
    assert (prod.reveal_marks_due, prod.reveal_rotation_hours) == (True, 4)


@pytest.mark.django_db
def test_the_environment_api_sets_the_hours_next_to_reveal_marks_due(cast: Any, api: Any) -> None:
    url = "/api/v1/projects/acme/environments/prod/"
    response = api(cast.alice).patch(url, {"revealMarksDue": True, "revealRotationHours": 0}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["revealMarksDue"], response.json()["revealRotationHours"]) == (True, 0)
    bad = api(cast.alice).patch(url, {"revealRotationHours": 169}, format="json")
    assert bad.status_code == 400 and "revealRotationHours" in bad.content.decode()
    assert api(cast.bob).patch(url, {"revealRotationHours": 1}, format="json").status_code == 403
    assert api(cast.charlie).patch(url, {"revealRotationHours": 1}, format="json").status_code in (403, 404)


def test_zero_hours_rotates_at_once(
    cast: Any,
    allow_local: None,
    pg_rotation_target: RotationTarget,
    django_capture_on_commit_callbacks: Any,
    eager: None,  # noqa: F811
) -> None:
    from rotation.models import Rotation
    from rotation.services.engine import rotation_run
    from secrets_app.models import Environment

    Environment.objects.filter(project=cast.project, slug="dev").update(reveal_marks_due=True, reveal_rotation_hours=0)
    rotation = define_rotation(cast, pg_rotation_target)
    rotation_run(rotation_id=rotation.pk, trigger="manual")
    revealed = owned_values(cast)

    page = _reveal(cast.alice, django_capture_on_commit_callbacks)

    assert "is scheduled to run now" in page
    after = Rotation.objects.get(pk=rotation.pk)
    assert after.attempts.first().trigger == "reveal" and after.active_index == 1
    assert owned_values(cast)["DB_PASSWORD"] != revealed["DB_PASSWORD"]


def test_a_revealed_issued_key_is_deleted_after_the_run(
    counted: Any,
    allow_local: None,
    moto: MotoServer,
    root_key: tuple[str, str],
    app_user: str,
    django_capture_on_commit_callbacks: Any,
    eager: None,  # noqa: F811
    settings: Any,
) -> None:
    """Kinds whose target issues the credential: the reset deletes the key the person saw (AWS IAM
    access keys against moto with authentication enforced)."""
    from rotation.models import Rotation

    settings.STRONGROOM_ROTATION_REVEAL_GRACE_MINUTES = 0
    rotation = _define(counted, root_key, app_user, moto.url)
    _rotate(rotation)
    revealed = _owned(counted)
    arn = f":user/{app_user}"

    assert "is scheduled" in _reveal(counted.alice, django_capture_on_commit_callbacks, key=SECRET)
    _run_due(rotation, django_capture_on_commit_callbacks)
    after_run = Rotation.objects.get(pk=rotation.pk)
    assert after_run.attempts.first().trigger == "reveal" and after_run.reset_key_id == revealed[KEY_ID]
    assert _caller(moto, revealed[KEY_ID], revealed[SECRET]).endswith(arn)  # valid during the grace period

    _beat(django_capture_on_commit_callbacks)
    current = _owned(counted)
    assert _caller(moto, revealed[KEY_ID], revealed[SECRET]) == "InvalidClientTokenId"
    assert _caller(moto, current[KEY_ID], current[SECRET]).endswith(arn)
    assert _keys(moto, app_user) == {current[KEY_ID]}
    final = Rotation.objects.get(pk=rotation.pk)
    assert "previous" not in final.issued_keys and final.reset_due_at is None


def test_a_reset_that_fails_is_audited_without_a_password_and_retried_until_the_revealed_password_dies(
    counted: Any,
    allow_local: None,
    pg_rotation_target: RotationTarget,
    django_capture_on_commit_callbacks: Any,
    eager: None,  # noqa: F811
    settings: Any,
    smtp_server: Any,  # noqa: F811
) -> None:
    import socket

    from audit.models import AuditEvent
    from rotation.models import Rotation
    from rotation.services.engine import rotation_run

    settings.STRONGROOM_ROTATION_REVEAL_GRACE_MINUTES = 0
    settings.STRONGROOM_ROTATION_MAX_ATTEMPTS = 3
    target = pg_rotation_target
    user_a = target.users[0]
    rotation = define_rotation(counted, target)
    rotation_run(rotation_id=rotation.pk, trigger="manual")
    revealed = owned_values(counted)
    _reveal(counted.alice, django_capture_on_commit_callbacks)
    _run_due(rotation, django_capture_on_commit_callbacks)

    with socket.socket() as probe:  # a port nothing listens on: the target is down
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    config = Rotation.objects.get(pk=rotation.pk).config
    Rotation.objects.filter(pk=rotation.pk).update(config={**config, "port": closed})
    _beat(django_capture_on_commit_callbacks)

    failed = Rotation.objects.get(pk=rotation.pk)
    [event] = AuditEvent.objects.filter(action="rotation.reset_failed")
    assert event.outcome == "error" and event.metadata["reason"] and failed.reset_failures == 1
    assert failed.reset_due_at is not None and failed.reset_due_at > timezone.now()  # retried later
    assert login(target, user_a, revealed["DB_PASSWORD"])  # not reset yet

    # As many failures in a row as a rotation may have: the admins hear that the revealed value
    # still works — once, not at every retry.
    for _ in range(2):
        Rotation.objects.filter(pk=rotation.pk).update(reset_due_at=timezone.now())
        _beat(django_capture_on_commit_callbacks)
    assert Rotation.objects.get(pk=rotation.pk).reset_failures == 3
    deliver_all()
    assert [message["To"] for message in smtp_server.messages] == ["alice@example.com"]
    mail = smtp_server.messages[0]
    body = " ".join(mail.get_body(preferencelist=("plain",)).get_content().split())
    assert "A revealed credential of 'db' is still valid" in mail["Subject"]
    assert f"resetting {user_a}, which still accepts the revealed value, failed 3 times" in body
    assert revealed["DB_PASSWORD"] not in body and target.db.password not in body

    Rotation.objects.filter(pk=rotation.pk).update(config=config, reset_due_at=timezone.now())
    _beat(django_capture_on_commit_callbacks)
    assert not login(target, user_a, revealed["DB_PASSWORD"])
    audit = _audit_text()
    for secret in (revealed["DB_PASSWORD"], owned_values(counted)["DB_PASSWORD"], target.db.password):
        assert secret not in audit


def test_a_reveal_run_that_fails_for_good_tries_again_within_the_hour_not_at_the_next_slot(
    counted: Any,
    allow_local: None,
    pg_rotation_target: RotationTarget,
    django_capture_on_commit_callbacks: Any,
    eager: None,  # noqa: F811
    settings: Any,
) -> None:
    """The revealed value works until a run replaces it and the reset kills it: a failure must not
    leave it alive for a whole interval."""
    from rotation.models import Rotation
    from rotation.services.engine import rotation_run
    from tests.notifications.fixtures import free_port

    settings.STRONGROOM_ROTATION_MAX_ATTEMPTS = 1
    rotation = define_rotation(counted, pg_rotation_target, interval_days=30)
    rotation_run(rotation_id=rotation.pk, trigger="manual")
    _reveal(counted.alice, django_capture_on_commit_callbacks)
    config = Rotation.objects.get(pk=rotation.pk).config
    Rotation.objects.filter(pk=rotation.pk).update(config={**config, "port": free_port()})  # the target is down
    _run_due(rotation, django_capture_on_commit_callbacks)

    failed = Rotation.objects.get(pk=rotation.pk)
    assert failed.status == "failed" and failed.reveal_requested_at is not None
    assert failed.next_run_at is not None and failed.next_run_at <= timezone.now() + dt.timedelta(hours=1)

    Rotation.objects.filter(pk=rotation.pk).update(config=config)
    _run_due(failed, django_capture_on_commit_callbacks)
    done = Rotation.objects.get(pk=rotation.pk)
    assert done.status == "success" and done.reveal_requested_at is None and done.reset_due_at is not None
    assert done.next_run_at is not None and done.next_run_at > timezone.now() + dt.timedelta(days=29)
