"""The organization's dynamic secret target allowlist page: org admins read and replace it (audited),
bad entries get a readable error and change nothing, members are refused."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEvent
from dynamic.selectors import target_allowlist
from tests.ui.conftest import HX, assert_csp_clean

pytestmark = pytest.mark.django_db
PAGE = "/org/acme-org/dynamic-targets/"


@pytest.fixture
def olivia(seeded: Any) -> Any:
    """An admin of acme-org."""
    from secrets_app.models import OrgRole
    from secrets_app.services.users import user_create

    return user_create(
        email="olivia@example.com", password="x" * 16, organization=seeded.organization, org_role=OrgRole.ADMIN
    )


def test_an_org_admin_replaces_the_allowlist_from_the_people_page(login: Any, seeded: Any, olivia: Any) -> None:
    client = login(olivia)

    people = client.get("/org/acme-org/people/").content.decode()
    page = client.get(PAGE)
    saved = client.post(PAGE, {"entries": "db.internal.example.com\n\n10.20.0.0/16\n"}, **HX)

    assert 'id="dynamic-targets"' in people and PAGE in people
    assert page.status_code == 200
    assert_csp_clean(page)
    assert saved.status_code == 200 and "Saved: 2 entries." in saved.content.decode()
    assert target_allowlist(seeded.organization.pk) == ["db.internal.example.com", "10.20.0.0/16"]
    event = AuditEvent.objects.get(action="dynamic_targets.updated")
    assert event.metadata["added"] == ["10.20.0.0/16", "db.internal.example.com"]


def test_a_bad_entry_is_a_readable_error_and_changes_nothing(login: Any, seeded: Any, olivia: Any) -> None:
    client = login(olivia)
    client.post(PAGE, {"entries": "10.0.0.1"}, **HX)

    refused = client.post(PAGE, {"entries": "10.0.0.1\nnot a host!"}, **HX)

    assert refused.status_code == 400
    assert "not a host!" in refused.content.decode()  # the textarea keeps what was typed
    assert "alert-danger" in refused.content.decode()
    assert target_allowlist(seeded.organization.pk) == ["10.0.0.1"]


def test_members_cannot_see_or_change_it(login: Any, seeded: Any) -> None:
    client = login(seeded.charlie)

    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, {"entries": "0.0.0.0/0"}, **HX).status_code == 403
    assert target_allowlist(seeded.organization.pk) == []


def test_another_organization_s_admin_gets_not_found(login: Any, seeded: Any) -> None:
    client = login(seeded.mallory)  # an admin, but of another organization

    assert client.get(PAGE).status_code == 404
    assert client.post(PAGE, {"entries": "0.0.0.0/0"}, **HX).status_code == 404
    assert target_allowlist(seeded.organization.pk) == []
