"""Rotation policies of ordinary secrets: set/clear with permissions, due computation, reminders
to the owner once per due period (never with a value), and reveals that mark a value due."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine

from audit.models import AuditEvent
from secrets_app.errors import NotFound, PermissionDenied, ValidationFailed
from secrets_app.events import secret_revealed
from secrets_app.models import Environment, Secret
from secrets_app.selectors.rotation_policies import secrets_due
from secrets_app.services.rotation_policies import secret_reveal_record, secret_rotation_policy_set
from secrets_app.services.rotation_reminders import rotation_reminders_send
from secrets_app.services.secrets import SecretInput, secret_update
from tests.notifications.fixtures import deliver_all, notify_settings, smtp_server  # noqa: F401
from tests.secrets_app.conftest import put

START = datetime.datetime(2026, 3, 1, 9, 0, tzinfo=datetime.UTC)
VALUE = "rot-Val-93be1f"


def _policy(scope: Any, key: str = "DB_PASSWORD", days: int | None = 30, owner: Any = None, env: str = "dev") -> Any:
    return secret_rotation_policy_set(
        scope=scope, environment=env, path="/", key=key, interval_days=days, owner_id=owner.pk if owner else None
    )


@pytest.mark.django_db
def test_it_sets_and_clears_a_policy_with_the_right_to_edit_and_audits_it(cast):
    put(cast.scope(cast.alice), "DB_PASSWORD", VALUE)
    secret = _policy(cast.scope(cast.bob), owner=cast.bob)
    assert (secret.rotation_interval_days, secret.rotation_owner_id) == (30, cast.bob.pk)
    event = AuditEvent.objects.filter(action="secret.rotation_policy_set").order_by("-id").first()
    assert event.metadata == {"interval_days": 30, "owner": cast.bob.get_username()}
    assert event.resource_id == "DB_PASSWORD" and VALUE not in str(event.metadata)

    _policy(cast.scope(cast.alice), days=None)
    assert Secret.objects.get(key="DB_PASSWORD").rotation_interval_days is None
    assert Secret.objects.get(key="DB_PASSWORD").version == 1  # a policy writes no version


@pytest.mark.django_db
def test_it_refuses_the_policy_to_a_viewer_and_an_owner_outside_the_organization(cast):
    put(cast.scope(cast.alice), "DB_PASSWORD", VALUE)
    with pytest.raises(PermissionDenied):
        _policy(cast.scope(cast.dave))
    put(cast.scope(cast.alice), "DB_PASSWORD", VALUE, env="prod")
    with pytest.raises(NotFound):  # erin works in dev only: prod does not exist for her
        _policy(cast.scope(cast.erin), env="prod")
    with pytest.raises(ValidationFailed):
        _policy(cast.scope(cast.alice), owner=cast.mallory)
    with pytest.raises(ValidationFailed):
        _policy(cast.scope(cast.alice), days=0)
    assert Secret.objects.filter(rotation_interval_days__isnull=False).count() == 0


@pytest.mark.django_db
def test_it_computes_due_soon_and_overdue_from_the_newest_version(cast):
    scope = cast.scope(cast.alice)
    with time_machine.travel(START, tick=False):
        put(scope, "DB_PASSWORD", VALUE)
        put(scope, "NEVER_DUE", VALUE)
        _policy(scope, days=30, owner=cast.bob)
        _policy(scope, key="NEVER_DUE", days=365)
    with time_machine.travel(START + datetime.timedelta(days=22), tick=False):
        assert secrets_due(scope) == []  # due in 8 days: not yet "soon" (7)
    with time_machine.travel(START + datetime.timedelta(days=24), tick=False):
        [entry] = secrets_due(scope)
        assert (entry.key, entry.status, entry.owner) == ("DB_PASSWORD", "due_soon", cast.bob.get_username())
        assert entry.due_at == START + datetime.timedelta(days=30)
    with time_machine.travel(START + datetime.timedelta(days=31), tick=False):
        assert [entry.status for entry in secrets_due(scope)] == ["overdue"]
        secret_update(scope=scope, environment="dev", path="/", key="DB_PASSWORD", item=SecretInput(key="", value="n"))
        assert secrets_due(scope) == []  # a new value restarts the period
    # charlie is not in the project; erin sees dev only: the list is filtered like names are.
    with time_machine.travel(START + datetime.timedelta(days=70), tick=False):
        assert [entry.key for entry in secrets_due(cast.scope(cast.erin))] == ["DB_PASSWORD"]


@pytest.mark.django_db
def test_it_reminds_the_owner_once_per_due_period_without_the_value(cast, smtp_server, notify_settings):  # noqa: F811
    scope = cast.scope(cast.alice)
    with time_machine.travel(START, tick=False):
        put(scope, "DB_PASSWORD", VALUE)
        _policy(scope, days=10, owner=cast.bob)
    with time_machine.travel(START + datetime.timedelta(days=5), tick=False):
        assert rotation_reminders_send() == 1
        assert rotation_reminders_send() == 0  # the same period: once
    deliver_all()
    [mail] = smtp_server.messages
    assert mail["To"] == cast.bob.email and "DB_PASSWORD" in mail["Subject"]
    assert VALUE not in mail.as_string()
    with time_machine.travel(START + datetime.timedelta(days=12), tick=False):
        assert rotation_reminders_send() == 0  # now overdue, still the same due period
        secret_update(scope=scope, environment="dev", path="/", key="DB_PASSWORD", item=SecretInput(key="", value="n"))
    with time_machine.travel(START + datetime.timedelta(days=20), tick=False):
        assert rotation_reminders_send() == 1  # the next period is reminded again


@pytest.mark.django_db
def test_it_marks_a_revealed_value_due_only_where_the_environment_says_so(cast, smtp_server, notify_settings):  # noqa: F811
    scope = cast.scope(cast.alice)
    for env in ("dev", "prod"):
        put(scope, "DB_PASSWORD", VALUE, env=env)
        _policy(scope, days=90, owner=cast.bob, env=env)
    Environment.objects.filter(slug="prod").update(reveal_marks_due=True)
    heard: list[dict[str, Any]] = []

    def listener(**kwargs: Any) -> None:
        heard.append(kwargs)

    secret_revealed.connect(listener)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("django.db.transaction.on_commit", lambda fn, **_: fn())
            for env in ("dev", "prod"):
                secret = Secret.objects.get(environment__slug=env)
                marked = secret_reveal_record(
                    scope=cast.scope(cast.dave), secret_id=secret.pk, environment=env, path="/", key="DB_PASSWORD"
                )
                assert marked is (env == "prod")
    finally:
        secret_revealed.disconnect(listener)
    assert [(item["environment"], item["key"], item["actor"]) for item in heard] == [
        ("dev", "DB_PASSWORD", cast.dave),
        ("prod", "DB_PASSWORD", cast.dave),
    ]
    [entry] = secrets_due(scope)
    assert (entry.environment, entry.status) == ("prod", "overdue")
    assert AuditEvent.objects.filter(action="secret.rotation_marked_due", environment="prod").count() == 1
    deliver_all()
    [mail] = smtp_server.messages
    assert mail["To"] == cast.bob.email and "revealed" in mail.as_string() and VALUE not in mail.as_string()
