"""Temporary access grants are enforced by the permission check itself: open while
``starts_at <= now < ends_at`` and not revoked, never wider than their rules, and they end at their
end time with no worker running."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from audit.models import AuditEvent
from secrets_app.errors import NotFound, PermissionDenied, ValidationFailed
from secrets_app.principals import Principal
from secrets_app.selectors.access import project_list_for_principal
from secrets_app.selectors.temporary_grants import temporary_grants_for
from secrets_app.services.members import role_create
from secrets_app.services.temporary_grants import (
    temporary_grant_create,
    temporary_grant_revoke,
    temporary_grants_tidy,
)
from tests.secrets_app.conftest import put, value_of

pytestmark = pytest.mark.django_db
START = datetime.datetime(2030, 1, 6, 9, 0, tzinfo=datetime.UTC)
REFUSED = (NotFound, PermissionDenied)
READ = ["secrets.read", "secrets.read_value", "folders.read"]


def _rules(env: str = "prod", path: str = "/payments/**", actions: list[str] = READ) -> list[dict[str, Any]]:
    return [{"effect": "allow", "action": action, "environments": [env], "path": path} for action in actions]


def _grant(cast: Any, user: Any, *, minutes: int = 60, **rules: Any) -> Any:
    now = timezone.now()
    return temporary_grant_create(
        project=cast.project,
        user=user,
        rules=_rules(**rules),
        starts_at=now,
        ends_at=now + datetime.timedelta(minutes=minutes),
        reason="incident 4711: payments down",
        source="test",
        created_by=cast.alice,
    )


def _seed(cast: Any) -> None:
    alice = cast.scope(cast.alice)
    from secrets_app.services.folders import folder_create

    folder_create(scope=alice, environment="prod", path="/", name="payments")
    folder_create(scope=alice, environment="prod", path="/", name="payments-other")
    put(alice, "STRIPE_KEY", "sk_live_1", env="prod", path="/payments")
    put(alice, "OTHER", "o", env="prod", path="/payments-other")
    put(alice, "ROOT", "r", env="prod", path="/")
    put(alice, "STRIPE_KEY", "sk_test_1", env="staging", path="/")


def test_it_gives_a_person_with_no_membership_exactly_the_granted_rules(cast: Any) -> None:
    with time_machine.travel(START, tick=False):
        _seed(cast)
        with pytest.raises(REFUSED):
            value_of(cast.scope(cast.charlie), "STRIPE_KEY", env="prod", path="/payments")
        _grant(cast, cast.charlie)

        scope = cast.scope(cast.charlie)
        assert scope.access.role == "temporary"
        assert value_of(scope, "STRIPE_KEY", env="prod", path="/payments") == "sk_live_1"
        assert [p.slug for p in project_list_for_principal(Principal.for_user(cast.charlie))] == ["acme"]
        # never wider than its rules: other folders, look-alike names, other environments, writes
        with pytest.raises(REFUSED):
            value_of(scope, "OTHER", env="prod", path="/payments-other")
        with pytest.raises(REFUSED):
            value_of(scope, "ROOT", env="prod", path="/")
        with pytest.raises(REFUSED):
            value_of(scope, "STRIPE_KEY", env="staging", path="/")
        assert not scope.access.can("secrets.edit", environment="prod", path="/payments", tags=[])
        assert not scope.access.can("members.read")


def test_it_stops_at_the_end_time_with_no_worker_running(cast: Any) -> None:
    with time_machine.travel(START, tick=False) as clock:
        _seed(cast)
        _grant(cast, cast.charlie, minutes=30)
        clock.shift(datetime.timedelta(minutes=29, seconds=59))
        assert value_of(cast.scope(cast.charlie), "STRIPE_KEY", env="prod", path="/payments") == "sk_live_1"
        assert [g.seconds_left for g in temporary_grants_for(cast.charlie)] == [1]

        clock.shift(datetime.timedelta(seconds=1))  # == ends_at: closed (no tidy-up has run)

        with pytest.raises(REFUSED):
            value_of(cast.scope(cast.charlie), "STRIPE_KEY", env="prod", path="/payments")
        assert list(project_list_for_principal(Principal.for_user(cast.charlie))) == []
        assert list(temporary_grants_for(cast.charlie)) == []


def test_it_does_not_open_before_the_start_time(cast: Any) -> None:
    with time_machine.travel(START, tick=False):
        _seed(cast)
        temporary_grant_create(
            project=cast.project,
            user=cast.charlie,
            rules=_rules(),
            starts_at=START + datetime.timedelta(hours=1),
            ends_at=START + datetime.timedelta(hours=2),
            created_by=cast.alice,
        )
        assert cast.scope(cast.charlie).access.role == "no-access"


def test_a_revoke_works_at_once_and_is_audited_once(cast: Any) -> None:
    with time_machine.travel(START, tick=False):
        _seed(cast)
        grant = _grant(cast, cast.charlie)
        assert value_of(cast.scope(cast.charlie), "STRIPE_KEY", env="prod", path="/payments") == "sk_live_1"

        temporary_grant_revoke(grant=grant, by=cast.alice)
        temporary_grant_revoke(grant=grant, by=cast.alice)  # idempotent

        with pytest.raises(REFUSED):
            value_of(cast.scope(cast.charlie), "STRIPE_KEY", env="prod", path="/payments")
        assert AuditEvent.objects.filter(action="access.revoked", resource_id=str(grant.pk)).count() == 1


def test_a_deny_rule_of_the_persons_role_still_wins(cast: Any) -> None:
    with time_machine.travel(START, tick=False):
        _seed(cast)
        alice = cast.scope(cast.alice)
        role_create(
            scope=alice,
            slug="no-prod-values",
            name="No prod values",
            rules=[
                {"effect": "allow", "action": "secrets.read"},
                {"effect": "deny", "action": "secrets.read_value", "environments": ["prod"]},
            ],
        )
        from secrets_app.services.members import member_add

        member_add(scope=alice, email=cast.charlie.email, role="no-prod-values")
        _grant(cast, cast.charlie)

        scope = cast.scope(cast.charlie)
        assert scope.access.role == "no-prod-values+temporary"
        assert not scope.access.can("secrets.read_value", environment="prod", path="/payments", tags=[])


def test_a_members_grant_adds_to_their_role(cast: Any) -> None:
    with time_machine.travel(START, tick=False):
        _seed(cast)
        # dave is a viewer: names but no values
        assert not cast.scope(cast.dave).access.can("secrets.read_value", environment="prod", path="/payments")
        _grant(cast, cast.dave)
        scope = cast.scope(cast.dave)
        assert scope.access.role == "viewer+temporary"
        assert value_of(scope, "STRIPE_KEY", env="prod", path="/payments") == "sk_live_1"
        assert not scope.access.can("secrets.read_value", environment="prod", path="/")


def test_the_tidy_up_records_each_ended_grant_once(cast: Any) -> None:
    with time_machine.travel(START, tick=False) as clock:
        ended = _grant(cast, cast.charlie, minutes=5)
        revoked = _grant(cast, cast.dave, minutes=5)
        temporary_grant_revoke(grant=revoked, by=cast.alice)
        running = _grant(cast, cast.erin, minutes=60)
        assert temporary_grants_tidy() == 0

        clock.shift(datetime.timedelta(minutes=6))

        assert temporary_grants_tidy() == 1
        assert temporary_grants_tidy() == 0
        expired = AuditEvent.objects.filter(action="access.expired")
        assert [e.resource_id for e in expired] == [str(ended.pk)]
        assert "incident" not in str(expired[0].metadata)
        granted = AuditEvent.objects.get(action="access.granted", resource_id=str(running.pk))
        assert granted.metadata["grantee"] == f"user:{cast.erin.pk}"
        assert "incident" not in str(granted.metadata)


def test_it_refuses_a_grant_with_an_empty_window_or_unknown_action(cast: Any) -> None:
    now = timezone.now()
    with pytest.raises(ValidationFailed):
        temporary_grant_create(project=cast.project, user=cast.charlie, rules=_rules(), starts_at=now, ends_at=now)
    with pytest.raises(ValidationFailed):
        temporary_grant_create(
            project=cast.project,
            user=cast.charlie,
            rules=_rules(actions=["secrets.fly"]),
            starts_at=now,
            ends_at=now + datetime.timedelta(minutes=1),
        )


def test_a_deactivated_persons_grant_grants_nothing(cast: Any) -> None:
    with time_machine.travel(START, tick=False):
        _seed(cast)
        _grant(cast, cast.charlie)
        cast.charlie.is_active = False
        cast.charlie.save(update_fields=["is_active"])
        assert cast.scope(cast.charlie).access.role == "no-access"
