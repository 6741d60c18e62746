"""The audit streams API: CRUD for org admins, credentials never in a response, 4xx naming the
field, replay moving the cursor as documented, and the kinds list built from the plugins."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEvent
from audit.services import SYSTEM_ACTOR, audit_record
from audit.streams.models import AuditStream, ParkedAuditEvent
from tests.audit.streams.management.conftest import BAD_TOKEN, GOOD_TOKEN, URL, make_stream

pytestmark = pytest.mark.usefixtures("recording_kind", "public_dns")
BASE = "/api/v1/organizations/acme-org/audit-streams/"


def _error(response: Any) -> dict[str, Any]:
    return dict(response.json()["error"])


def test_it_creates_reads_lists_updates_and_deletes_a_stream_without_returning_credentials(
    cast: Any, admin: Any, api: Any, recording_kind: Any
) -> None:
    alice = api(admin)
    created = alice.post(
        BASE,
        {
            "kind": "recording",
            "name": "siem",
            "config": {"url": URL},
            "credentials": {"token": GOOD_TOKEN},
            "lagAlertSeconds": 300,
            "start": "beginning",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["credentialNames"] == ["token"] and body["config"] == {"url": URL}
    assert body["lastTestStatus"] == "ok" and body["lagAlertSeconds"] == 300 and body["organization"] == "acme-org"
    assert body["status"]["state"] == "active" and body["status"]["cursorEventId"] == 0
    assert body["status"]["lagEvents"] >= 2  # at least its own created/tested events
    stream_path = f"{BASE}{body['id']}/"

    read = alice.get(stream_path)
    listed = alice.get(BASE)
    renamed = alice.patch(stream_path, {"name": "splunk", "credentials": {"token": ""}}, format="json")
    tested = alice.post(f"{stream_path}test/", {}, format="json")

    assert read.json()["name"] == "siem"
    assert [stream["name"] for stream in listed.json()["streams"]] == ["siem"]
    assert renamed.status_code == 200 and renamed.json()["name"] == "splunk"
    assert tested.json() == {"ok": True, "message": "test event accepted"}
    for response in (created, read, listed, renamed, tested):
        assert GOOD_TOKEN not in response.content.decode()
    assert alice.delete(stream_path).status_code == 204
    assert alice.get(stream_path).status_code == 404
    assert not AuditStream.objects.exists()


def test_bad_input_is_a_4xx_naming_the_field(cast: Any, admin: Any, api: Any) -> None:
    alice = api(admin)

    def create(**body: Any) -> Any:
        return alice.post(
            BASE,
            {"kind": "recording", "name": "x", "config": {"url": URL}, "credentials": {"token": GOOD_TOKEN}, **body},
            format="json",
        )

    missing = create(credentials={})
    private = create(config={"url": "https://192.168.1.10/ingest"})
    bad_url = create(config={"url": "ftp://siem.example.com/"})
    unknown_field = create(config={"url": URL, "indx": "main"})
    low_alert = create(lagAlertSeconds=5)
    bad_kind = create(kind="carrier-pigeon")
    refused = create(credentials={"token": BAD_TOKEN})
    create()
    duplicate = create()

    assert missing.status_code == 400 and _error(missing)["fields"] == {"credentials.token": ["this field is required"]}
    assert private.status_code == 400 and list(_error(private)["fields"]) == ["config.url"]
    assert "non-public" in _error(private)["message"]
    assert bad_url.status_code == 400 and list(_error(bad_url)["fields"]) == ["config.url"]
    assert unknown_field.status_code == 400 and _error(unknown_field)["fields"] == {"config.indx": ["unknown field"]}
    assert low_alert.status_code == 400 and "lagAlertSeconds" in _error(low_alert)["fields"]
    assert bad_kind.status_code == 400 and "kind" in _error(bad_kind)["fields"]
    assert refused.status_code == 400 and _error(refused)["code"] == "stream_test_failed"
    assert "HTTP 401" in _error(refused)["message"] and BAD_TOKEN not in refused.content.decode()
    assert duplicate.status_code == 409 and _error(duplicate)["fields"] == {"name": ["already exists"]}
    assert AuditStream.objects.count() == 1


def test_a_test_false_create_saves_an_untested_stream(cast: Any, admin: Any, api: Any, recording_kind: Any) -> None:
    created = api(admin).post(
        BASE,
        {
            "kind": "recording",
            "name": "later",
            "config": {"url": URL},
            "credentials": {"token": BAD_TOKEN},
            "test": False,
        },
        format="json",
    )

    assert created.status_code == 201 and created.json()["lastTestStatus"] == "untested"
    assert recording_kind.tests == []


def test_replay_pause_and_resume_move_the_stream_as_documented(cast: Any, admin: Any, api: Any) -> None:
    events = [
        audit_record(action="user.logged_in", actor=SYSTEM_ACTOR, organization_id=cast.organization.pk)
        for _ in range(5)
    ]
    stream = make_stream(cast)
    newest = AuditEvent.objects.order_by("-id").first().pk
    AuditStream.objects.filter(pk=stream.pk).update(cursor_event_id=newest, consecutive_failures=2, parked_count=1)
    ParkedAuditEvent.objects.create(stream=stream, event_id=events[3].pk, status=413, error="HTTP 413 (too large)")
    path = f"{BASE}{stream.public_id}/"
    alice = api(admin)

    parked = alice.get(f"{path}parked/")
    assert parked.json()["parked"] == [
        {
            "eventId": events[3].pk,
            "action": "user.logged_in",
            "occurredAt": parked.json()["parked"][0]["occurredAt"],
            "status": 413,
            "error": "HTTP 413 (too large)",
            "parkedAt": parked.json()["parked"][0]["parkedAt"],
        }
    ]

    by_id = alice.post(f"{path}replay/", {"fromEventId": events[2].pk}, format="json")
    assert by_id.status_code == 200, by_id.content
    assert by_id.json()["status"]["cursorEventId"] == events[2].pk - 1
    assert by_id.json()["status"]["consecutiveFailures"] == 0
    assert by_id.json()["status"]["parkedCount"] == 0 and alice.get(f"{path}parked/").json() == {"parked": []}
    assert by_id.json()["status"]["lagEvents"] >= 3

    since = events[1].occurred_at.isoformat()
    by_time = alice.post(f"{path}replay/", {"since": since}, format="json")
    assert by_time.json()["status"]["cursorEventId"] == events[1].pk - 1

    forward = alice.post(f"{path}replay/", {"fromEventId": newest}, format="json")
    both = alice.post(f"{path}replay/", {"fromEventId": 1, "since": since}, format="json")
    neither = alice.post(f"{path}replay/", {}, format="json")
    assert forward.status_code == 400 and "fromEventId" in _error(forward)["fields"]
    assert both.status_code == 400 and "fromEventId" in _error(both)["fields"]
    assert neither.status_code == 400 and "fromEventId" in _error(neither)["fields"]

    paused = alice.post(f"{path}pause/", {}, format="json")
    resumed = alice.post(f"{path}resume/", {}, format="json")
    assert paused.json()["status"]["state"] == "paused"
    assert resumed.json()["status"]["state"] == "active"
    assert list(
        AuditEvent.objects.filter(
            action__startswith="audit_stream.",
            action__in=["audit_stream.replayed", "audit_stream.paused", "audit_stream.resumed"],
        )
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["audit_stream.replayed", "audit_stream.replayed", "audit_stream.paused", "audit_stream.resumed"]


def test_it_lists_the_kinds_with_their_fields_from_the_plugins(cast: Any, api: Any) -> None:
    kinds = {kind["kind"]: kind for kind in api(cast.charlie).get("/api/v1/audit-stream-kinds/").json()["kinds"]}

    recording = kinds["recording"]
    assert recording["label"] == "Recording (tests)"
    fields = {field["name"]: field for field in recording["fields"]}
    assert (
        fields["token"]["secret"]
        and fields["token"]["group"] == "credentials"
        and fields["token"]["input"] == "password"
    )
    assert fields["url"]["destination"] and fields["url"]["group"] == "config" and fields["url"]["required"]
    assert not fields["index"]["required"]


def test_members_get_403_and_other_organizations_404_for_a_real_stream(cast: Any, api: Any) -> None:
    stream = make_stream(cast)
    path = f"{BASE}{stream.public_id}/"

    assert api(cast.bob).get(path).status_code == 403
    assert api(cast.bob).post(f"{path}replay/", {"fromEventId": 1}, format="json").status_code == 403
    assert api(cast.mallory).get(path).status_code == 404
    assert api(cast.mallory).get(f"/api/v1/organizations/evil-org/audit-streams/{stream.public_id}/").status_code == 404
    assert AuditStream.objects.get(pk=stream.pk).cursor_event_id == stream.cursor_event_id
