"""The organization's audit settings (retention): org admins read and change them, audited."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEvent
from secrets_app.models import Organization

pytestmark = pytest.mark.django_db

URL = "/api/v1/organizations/acme-org/audit-settings/"


@pytest.fixture
def olivia(cast: Any) -> Any:
    """An admin of acme-org."""
    from secrets_app.models import OrgRole
    from secrets_app.services.users import user_create

    return user_create(
        email="olivia@example.com", password="x" * 16, organization=cast.organization, org_role=OrgRole.ADMIN
    )


def test_an_admin_reads_and_changes_retention_and_it_is_audited(olivia: Any, api: Any) -> None:
    admin = api(olivia)

    before = admin.get(URL)
    changed = admin.patch(URL, {"retentionDays": 730}, format="json")

    assert before.status_code == 200 and before.json() == {"retentionDays": 365}
    assert changed.status_code == 200 and changed.json() == {"retentionDays": 730}
    assert Organization.objects.get(slug="acme-org").audit_retention_days == 730
    event = AuditEvent.objects.filter(action="audit.retention_changed").latest("id")
    assert event.metadata == {"from_days": 365, "to_days": 730}


@pytest.mark.parametrize("value", [0, -1, 36501, "a year", None])
def test_bad_retention_is_a_400_naming_the_field_and_changes_nothing(olivia: Any, api: Any, value: Any) -> None:
    response = api(olivia).patch(URL, {"retentionDays": value}, format="json")

    assert response.status_code == 400
    assert "retentionDays" in response.content.decode()
    assert Organization.objects.get(slug="acme-org").audit_retention_days == 365


def test_a_member_may_not_change_retention(seeded: Any, api: Any) -> None:
    response = api(seeded.charlie).patch(URL, {"retentionDays": 1}, format="json")

    assert response.status_code == 403
    assert Organization.objects.get(slug="acme-org").audit_retention_days == 365
