"""Managing audit streams: org admins only, credentials write-only and never in the audit log,
destinations through the outbound guard, tested before saved, and replay/pause moving the cursor
the way docs/audit-streams.md says."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from audit.sealing import audit_seal_pending
from audit.services import SYSTEM_ACTOR, audit_record
from audit.streams.models import AuditStream, ParkedAuditEvent, StreamState, StreamTestStatus
from audit.streams.selectors import StreamDisplayState, parked_events, stream_status
from audit.streams.services import (
    StreamTestFailed,
    stream_create,
    stream_delete,
    stream_pause,
    stream_replay,
    stream_resume,
    stream_test,
    stream_update,
)
from secrets_app.errors import Conflict, PermissionDenied, ValidationFailed
from tests.audit.streams.management.conftest import BAD_TOKEN, GOOD_TOKEN, URL, make_stream, principal

pytestmark = pytest.mark.usefixtures("recording_kind", "public_dns")


def _org_events(cast: Any, count: int, action: str = "user.logged_in") -> list[AuditEvent]:
    return [audit_record(action=action, actor=SYSTEM_ACTOR, organization_id=cast.organization.pk) for _ in range(count)]


def _actions(cast: Any, prefix: str = "audit_stream.") -> list[str]:
    return list(
        AuditEvent.objects.filter(organization_id=cast.organization.pk, action__startswith=prefix)
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_it_refuses_members_and_other_organizations_admins(cast: Any, admin: Any) -> None:
    stream = make_stream(cast)

    for who in (cast.bob, cast.charlie, cast.mallory):
        with pytest.raises(PermissionDenied):
            stream_create(
                principal=principal(who),
                organization=cast.organization,
                kind="recording",
                name="mine",
                config={"url": URL},
                credentials={"token": GOOD_TOKEN},
            )
        for call in (stream_pause, stream_resume, stream_delete, stream_test):
            with pytest.raises(PermissionDenied):
                call(principal=principal(who), stream=stream)
        with pytest.raises(PermissionDenied):
            stream_replay(principal=principal(who), stream=stream, from_event_id=1)
        with pytest.raises(PermissionDenied):
            stream_update(principal=principal(who), stream=stream, name="renamed")

    assert list(AuditStream.objects.values_list("name", flat=True)) == ["siem"]
    assert AuditEvent.objects.filter(action="permission.denied", resource_type="audit_stream").exists()


def test_it_tests_before_saving_and_keeps_credentials_sealed_and_out_of_the_audit_log(
    cast: Any, recording_kind: Any
) -> None:
    stream = make_stream(cast, config={"url": URL, "index": "main"})

    stored = AuditStream.objects.get(pk=stream.pk)
    assert recording_kind.tests == [{"config": {"url": URL, "index": "main"}, "credentials": {"token": GOOD_TOKEN}}]
    assert stored.credential_names == ["token"] and stored.config == {"url": URL, "index": "main"}
    assert GOOD_TOKEN.encode() not in bytes(stored.credentials_ciphertext)
    assert stored.last_test_status == StreamTestStatus.OK and stored.last_tested_at is not None
    assert stored.created_by == cast.alice
    assert _actions(cast) == ["audit_stream.created", "audit_stream.tested"]
    created = AuditEvent.objects.get(action="audit_stream.created")
    assert created.resource_type == "audit_stream" and created.resource_id == str(stream.public_id)
    assert created.metadata["name"] == "siem" and created.metadata["credential_names"] == ["token"]
    everything = json.dumps(list(AuditEvent.objects.values("metadata", "resource_id", "path")))
    assert GOOD_TOKEN not in everything


def test_a_failed_test_event_refuses_the_save_with_the_reason_and_no_credential(
    cast: Any, admin: Any, recording_kind: Any
) -> None:
    with pytest.raises(StreamTestFailed) as refused:
        make_stream(cast, credentials={"token": BAD_TOKEN})

    assert refused.value.status == 400
    assert "HTTP 401" in refused.value.message and "Nothing was saved" in refused.value.message
    assert BAD_TOKEN not in refused.value.message
    assert not AuditStream.objects.exists()
    failed = AuditEvent.objects.get(action="audit_stream.tested")
    assert failed.outcome == "error" and failed.metadata["ok"] is False and failed.metadata["saved"] is False

    untested = make_stream(cast, credentials={"token": BAD_TOKEN}, test=False)
    assert untested.last_test_status == StreamTestStatus.UNTESTED


def test_the_outbound_guard_refuses_private_destinations_naming_the_field(cast: Any, admin: Any) -> None:
    for url in ("https://10.1.2.3/ingest", "https://127.0.0.1/ingest", "https://169.254.169.254/latest"):
        with pytest.raises(ValidationFailed) as refused:
            make_stream(cast, config={"url": url})
        assert list(refused.value.fields) == ["config.url"], url
        assert "non-public" in refused.value.message

    assert not AuditStream.objects.exists()


def test_bad_input_names_the_field(cast: Any, admin: Any) -> None:
    with pytest.raises(ValidationFailed) as missing:
        make_stream(cast, credentials={})
    with pytest.raises(ValidationFailed) as unknown_kind:
        make_stream(cast, kind="carrier-pigeon")
    with pytest.raises(ValidationFailed) as bad_start:
        make_stream(cast, start="yesterday")
    with pytest.raises(ValidationFailed) as bad_alert:
        make_stream(cast, lag_alert_seconds=5)
    make_stream(cast)
    with pytest.raises(Conflict):
        make_stream(cast)

    assert missing.value.fields == {"credentials.token": ["this field is required"]}
    assert list(unknown_kind.value.fields) == ["kind"]
    assert list(bad_start.value.fields) == ["start"]
    assert list(bad_alert.value.fields) == ["lagAlertSeconds"]


def test_an_update_keeps_secret_fields_left_empty_and_tests_the_new_settings(cast: Any, recording_kind: Any) -> None:
    stream = make_stream(cast)
    alice = principal(cast.alice)

    stream_update(
        principal=alice, stream=stream, config={"url": "https://other.example.com/in"}, credentials={"token": ""}
    )
    assert recording_kind.tests[-1]["credentials"] == {"token": GOOD_TOKEN}
    stream_update(principal=alice, stream=stream, credentials={"token": "tok-new-aaaaaaaaaaaa"})
    assert recording_kind.tests[-1] == {
        "config": {"url": "https://other.example.com/in"},
        "credentials": {"token": "tok-new-aaaaaaaaaaaa"},
    }
    with pytest.raises(StreamTestFailed):
        stream_update(principal=alice, stream=stream, credentials={"token": BAD_TOKEN})
    stream_update(principal=alice, stream=stream, name="splunk", lag_alert_seconds=120)

    stored = AuditStream.objects.get(pk=stream.pk)
    assert stored.name == "splunk" and stored.lag_alert_seconds == 120
    from audit.streams.credentials import stream_open_credentials

    assert stream_open_credentials(stored) == {"token": "tok-new-aaaaaaaaaaaa"}  # the refused token was not kept
    updates = AuditEvent.objects.filter(action="audit_stream.updated").order_by("id")
    assert [event.metadata["changed"] for event in updates] == [
        ["config"],
        ["credentials"],
        ["name", "lag_alert_seconds"],
    ]
    assert "tok-new" not in json.dumps(list(AuditEvent.objects.values("metadata")))


def test_an_update_never_writes_back_the_engine_s_cursor_or_counters(cast: Any, recording_kind: Any) -> None:
    stream = make_stream(cast)  # the admin's form loaded this instance…
    # …then the engine delivered and replay/alert state moved while the test event was on its way.
    AuditStream.objects.filter(pk=stream.pk).update(cursor_event_id=4242, delivered_count=17, claim_token="run-1")

    stream_update(principal=principal(cast.alice), stream=stream, config={"url": "https://other.example.com/in"})

    stored = AuditStream.objects.get(pk=stream.pk)
    assert (stored.cursor_event_id, stored.delivered_count, stored.claim_token) == (4242, 17, "run-1")
    assert stored.config == {"url": "https://other.example.com/in"}


def test_a_new_stream_starts_at_the_end_of_the_sealed_log_or_at_the_beginning(cast: Any, admin: Any) -> None:
    events = _org_events(cast, 3)
    audit_record(action="user.logged_in", actor=SYSTEM_ACTOR, organization_id=cast.organization.pk + 1000)
    audit_seal_pending(delay_seconds=0)

    at_end = make_stream(cast, name="from-now")
    from_start = make_stream(cast, name="everything", start="beginning")

    assert at_end.cursor_event_id == events[-1].pk
    assert from_start.cursor_event_id == 0
    # What the new stream still has to deliver: its own creation (and test) events, nothing older.
    assert set(
        AuditEvent.objects.filter(organization_id=cast.organization.pk, id__gt=at_end.cursor_event_id).values_list(
            "action", flat=True
        )
    ) == {"audit_stream.created", "audit_stream.tested"}


def test_the_status_shows_lag_in_events_and_seconds_and_the_state(cast: Any, admin: Any) -> None:
    stream = make_stream(cast, start="beginning")
    AuditStream.objects.filter(pk=stream.pk).update(cursor_event_id=AuditEvent.objects.order_by("-id").first().pk)
    stream.refresh_from_db()
    old = _org_events(cast, 4)

    status = stream_status(stream, now=old[0].occurred_at + timedelta(seconds=90))

    assert status.lag_events == 4 and not status.lag_events_capped
    assert status.lag_seconds == 90 and status.oldest_undelivered_id == old[0].pk
    assert status.state == StreamDisplayState.ACTIVE

    AuditStream.objects.filter(pk=stream.pk).update(
        consecutive_failures=3, next_attempt_at=timezone.now() + timedelta(minutes=5), last_error="HTTP 503"
    )
    stream.refresh_from_db()
    backing_off = stream_status(stream)
    AuditStream.objects.filter(pk=stream.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    stream.refresh_from_db()
    failing = stream_status(stream)
    stream_pause(principal=principal(cast.alice), stream=stream)
    stream.refresh_from_db()

    assert backing_off.state == StreamDisplayState.BACKING_OFF and backing_off.backing_off_until is not None
    assert backing_off.last_error == "HTTP 503" and backing_off.consecutive_failures == 3
    assert failing.state == StreamDisplayState.FAILING
    assert stream_status(stream).state == StreamDisplayState.PAUSED


def test_pause_and_resume_are_idempotent_audited_once_and_resume_clears_the_backoff(cast: Any, admin: Any) -> None:
    stream = make_stream(cast)
    alice = principal(cast.alice)
    AuditStream.objects.filter(pk=stream.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=10))

    stream_pause(principal=alice, stream=stream)
    stream_pause(principal=alice, stream=stream)
    paused = AuditStream.objects.get(pk=stream.pk)
    stream_resume(principal=alice, stream=stream)
    stream_resume(principal=alice, stream=stream)
    resumed = AuditStream.objects.get(pk=stream.pk)

    assert paused.state == StreamState.PAUSED and resumed.state == StreamState.ACTIVE
    assert resumed.next_attempt_at is None
    assert _actions(cast)[2:] == ["audit_stream.paused", "audit_stream.resumed"]


def test_replay_moves_the_cursor_back_clears_backoff_and_releases_parked_events_from_there(
    cast: Any, admin: Any
) -> None:
    events = _org_events(cast, 6)
    stream = make_stream(cast, start="beginning")
    newest = AuditEvent.objects.order_by("-id").first().pk
    AuditStream.objects.filter(pk=stream.pk).update(
        cursor_event_id=newest,
        consecutive_failures=4,
        next_attempt_at=timezone.now() + timedelta(hours=1),
        claim_token="run-in-flight",
        claimed_until=timezone.now() + timedelta(minutes=2),
        parked_count=2,
    )
    ParkedAuditEvent.objects.create(stream=stream, event_id=events[1].pk, status=413, error="HTTP 413")
    ParkedAuditEvent.objects.create(stream=stream, event_id=events[4].pk, status=413, error="HTTP 413")
    stream.refresh_from_db()

    replayed = stream_replay(principal=principal(cast.alice), stream=stream, from_event_id=events[3].pk)

    assert replayed.cursor_event_id == events[3].pk - 1
    assert replayed.consecutive_failures == 0 and replayed.next_attempt_at is None
    assert replayed.claim_token == "" and replayed.claimed_until is None  # the run in flight can no longer advance
    assert [row.event_id for row in parked_events(replayed)] == [events[1].pk]
    assert replayed.parked_count == 1
    record = AuditEvent.objects.get(action="audit_stream.replayed")
    assert record.metadata["cursor_event_id"] == events[3].pk - 1
    assert record.metadata["previous_cursor_event_id"] == newest and record.metadata["parked_released"] == 1


def test_replay_from_a_time_starts_at_the_first_event_at_or_after_it(cast: Any, admin: Any) -> None:
    events = _org_events(cast, 4)
    stream = make_stream(cast)
    # An id between the org's events that belongs to another organization is not a starting point.
    other = audit_record(action="user.logged_in", actor=SYSTEM_ACTOR, organization_id=cast.organization.pk + 1000)
    AuditStream.objects.filter(pk=stream.pk).update(cursor_event_id=other.pk)

    by_time = stream_replay(principal=principal(cast.alice), stream=stream, since=events[2].occurred_at)
    assert by_time.cursor_event_id == events[2].pk - 1
    by_id = stream_replay(principal=principal(cast.alice), stream=stream, from_event_id=events[0].pk)
    assert by_id.cursor_event_id == events[0].pk - 1
    assert other.pk > events[-1].pk


def test_replay_refuses_to_move_forward_and_needs_exactly_one_point(cast: Any, admin: Any) -> None:
    events = _org_events(cast, 3)
    stream = make_stream(cast, start="beginning")
    alice = principal(cast.alice)

    with pytest.raises(ValidationFailed) as forward:
        stream_replay(principal=alice, stream=stream, from_event_id=events[1].pk)
    with pytest.raises(ValidationFailed) as neither:
        stream_replay(principal=alice, stream=stream)
    with pytest.raises(ValidationFailed) as both:
        stream_replay(principal=alice, stream=stream, from_event_id=1, since=timezone.now())
    with pytest.raises(ValidationFailed) as naive:
        stream_replay(principal=alice, stream=stream, since=timezone.now().replace(tzinfo=None))

    assert list(forward.value.fields) == ["fromEventId"] and "only goes back" in forward.value.message
    assert list(neither.value.fields) == ["fromEventId"] == list(both.value.fields)
    assert list(naive.value.fields) == ["since"]
    assert AuditStream.objects.get(pk=stream.pk).cursor_event_id == 0
    # From the stream's own position (nothing in between): accepted, and the cursor stays.
    assert stream_replay(principal=alice, stream=stream, from_event_id=1).cursor_event_id == 0


def test_send_test_event_records_the_outcome_and_scrubs_credentials_from_the_reason(
    cast: Any, recording_kind: Any
) -> None:
    stream = make_stream(cast, credentials={"token": BAD_TOKEN}, test=False)
    alice = principal(cast.alice)

    ok, message = stream_test(principal=alice, stream=stream)

    assert not ok and "HTTP 401" in message and BAD_TOKEN not in message and "[redacted]" in message
    stored = AuditStream.objects.get(pk=stream.pk)
    assert stored.last_test_status == StreamTestStatus.FAILED and BAD_TOKEN not in stored.last_test_message
    stream_update(principal=alice, stream=stream, credentials={"token": GOOD_TOKEN})
    ok, message = stream_test(principal=alice, stream=stream)
    assert ok and message == "test event accepted"
    tested = AuditEvent.objects.filter(action="audit_stream.tested").order_by("id")
    assert [(event.outcome, event.metadata["ok"]) for event in tested] == [
        ("error", False),
        ("allow", True),
        ("allow", True),
    ]


def test_delete_removes_the_stream_and_its_parked_events_and_is_audited(cast: Any, admin: Any) -> None:
    stream = make_stream(cast)
    ParkedAuditEvent.objects.create(stream=stream, event_id=1, status=413, error="HTTP 413")

    stream_delete(principal=principal(cast.alice), stream=stream)

    assert not AuditStream.objects.exists() and not ParkedAuditEvent.objects.exists()
    deleted = AuditEvent.objects.get(action="audit_stream.deleted")
    assert deleted.resource_id == str(stream.public_id) and deleted.metadata["name"] == "siem"
