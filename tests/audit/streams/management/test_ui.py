"""The Audit streams pages: admins see and manage streams, members are refused, the add form is
built from the kind's fields and creates a tested stream, secrets are never rendered back."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from audit.models import AuditEvent
from audit.services import SYSTEM_ACTOR, audit_record
from audit.streams.models import AuditStream, ParkedAuditEvent, StreamState
from tests.audit.streams.management.conftest import BAD_TOKEN, GOOD_TOKEN, URL, make_stream
from tests.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("recording_kind", "public_dns")
PAGE = "/org/acme-org/audit/streams/"


def _login(user: Any) -> Client:
    client = Client()
    client.post("/login/", {"email": user.email, "password": PASSWORD})
    return client


def _add(client: Client, **fields: Any) -> Any:
    data = {
        "kind": "recording",
        "name": "siem",
        "lag_alert_seconds": "900",
        "start": "end",
        "test": "on",
        "url": URL,
        "token": GOOD_TOKEN,
        **fields,
    }
    return client.post(PAGE, data)


def test_the_page_renders_for_admins_with_an_add_form_per_kind_and_is_linked(cast: Any, admin: Any) -> None:
    client = _login(admin)

    page = client.get(PAGE)
    html = page.content.decode()

    assert page.status_code == 200
    assert "Audit streams" in html and "No streams yet." in html
    assert 'id="add-recording"' in html and 'name="token"' in html and 'type="password"' in html
    assert "From now on" in html and "From the beginning" in html
    assert PAGE in client.get("/org/acme-org/audit/").content.decode()  # the org audit page links it
    assert PAGE in client.get("/org/acme-org/people/").content.decode()  # and People (with the nav)


def test_members_and_outsiders_are_refused(cast: Any) -> None:
    stream = make_stream(cast)

    assert _login(cast.bob).get(PAGE).status_code == 403
    assert _login(cast.bob).post(f"{PAGE}{stream.public_id}/pause/").status_code == 403
    assert _login(cast.mallory).get(PAGE).status_code == 404
    assert AuditStream.objects.get(pk=stream.pk).state == StreamState.ACTIVE
    assert PAGE not in _login(cast.bob).get("/projects/").content.decode()  # no nav link for members


def test_the_form_creates_a_tested_stream_and_shows_it(cast: Any, admin: Any, recording_kind: Any) -> None:
    client = _login(admin)

    response = _add(client)

    assert response.status_code == 200, response.content.decode()[:2000]
    html = response.content.decode()
    assert "Stream siem added. The test event was accepted." in html
    stream = AuditStream.objects.get()
    assert stream.credential_names == ["token"] and recording_kind.tests[0]["credentials"] == {"token": GOOD_TOKEN}
    assert GOOD_TOKEN not in html
    assert AuditEvent.objects.filter(action="audit_stream.created", resource_id=str(stream.public_id)).exists()


def test_the_form_shows_why_a_stream_was_not_saved_next_to_the_field(cast: Any, admin: Any) -> None:
    client = _login(admin)

    private = _add(client, url="https://10.0.0.8/ingest")
    refused = _add(client, token=BAD_TOKEN)

    assert private.status_code == 422 and "non-public" in private.content.decode()
    assert refused.status_code == 422 and "HTTP 401" in refused.content.decode()
    assert BAD_TOKEN not in refused.content.decode()  # neither echoed in the reason nor re-filled
    assert not AuditStream.objects.exists()


def test_the_stream_page_edits_keeping_empty_secrets_and_replays(cast: Any, admin: Any, recording_kind: Any) -> None:
    events = [
        audit_record(action="user.logged_in", actor=SYSTEM_ACTOR, organization_id=cast.organization.pk)
        for _ in range(3)
    ]
    stream = make_stream(cast)
    AuditStream.objects.filter(pk=stream.pk).update(cursor_event_id=AuditEvent.objects.order_by("-id").first().pk)
    ParkedAuditEvent.objects.create(stream=stream, event_id=events[1].pk, status=413, error="HTTP 413 (too large)")
    client = _login(admin)
    path = f"{PAGE}{stream.public_id}/"

    detail = client.get(path).content.decode()
    saved = client.post(
        path, {"name": "siem-2", "lag_alert_seconds": "600", "test": "on", "url": URL, "token": "", "index": "main"}
    )
    replayed = client.post(f"{path}replay/", {"from_event_id": str(events[0].pk)})
    bad_replay = client.post(f"{path}replay/", {})

    assert "HTTP 413 (too large)" in detail and "leave empty to keep" in detail and GOOD_TOKEN not in detail
    assert saved.status_code == 200 and "Stream siem-2 saved." in saved.content.decode()
    assert recording_kind.tests[-1]["credentials"] == {"token": GOOD_TOKEN}
    assert replayed.status_code == 200 and f"after event {events[0].pk - 1}" in replayed.content.decode()
    assert bad_replay.status_code == 422 and "Give an event id or a time" in bad_replay.content.decode()
    stored = AuditStream.objects.get(pk=stream.pk)
    assert stored.name == "siem-2" and stored.config == {"url": URL, "index": "main"}
    assert stored.cursor_event_id == events[0].pk - 1 and not ParkedAuditEvent.objects.exists()


def test_the_list_buttons_pause_resume_test_and_delete_with_htmx(cast: Any, admin: Any) -> None:
    stream = make_stream(cast)
    client = _login(admin)
    base = f"{PAGE}{stream.public_id}/"

    paused = client.post(f"{base}pause/", HTTP_HX_REQUEST="true").content.decode()
    assert 'id="streams"' in paused and "<html" not in paused and "Paused" in paused and "Resume" in paused
    resumed = client.post(f"{base}resume/", HTTP_HX_REQUEST="true").content.decode()
    assert "resumed" in resumed
    tested = client.post(f"{base}test/", HTTP_HX_REQUEST="true").content.decode()
    assert "Test event to siem accepted" in tested
    refreshed = client.get(PAGE, HTTP_HX_REQUEST="true").content.decode()
    assert refreshed.lstrip().startswith('<section class="card" id="streams"') and "every 5s" in refreshed
    deleted = client.post(f"{base}delete/", HTTP_HX_REQUEST="true").content.decode()
    assert "Stream siem deleted." in deleted and not AuditStream.objects.exists()
