"""The delivery engine against the webhook emulator: order, at-least-once, backoff, parking, pause,
replay, errors without secrets. Faults at reduced sizes (the 5,000-event runs are in make bench)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.sealing import audit_seal_pending, audit_sealed_through
from audit.streams.delivery import DeliveryOutcome, backoff_seconds, stream_deliver
from audit.streams.dispatch import streams_due_for_delivery
from audit.streams.models import AuditStream, ParkedAuditEvent, StreamState
from tests.audit.streams.engine_support import (
    Receiver,
    actions_of,
    deliver_until_caught_up,
    make_stream,
    org_events,
    record,
    seal,
)
from tests.support.celery_worker import require_postgres

pytestmark = pytest.mark.django_db


def test_it_delivers_sealed_events_in_id_order_with_the_chain_head_and_nothing_unsealed(
    stream_org: Any, receiver: Receiver
) -> None:
    stream = make_stream(stream_org, receiver)
    sealed = record(stream_org, 30)
    seal()
    unsealed = record(stream_org, 3)  # written after the sealing pass: not sealed yet

    report = stream_deliver(stream_id=stream.pk)

    assert report.outcome == DeliveryOutcome.CAUGHT_UP
    assert receiver.event_ids() == sealed
    assert not set(unsealed) & set(receiver.event_ids())
    stream.refresh_from_db()
    assert stream.cursor_event_id == audit_sealed_through() >= sealed[-1]
    assert stream.delivered_count == 30 and stream.last_success_at is not None
    # Every batch carries the organization's newest sealed block.
    head = receiver.heads[-1]
    assert head is not None and head["sequence"] >= 1 and len(head["block_hash"]) == 64

    seal()
    stream_deliver(stream_id=stream.pk)
    assert receiver.event_ids() == sealed + unsealed


def test_it_never_sends_another_organizations_events(stream_org: Any, other_org: Any, receiver: Receiver) -> None:
    stream = make_stream(stream_org, receiver)
    mine = record(stream_org, 5)
    record(other_org, 5)
    record(None, 2)  # instance events (no organization)
    seal()
    stream_deliver(stream_id=stream.pk)
    assert receiver.event_ids() == mine


def test_it_batches_within_the_kinds_limits(stream_org: Any, receiver: Receiver, settings: Any) -> None:
    settings.STRONGROOM_AUDIT_STREAM_BATCH_MAX_EVENTS = 7
    stream = make_stream(stream_org, receiver)
    ids = record(stream_org, 30)
    seal()
    report = stream_deliver(stream_id=stream.pk)
    assert [len(batch) for batch in receiver.batches] == [7, 7, 7, 7, 2]
    assert report.batches == 5 and receiver.event_ids() == ids


def test_it_delivers_everything_in_order_after_the_receiver_was_down(
    stream_org: Any, receiver: Receiver, settings: Any
) -> None:
    settings.STRONGROOM_AUDIT_STREAM_BATCH_MAX_EVENTS = 50
    stream = make_stream(stream_org, receiver)
    start = stream.cursor_event_id
    receiver.down()
    written: list[int] = []
    for _ in range(5):  # 500 events written while the receiver is down; delivery keeps trying
        written += record(stream_org, 100)
        seal()
        report = stream_deliver(stream_id=stream.pk, ignore_backoff=True)
        assert report.outcome == DeliveryOutcome.FAILED and report.delivered == 0
    stream.refresh_from_db()
    assert stream.consecutive_failures == 5 and stream.cursor_event_id == start
    assert stream.next_attempt_at is not None and stream.next_attempt_at > timezone.now() - timedelta(seconds=1)
    assert stream.last_error

    receiver.up()
    deliver_until_caught_up(stream)

    received = receiver.event_ids()
    everything = [event_id for event_id in org_events(stream_org) if event_id > start]
    assert set(written) <= set(everything)  # plus the engine's own failure and recovery events
    assert sorted(set(received)) == everything, "every event of the organization, none lost"
    assert received == sorted(received), "strictly in id order"
    stream.refresh_from_db()
    assert stream.consecutive_failures == 0 and stream.next_attempt_at is None
    # One failure event for the outage and one recovery: not one per retry.
    assert actions_of(stream_org, "audit_stream.") == ["audit_stream.delivery_failed", "audit_stream.recovered"]


def test_it_honours_retry_after_and_backs_off_with_jitter(stream_org: Any, receiver: Receiver, settings: Any) -> None:
    settings.STRONGROOM_AUDIT_STREAM_BACKOFF_SECONDS = 2
    stream = make_stream(stream_org, receiver)
    record(stream_org, 3)
    seal()

    receiver.fail_next(status=429, retry_after=120)
    before = timezone.now()
    report = stream_deliver(stream_id=stream.pk)
    assert report.outcome == DeliveryOutcome.FAILED
    stream.refresh_from_db()
    assert stream.next_attempt_at is not None
    assert before + timedelta(seconds=119) <= stream.next_attempt_at <= timezone.now() + timedelta(seconds=121)
    assert "429" in stream.last_error

    # Not due yet: a run (a duplicate message, beat) sends nothing.
    assert stream_deliver(stream_id=stream.pk).outcome == DeliveryOutcome.NOT_DUE
    assert receiver.event_ids() == []
    assert stream.pk not in streams_due_for_delivery()

    receiver.fail_next(status=500)
    before = timezone.now()
    stream_deliver(stream_id=stream.pk, ignore_backoff=True)
    stream.refresh_from_db()
    # Second failure: a random wait up to 2 * 2^1 = 4 s (full jitter).
    assert before <= stream.next_attempt_at <= timezone.now() + timedelta(seconds=4)
    assert stream.consecutive_failures == 2 and "500" in stream.last_error

    stream_deliver(stream_id=stream.pk, ignore_backoff=True)
    assert len(receiver.event_ids()) == 3


def test_backoff_is_capped_and_a_longer_retry_after_wins(settings: Any) -> None:
    settings.STRONGROOM_AUDIT_STREAM_BACKOFF_SECONDS = 5
    settings.STRONGROOM_AUDIT_STREAM_BACKOFF_MAX_SECONDS = 600
    settings.STRONGROOM_AUDIT_STREAM_RETRY_AFTER_MAX_SECONDS = 3600
    waits = [backoff_seconds(30) for _ in range(200)]
    assert max(waits) <= 600 and min(waits) >= 0 and len({round(w) for w in waits}) > 20  # jittered
    assert all(backoff_seconds(1) <= 5 for _ in range(50))
    assert backoff_seconds(1, retry_after=90) == 90
    assert backoff_seconds(1, retry_after=86400) == 3600


def test_a_413_poison_event_is_parked_and_the_other_49_delivered_in_order(stream_org: Any, receiver: Receiver) -> None:
    stream = make_stream(stream_org, receiver)
    ids = record(stream_org, 50)
    poison = ids[23]
    receiver.reject_if(lambda event: event["id"] == poison, status=413)
    seal()

    report = stream_deliver(stream_id=stream.pk)

    assert report.outcome == DeliveryOutcome.CAUGHT_UP and report.parked_ids == [poison]
    assert receiver.event_ids() == [event_id for event_id in ids if event_id != poison]
    parked = ParkedAuditEvent.objects.get(stream=stream)
    assert (parked.event_id, parked.status) == (poison, 413) and "413" in parked.error
    stream.refresh_from_db()
    assert stream.parked_count == 1 and stream.delivered_count == 49

    # The stream keeps going; the parking itself is an audit event, delivered like any other.
    later = record(stream_org, 2)
    seal()
    stream_deliver(stream_id=stream.pk)
    parked_events = AuditEvent.objects.filter(action="audit_stream.event_parked")
    assert [event.metadata["event_id"] for event in parked_events] == [poison]
    assert receiver.event_ids()[-3:] == sorted([parked_events[0].pk, *later])


@pytest.mark.django_db(transaction=True)
def test_a_paused_stream_sends_nothing_and_resume_continues(
    stream_org: Any, receiver: Receiver, settings: Any, org_admin: Any
) -> None:
    from audit.streams.services import stream_pause, stream_resume

    settings.STRONGROOM_AUDIT_STREAM_BATCH_MAX_EVENTS = 10
    stream = make_stream(stream_org, receiver)
    ids = record(stream_org, 40)
    seal()
    # The pause lands while the first batch is at the receiver: that batch is acknowledged and
    # recorded, nothing after it is sent.
    receiver.on_batch(lambda batch: stream_pause(principal=org_admin, stream=stream))
    report = stream_deliver(stream_id=stream.pk)
    assert report.outcome == DeliveryOutcome.PAUSED
    assert receiver.event_ids() == ids[:10]
    stream.refresh_from_db()
    assert stream.state == StreamState.PAUSED and stream.cursor_event_id == ids[9]

    receiver.on_batch(None)
    assert stream_deliver(stream_id=stream.pk).outcome == DeliveryOutcome.PAUSED
    assert stream.pk not in streams_due_for_delivery()
    assert len(receiver.event_ids()) == 10

    stream_resume(principal=org_admin, stream=stream)
    deliver_until_caught_up(stream)
    assert receiver.event_ids()[:40] == ids


def test_replay_from_an_event_id_delivers_again_from_there(stream_org: Any, receiver: Receiver, org_admin: Any) -> None:
    from audit.streams.services import stream_replay

    stream = make_stream(stream_org, receiver)
    ids = record(stream_org, 20)
    seal()
    deliver_until_caught_up(stream)
    assert receiver.event_ids() == ids

    stream_replay(principal=org_admin, stream=stream, from_event_id=ids[12])
    seal()
    deliver_until_caught_up(stream)
    again = receiver.event_ids()[20:]
    assert again[:8] == ids[12:]  # then the replay's own audit event
    assert again == sorted(again)


def test_errors_never_hold_a_credential(stream_org: Any, receiver: Receiver) -> None:
    stream = make_stream(stream_org, receiver)
    record(stream_org, 2)
    seal()
    # A receiver that echoes what it was sent (the signing secret, the URL) in its error answer.
    receiver.fail_next(status=500, body={"error": f"bad signature for secret {receiver.secret} at {receiver.url}"})
    stream_deliver(stream_id=stream.pk)
    stream.refresh_from_db()
    assert stream.last_error and receiver.secret not in stream.last_error
    for event in AuditEvent.objects.filter(action__startswith="audit_stream."):
        assert receiver.secret not in str(event.metadata)


@pytest.mark.django_db(transaction=True)
def test_two_runs_never_work_one_stream_at_once(stream_org: Any, receiver: Receiver) -> None:
    stream = make_stream(stream_org, receiver)
    record(stream_org, 5)
    seal()
    inside = threading.Event()
    release = threading.Event()

    def hold(batch: Any) -> None:
        inside.set()
        release.wait(timeout=10)

    receiver.on_batch(hold)
    outcomes: list[str] = []
    first = threading.Thread(target=lambda: outcomes.append(_deliver_in_thread(stream.pk)))
    first.start()
    assert inside.wait(timeout=10)
    second = stream_deliver(stream_id=stream.pk)  # while the first run is at the receiver
    release.set()
    first.join(timeout=20)
    assert second.outcome == DeliveryOutcome.BUSY
    assert outcomes == [DeliveryOutcome.CAUGHT_UP]
    assert len(receiver.event_ids()) == 5


def _deliver_in_thread(stream_id: int) -> str:
    try:
        return stream_deliver(stream_id=stream_id).outcome
    finally:
        connection.close()


def test_dispatch_queues_each_due_stream_once(stream_org: Any, receiver: Receiver) -> None:
    stream = make_stream(stream_org, receiver)
    idle = make_stream(stream_org, receiver, name="caught-up")
    assert streams_due_for_delivery() == []
    record(stream_org, 2)
    seal()
    AuditStream.objects.filter(pk=idle.pk).update(cursor_event_id=audit_sealed_through())
    assert streams_due_for_delivery() == [stream.pk]
    assert streams_due_for_delivery() == []  # already queued
    stream_deliver(stream_id=stream.pk)  # the run clears the mark
    assert streams_due_for_delivery() == []  # caught up

    # A message that finds nothing to claim (backing off, busy) clears the mark as well, so the
    # stream is queued again as soon as it is due rather than when the mark goes stale.
    record(stream_org, 1)
    seal()
    assert sorted(streams_due_for_delivery()) == sorted([stream.pk, idle.pk])
    AuditStream.objects.filter(pk=stream.pk).update(next_attempt_at=timezone.now() + timedelta(seconds=60))
    assert stream_deliver(stream_id=stream.pk).outcome == DeliveryOutcome.NOT_DUE
    AuditStream.objects.filter(pk=stream.pk).update(next_attempt_at=None)
    assert streams_due_for_delivery() == [stream.pk]


def test_the_operator_command_drains_a_stream(stream_org: Any, receiver: Receiver, settings: Any) -> None:
    from io import StringIO

    settings.STRONGROOM_AUDIT_STREAM_BATCH_MAX_EVENTS = 5
    settings.STRONGROOM_AUDIT_STREAM_BATCHES_PER_RUN = 2
    stream = make_stream(stream_org, receiver)
    ids = record(stream_org, 23)
    seal()
    out = StringIO()
    call_command("audit_stream_deliver", "--stream", str(stream.public_id), stdout=out)
    assert receiver.event_ids() == ids
    assert "caught_up, 23 delivered" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_out_of_order_commits_leave_no_gap(stream_org: Any, receiver: Receiver) -> None:
    """Writer A draws the lower id but commits after writer B: the stream must not pass A's id."""
    require_postgres("out-of-order commits need concurrent transactions")
    stream = make_stream(stream_org, receiver)
    a_has_written = threading.Event()
    b_committed = threading.Event()
    ids: dict[str, int] = {}

    def writer_a() -> None:
        try:
            with transaction.atomic():
                ids["a"] = record(stream_org, 1)[0]
                a_has_written.set()
                assert b_committed.wait(timeout=20)
                # While A is still open: B's higher id is committed and visible.
                ids["delivered_while_open"] = _seal_and_deliver(stream)
        finally:
            connection.close()

    thread = threading.Thread(target=writer_a)
    thread.start()
    assert a_has_written.wait(timeout=20)
    ids["b"] = _in_own_thread(lambda: record(stream_org, 1)[0])
    b_committed.set()
    thread.join(timeout=30)
    assert ids["a"] < ids["b"]
    # With A open, nothing at or above A's id could be sealed, so nothing was sent.
    assert receiver.event_ids() == []

    seal()
    stream_deliver(stream_id=stream.pk)
    assert receiver.event_ids()[:2] == [ids["a"], ids["b"]]


def _seal_and_deliver(stream: AuditStream) -> int:
    def work() -> int:
        audit_seal_pending(delay_seconds=0)
        return stream_deliver(stream_id=stream.pk).delivered

    return _in_own_thread(work)


def _in_own_thread(work: Any) -> Any:
    """Run *work* on its own database connection (its own transaction)."""
    result: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(work())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    if errors:
        raise errors[0]
    return result[0]


@pytest.mark.django_db(transaction=True)
def test_a_replay_landing_mid_run_wins_over_the_batch_in_flight(
    stream_org: Any, receiver: Receiver, settings: Any, org_admin: Any
) -> None:
    from audit.streams.services import stream_replay

    settings.STRONGROOM_AUDIT_STREAM_BATCH_MAX_EVENTS = 10
    stream = make_stream(stream_org, receiver)
    ids = record(stream_org, 30)
    seal()
    deliver_until_caught_up(stream)
    more = record(stream_org, 30)
    seal()
    # While the first new batch is at the receiver, an admin replays from the 5th event: the run in
    # flight must not move the cursor past the replay point, nor send anything more.
    receiver.on_batch(lambda batch: stream_replay(principal=org_admin, stream=stream, from_event_id=ids[4]))
    report = stream_deliver(stream_id=stream.pk)
    receiver.on_batch(None)
    assert report.outcome == DeliveryOutcome.INTERRUPTED
    stream.refresh_from_db()
    assert stream.cursor_event_id == ids[4] - 1
    sent_before = len(receiver.event_ids())

    deliver_until_caught_up(stream)
    again = receiver.event_ids()[sent_before:]
    assert again[: 26 + 30] == ids[4:] + more


def test_the_receiver_proves_it_holds_every_event_with_the_documented_script(
    stream_org: Any, receiver: Receiver, tmp_path: Any, settings: Any
) -> None:
    """docs/audit-streams.md "Proving completeness": what a stream delivered (de-duplicated) verifies
    with docs/audit_export_verify.py, and the chain head of the last batch is its newest block."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    settings.STRONGROOM_AUDIT_STREAM_BATCH_MAX_EVENTS = 4
    stream = make_stream(stream_org, receiver)
    AuditStream.objects.filter(pk=stream.pk).update(cursor_event_id=0)  # "from the beginning"
    record(stream_org, 9)
    seal()
    record(stream_org, 5)
    seal()
    deliver_until_caught_up(stream)
    received = {int(event["id"]): event for event in receiver.events}  # de-duplicated by id
    path = tmp_path / "received.jsonl"
    path.write_text("".join(json.dumps(received[key]) + "\n" for key in sorted(received)), encoding="ascii")
    script = Path(__file__).resolve().parents[3] / "docs" / "audit_export_verify.py"

    result = subprocess.run([sys.executable, str(script), str(path)], capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stdout
    newest = max(received.values(), key=lambda event: event["block_sequence"])
    last_head = receiver.heads[-1]
    assert last_head is not None and last_head["sequence"] == newest["block_sequence"]
    assert last_head["block_hash"] == newest["block_hash"]
    assert f"chain {stream_org.pk} newest block {newest['block_sequence']} {newest['block_hash']}" in result.stdout
