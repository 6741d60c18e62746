"""The audit log viewer: who may read it, filters, pages, and reading it is itself audited."""

from __future__ import annotations

import re

import pytest

from audit.models import AuditEvent
from tests.ui.conftest import HX, assert_no_values

PAGE = "/projects/acme/audit/"


@pytest.mark.django_db
def test_it_shows_the_project_log_to_members(login, seeded):
    response = login(seeded.bob).get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "secret.created" in html and "DATABASE_URL" in html and "alice@example.com" in html
    assert "Allowed" in html
    assert "evil" not in html  # another organization's project never shows
    assert_no_values(html)


@pytest.mark.django_db
def test_it_refuses_the_log_without_audit_read(login, seeded):
    assert login(seeded.dave).get(PAGE).status_code == 403
    assert login(seeded.erin).get(PAGE).status_code == 403
    assert AuditEvent.objects.filter(
        action="permission.denied", actor_label="dave@example.com", metadata__requested_action="audit.read"
    ).exists()


@pytest.mark.django_db
def test_it_audits_reading_the_log(login, seeded):
    login(seeded.alice).get(PAGE, {"action": "secret.*"})
    event = AuditEvent.objects.filter(action="audit.log_read").order_by("-id").first()
    assert event is not None and event.actor_label == "alice@example.com"
    assert event.project_id == seeded.project.pk and event.metadata["filters"] == {"action": "secret.*"}


@pytest.mark.django_db
def test_it_filters_with_one_url_for_page_and_fragment(login, seeded):
    client = login(seeded.alice)
    response = client.get(PAGE, {"action": "secret.created", "environment": "prod"}, **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="results">')
    rows = html.split("<tbody>")[1]
    assert rows.count("secret.created") == 2 and "staging" not in rows and ">dev<" not in rows
    denied = client.get(PAGE, {"outcome": "deny"}, **HX).content.decode()
    assert "No events match" in denied
    login(seeded.dave).get("/projects/acme/secrets/value/?environment=dev&path=/&key=DATABASE_URL")
    denied = client.get(PAGE, {"outcome": "deny", "actor": "dave"}, **HX).content.decode()
    assert "permission.denied" in denied and "Denied" in denied
    bad = client.get(PAGE, {"since": "not-a-date"}, **HX)
    assert bad.status_code == 422


@pytest.mark.django_db
def test_it_loads_more_events_page_by_page(login, seeded):
    from audit.services import audit_record
    from secrets_app.selectors import audit_reads

    actor = seeded.scope(seeded.alice).audit_actor()
    for index in range(audit_reads.PAGE_SIZE + 5):
        audit_record(
            action="secret.listed",
            actor=actor,
            organization_id=seeded.organization.pk,
            project_id=seeded.project.pk,
            environment="dev",
            resource_type="secret",
            resource_id=f"bulk-{index}",
        )
    client = login(seeded.alice)
    first = client.get(PAGE, {"action": "secret.listed"}, **HX).content.decode()
    assert first.count("bulk-") == audit_reads.PAGE_SIZE
    assert 'id="load-more"' in first
    more_url = first.split('hx-get="')[-1].split('"')[0].replace("&amp;", "&")
    assert "before=" in more_url and "action=secret.listed" in more_url
    more = client.get(more_url, **HX).content.decode()
    assert more.lstrip().startswith("<tr>")
    assert more.count("bulk-") == 5 and 'id="load-more"' not in more
    shown = set(re.findall(r"bulk-\d+", first + more))
    assert len(shown) == audit_reads.PAGE_SIZE + 5
