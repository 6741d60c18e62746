from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from audit.maintenance import audit_maintenance
from audit.models import AuditEvent, Outcome
from audit.selectors import audit_event_actions, audit_event_list
from tests.audit.conftest import ALICE, BOB, CHARLIE, RecordEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def log(record_event: RecordEvent) -> dict[str, AuditEvent]:
    return {
        "alice_created": record_event(
            "secret.created",
            actor=ALICE,
            environment="prod",
            path="/backend/DB_PASS",
            resource_type="secret",
            resource_id="41",
        ),
        "bob_read": record_event(
            "secret.value_read",
            actor=BOB,
            environment="dev",
            path="/backend/API_KEY",
            resource_type="secret",
            resource_id="42",
        ),
        "charlie_denied": record_event(
            "secret.value_read",
            actor=CHARLIE,
            outcome=Outcome.DENY,
            environment="prod",
            path="/backend/DB_PASS",
            resource_type="secret",
            resource_id="41",
        ),
        "other_project": record_event("secret.created", actor=BOB, project_id=20),
        "org_login": record_event("user.logged_in", actor=ALICE, project_id=None),
        "other_org": record_event("secret.created", actor=ALICE, organization_id=2, project_id=30),
    }


def _ids(events: object) -> set[int]:
    return {event.pk for event in events}  # type: ignore[attr-defined]


def _list(filters: dict[str, object], project_ids: list[int] | None = [10]) -> set[int]:  # noqa: B006
    return _ids(audit_event_list(project_ids=project_ids, organization_id=1, filters=filters))


def test_it_limits_the_list_to_the_callers_projects_and_organization(log: dict[str, AuditEvent]) -> None:
    assert _list({}) == _ids([log["alice_created"], log["bob_read"], log["charlie_denied"]])
    assert _list({}, project_ids=[]) == set()
    # An organization-wide reader also sees events outside any project, never another organization's.
    everything_in_org = _list({}, project_ids=None)
    assert log["org_login"].pk in everything_in_org
    assert log["other_org"].pk not in everything_in_org


def test_it_filters_by_exact_action_or_prefix(log: dict[str, AuditEvent]) -> None:
    assert _list({"action": "secret.created"}) == {log["alice_created"].pk}
    assert _list({"action": "secret."}, project_ids=None) == _list({"action": "secret.*"}, project_ids=None)
    assert log["org_login"].pk not in _list({"action": "secret."}, project_ids=None)
    assert _list({"action": "secret"}) == set()


def test_it_filters_by_actor_label_or_typed_id(log: dict[str, AuditEvent]) -> None:
    assert _list({"actor": "CHAR"}) == {log["charlie_denied"].pk}
    assert _list({"actor": f"user:{BOB.id}"}) == {log["bob_read"].pk}
    # A machine with bob's number is another actor, and a bare number is no id at all.
    assert _list({"actor": f"identity:{BOB.id}"}) == set()
    assert _list({"actor": BOB.id}) == set()


def test_it_filters_by_outcome_environment_and_resource(log: dict[str, AuditEvent]) -> None:
    assert _list({"outcome": "deny"}) == {log["charlie_denied"].pk}
    assert _list({"environment": "dev"}) == {log["bob_read"].pk}
    assert _list({"resource": "secret:41"}) == _ids([log["alice_created"], log["charlie_denied"]])
    assert _list({"resource": "api_key"}) == {log["bob_read"].pk}


def test_it_filters_by_time_window(log: dict[str, AuditEvent]) -> None:
    old = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    with audit_maintenance():
        AuditEvent.objects.filter(pk=log["alice_created"].pk).update(occurred_at=old)

    assert _list({"until": "2026-01-01T12:00:00"}) == {log["alice_created"].pk}
    assert log["alice_created"].pk not in _list({"since": old + timedelta(seconds=1)})
    with pytest.raises(ValueError, match="since"):
        _list({"since": "yesterday"})


def test_it_ignores_empty_filters_and_refuses_unknown_ones(log: dict[str, AuditEvent]) -> None:
    assert _list({"action": "", "actor": None}) == _list({})
    with pytest.raises(ValueError, match="acton"):
        _list({"acton": "secret.created"})


def test_it_lists_newest_first(log: dict[str, AuditEvent]) -> None:
    ids = [event.pk for event in audit_event_list(project_ids=[10], organization_id=1, filters={})]

    assert ids == sorted(ids, reverse=True)


def test_it_lists_distinct_actions_for_the_filter_menu(log: dict[str, AuditEvent]) -> None:
    assert audit_event_actions() == ["secret.created", "secret.value_read", "user.logged_in"]
    assert audit_event_actions(project_ids=[20], organization_id=1) == ["secret.created"]
