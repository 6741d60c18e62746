"""Export links on the project audit page, and the organization audit page for org admins."""

from __future__ import annotations

import html as html_lib
import json
import re
from typing import Any

import pytest
from django.db import transaction

from audit.models import AuditEvent
from audit.services import SYSTEM_ACTOR, audit_record
from tests.ui.conftest import HX, assert_csp_clean, assert_no_values

pytestmark = pytest.mark.django_db

ORG_PAGE = "/org/acme-org/audit/"


def _hrefs(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}" href="([^"]+)"', html)
    assert match, f"no #{element_id}"
    return html_lib.unescape(match.group(1))


def _download(client: Any, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    assert response["Content-Disposition"].startswith("attachment;")
    return b"".join(response.streaming_content).decode()


@pytest.fixture
def olivia(seeded: Any) -> Any:
    from secrets_app.models import OrgRole
    from secrets_app.services.users import user_create

    with transaction.atomic():
        audit_record(action="identity.login_failed", actor=SYSTEM_ACTOR, organization_id=seeded.organization.pk)
    return user_create(
        email="olivia@example.com", password="x" * 16, organization=seeded.organization, org_role=OrgRole.ADMIN
    )


def test_it_links_exports_carrying_the_current_filters(login: Any, seeded: Any) -> None:
    client = login(seeded.alice)
    html = client.get("/projects/acme/audit/", {"action": "secret.created", "environment": "prod"}).content.decode()

    href = _hrefs(html, "export-jsonl")
    assert href.startswith("/projects/acme/audit/export/?") and "action=secret.created" in href
    assert "environment=prod" in href and href.endswith("format=jsonl")
    assert _hrefs(html, "export-csv").endswith("format=csv")
    rows = [json.loads(line) for line in _download(client, href).splitlines()]
    assert [row["environment"] for row in rows if row["action"] == "secret.created"] == ["prod", "prod"]
    assert_no_values(json.dumps(rows))
    assert AuditEvent.objects.filter(action="audit.exported", actor_label="alice@example.com").count() == 1


def test_it_refuses_the_project_export_without_audit_read(login: Any, seeded: Any) -> None:
    assert login(seeded.dave).get("/projects/acme/audit/export/?format=jsonl").status_code == 403
    assert login(seeded.charlie).get("/projects/acme/audit/export/?format=jsonl").status_code == 404
    assert login(seeded.alice).get("/projects/acme/audit/export/?format=xml").status_code == 400
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


def test_it_shows_org_admins_the_organization_log_with_export_links(login: Any, seeded: Any, olivia: Any) -> None:
    client = login(olivia)
    people = client.get("/org/acme-org/people/").content.decode()
    assert 'id="org-audit"' in people

    response = client.get(ORG_PAGE)
    assert response.status_code == 200
    assert_csp_clean(response)
    html = response.content.decode()
    assert "identity.login_failed" in html and "user.created" in html and "secret.created" not in html
    everything = client.get(ORG_PAGE, {"scope": "all", "action": "secret.created"}, **HX).content.decode()
    assert everything.lstrip().startswith('<section class="card" id="results">')
    assert "secret.created" in everything and "Acme app" in everything
    href = _hrefs(everything, "export-csv")
    assert href.startswith("/org/acme-org/audit/export/?") and "scope=all" in href
    assert _download(client, href).count("secret.created") >= 4
    assert AuditEvent.objects.filter(action="audit.log_read", actor_label="olivia@example.com").count() == 2


def test_it_refuses_the_organization_log_to_members_and_outsiders(login: Any, seeded: Any) -> None:
    assert 'id="org-audit"' not in login(seeded.alice).get("/org/acme-org/people/").content.decode()
    for who in (seeded.alice, seeded.charlie):
        assert login(who).get(ORG_PAGE).status_code == 403
        assert login(who).get(ORG_PAGE + "export/?format=jsonl").status_code == 403
    assert login(seeded.mallory).get(ORG_PAGE).status_code == 404
    assert AuditEvent.objects.filter(action="permission.denied", actor_label="charlie@example.com").exists()


def test_it_shows_people_s_logins_in_their_organization_s_log(login: Any, seeded: Any, olivia: Any) -> None:
    from django.contrib.auth import authenticate
    from django.test import Client

    Client().login(username="alice@example.com", password="x" * 16)  # wrong password: a failure
    authenticate(username="nobody@example.com", password="x")
    Client().force_login(seeded.bob)

    html = login(olivia).get(ORG_PAGE, {"action": "user."}).content.decode()
    assert "user.logged_in" in html and "bob@example.com" in html and "user.login_failed" in html
    unknown = AuditEvent.objects.get(action="user.login_failed", metadata__username="nobody@example.com")
    assert unknown.organization_id is None  # no organization to show it to: platform-level


def test_an_org_admin_changes_retention_on_the_organization_log(login: Any, seeded: Any, olivia: Any) -> None:
    client = login(olivia)

    page = client.get(ORG_PAGE).content.decode()
    saved = client.post(ORG_PAGE + "retention/", {"retention_days": "730"}, **HX)
    refused = client.post(ORG_PAGE + "retention/", {"retention_days": "0"}, **HX)

    assert 'id="retention-days"' in page and 'value="365"' in page
    assert saved.status_code == 200 and "are now kept 730 days" in saved.content.decode()
    assert (
        refused.status_code == 400
        and "Days: must be a whole number of days from 1 to 36500" in refused.content.decode()
    )
    seeded.organization.refresh_from_db()
    assert seeded.organization.audit_retention_days == 730
    assert AuditEvent.objects.get(action="audit.retention_changed").metadata == {"from_days": 365, "to_days": 730}


def test_members_cannot_change_retention(login: Any, seeded: Any) -> None:
    response = login(seeded.charlie).post(ORG_PAGE + "retention/", {"retention_days": "1"}, **HX)

    assert response.status_code == 403
    seeded.organization.refresh_from_db()
    assert seeded.organization.audit_retention_days == 365
