# ruff: noqa: F811  (the history fixture is imported, then named by the tests)
"""Environment parity (governance/selectors/parity.py): missing, extra and same-value keys between
two environments, as the system and as a person who may see only part of them."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from governance.selectors.parity import PARITY_CHECKED, Unknown, environment_parity, parity_between
from secrets_app.errors import NotFound, PermissionDenied, ValidationFailed
from secrets_app.models import Environment, Secret
from secrets_app.services.members import member_update, role_create
from secrets_app.services.secrets import SecretInput, secret_create
from tests.governance.parity_fixtures import ALL_VALUES, history  # noqa: F401  (the fixture)


def _env(cast: Any, slug: str) -> Environment:
    return Environment.objects.get(project=cast.project, slug=slug)


def _between(cast: Any, source: str, target: str, **kwargs: Any) -> Any:
    return parity_between(
        project=cast.project,
        source_environment=_env(cast, source),
        target_environment=_env(cast, target),
        **kwargs,
    )


@pytest.mark.django_db
def test_it_lists_missing_extra_and_same_value_keys_from_staging_to_prod(history):
    report = _between(history, "staging", "prod")
    assert report.missing == [("/", "NEW_FLAG"), ("/backend/api", "CACHE")]
    assert report.extra == [("/", "LEGACY")]
    assert report.same_value == [("/", "API_TOKEN"), ("/backend/api", "API_KEY")]
    assert report.unknown == []
    assert report.compared == 3
    assert report.ok is False
    for value in ALL_VALUES:
        assert value not in repr(report)


@pytest.mark.django_db
def test_it_holds_parity_when_nothing_is_missing_and_reads_the_other_way_round(history):
    report = _between(history, "prod", "staging", paths=["/backend/**"])
    assert report.missing == []
    assert report.extra == [("/backend/api", "CACHE")]
    assert report.same_value == [("/backend/api", "API_KEY")]
    assert report.ok is True


@pytest.mark.django_db
def test_it_compares_only_the_folder_when_not_recursive(history):
    report = _between(history, "staging", "prod", paths=["/"], recursive=False)
    assert report.missing == [("/", "NEW_FLAG")]
    assert report.same_value == [("/", "API_TOKEN")]


@pytest.mark.django_db
def test_it_counts_a_quarantined_secret_as_present_and_marks_it(history):
    Secret.objects.filter(environment__slug="prod", key="API_TOKEN", project=history.project).update(
        quarantined_at=timezone.now()
    )
    report = _between(history, "staging", "prod")
    assert ("/", "API_TOKEN") not in report.missing
    assert report.quarantined == {"prod": [("/", "API_TOKEN")]}
    assert report.is_quarantined("prod", ("/", "API_TOKEN"))


@pytest.mark.django_db
def test_it_ignores_personal_overrides(history):
    scope = history.scope(history.bob)
    secret_create(
        scope=scope,
        environment="prod",
        path="/",
        item=SecretInput(key="NEW_FLAG", value="mine"),
        secret_type="personal",
    )
    report = _between(history, "staging", "prod")
    assert ("/", "NEW_FLAG") in report.missing


@pytest.mark.django_db
def test_it_reports_to_an_admin_and_records_one_event_without_values(history):
    start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    report = environment_parity(history.scope(history.alice), source="staging", target="prod")
    assert report.missing == [("/", "NEW_FLAG"), ("/backend/api", "CACHE")]
    assert report.same_value == [("/", "API_TOKEN"), ("/backend/api", "API_KEY")]
    events = list(AuditEvent.objects.filter(id__gt=start))
    assert [event.action for event in events] == [PARITY_CHECKED]
    metadata = events[0].metadata
    assert (metadata["source"], metadata["target"]) == ("staging", "prod")
    assert (metadata["missing"], metadata["extra"]) == (2, 1)
    assert metadata["missing_keys"] == ["/:NEW_FLAG", "/backend/api:CACHE"]
    assert metadata["same_value_keys"] == ["/:API_TOKEN", "/backend/api:API_KEY"]
    for value in ALL_VALUES:
        assert value not in str(metadata)


@pytest.mark.django_db
def test_it_says_unknown_not_same_to_a_member_who_may_read_values_only_in_staging(history):
    alice = history.scope(history.alice)
    role_create(
        scope=alice,
        slug="staging-values",
        name="Values in staging only",
        rules=[
            {"effect": "allow", "action": "secrets.read", "environments": ["staging", "prod"]},
            {"effect": "allow", "action": "secrets.read_value", "environments": ["staging"]},
        ],
    )
    from secrets_app.models import ProjectMembership

    membership = ProjectMembership.objects.get(project=history.project, user=history.bob)
    member_update(scope=alice, membership_id=membership.pk, role="staging-values")
    report = environment_parity(history.scope(history.bob), source="staging", target="prod")
    assert report.same_value == []
    assert report.missing == [("/", "NEW_FLAG"), ("/backend/api", "CACHE")]
    assert report.extra == [("/", "LEGACY")]
    assert report.unknown == [
        ("/", "API_TOKEN", Unknown.VALUE),
        ("/", "DATABASE_URL", Unknown.VALUE),
        ("/backend/api", "API_KEY", Unknown.VALUE),
    ]


@pytest.mark.django_db
def test_it_says_unknown_presence_where_the_caller_may_not_list_the_other_side(history):
    alice = history.scope(history.alice)
    role_create(
        scope=alice,
        slug="no-prod-backend",
        name="Everything but prod's backend",
        rules=[
            {"effect": "allow", "action": "secrets.*"},
            {"effect": "deny", "action": "secrets.*", "environments": ["prod"], "path": "/backend/**"},
        ],
    )
    from secrets_app.models import ProjectMembership

    membership = ProjectMembership.objects.get(project=history.project, user=history.bob)
    member_update(scope=alice, membership_id=membership.pk, role="no-prod-backend")
    report = environment_parity(history.scope(history.bob), source="staging", target="prod")
    assert report.missing == [("/", "NEW_FLAG")]
    assert ("/backend/api", "API_KEY", Unknown.PRESENCE) in report.unknown
    assert ("/backend/api", "CACHE", Unknown.PRESENCE) in report.unknown


@pytest.mark.django_db
def test_it_refuses_without_read_in_both_environments(history):
    with pytest.raises(NotFound):  # erin (dev only) does not even see prod
        environment_parity(history.scope(history.erin), source="dev", target="prod")
    with pytest.raises(NotFound):
        environment_parity(history.scope(history.charlie), source="staging", target="prod")


@pytest.mark.django_db
def test_it_refuses_a_path_the_caller_may_not_read_in_one_environment(history):
    alice = history.scope(history.alice)
    role_create(
        scope=alice,
        slug="prod-root-only",
        name="Prod root only",
        rules=[
            {"effect": "allow", "action": "secrets.read", "environments": ["staging"]},
            {"effect": "allow", "action": "secrets.read", "environments": ["prod"], "path": "/"},
        ],
    )
    from secrets_app.models import ProjectMembership

    membership = ProjectMembership.objects.get(project=history.project, user=history.bob)
    member_update(scope=alice, membership_id=membership.pk, role="prod-root-only")
    with pytest.raises(PermissionDenied):
        environment_parity(history.scope(history.bob), source="staging", target="prod", path="/backend")


@pytest.mark.django_db
def test_it_rejects_comparing_an_environment_with_itself(history):
    with pytest.raises(ValidationFailed) as raised:
        environment_parity(history.scope(history.alice), source="prod", target="prod")
    assert "target" in raised.value.fields


@pytest.mark.django_db
def test_it_compares_keys_only_when_asked_to(history):
    report = _between(history, "staging", "prod", compare_values=False)
    assert report.missing == [("/", "NEW_FLAG"), ("/backend/api", "CACHE")]
    assert (report.same_value, report.compared) == ([], 0)
