from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from audit import sealing
from audit.chain import GENESIS_HASH
from audit.maintenance import audit_maintenance
from audit.models import AuditBlock, AuditEvent
from audit.sealing import audit_seal_pending
from audit.verification import audit_verify
from tests.audit.conftest import BOB, RecordEvent, postgres_only

pytestmark = pytest.mark.django_db


def test_it_seals_new_rows_into_a_block_that_verifies(record_event: RecordEvent) -> None:
    events = [record_event() for _ in range(3)]

    assert audit_seal_pending(delay_seconds=0) == 3

    block = AuditBlock.objects.get()
    assert (block.sequence, block.first_event_id, block.last_event_id) == (1, events[0].pk, events[-1].pk)
    assert [event_id for event_id, _ in block.row_hashes] == [event.pk for event in events]
    assert block.previous_hash == GENESIS_HASH
    result = audit_verify()
    assert (result.ok, result.blocks_checked, result.rows_checked, result.first_broken) == (True, 1, 3, None)


def test_it_links_each_block_to_the_previous_one(record_event: RecordEvent) -> None:
    record_event()
    audit_seal_pending(delay_seconds=0)
    record_event(actor=BOB)
    audit_seal_pending(delay_seconds=0)

    first, second = AuditBlock.objects.order_by("sequence")
    assert second.sequence == 2
    assert second.previous_hash == first.block_hash
    assert second.first_event_id > first.last_event_id
    assert audit_verify().ok


def test_it_returns_zero_and_adds_no_block_when_nothing_is_due(record_event: RecordEvent) -> None:
    assert audit_seal_pending(delay_seconds=0) == 0
    record_event()
    audit_seal_pending(delay_seconds=0)

    assert audit_seal_pending(delay_seconds=0) == 0
    assert AuditBlock.objects.count() == 1


def test_it_splits_a_backlog_into_blocks_of_max_rows(record_event: RecordEvent) -> None:
    for _ in range(7):
        record_event()

    assert audit_seal_pending(delay_seconds=0, max_rows=3) == 7

    assert [len(block.row_hashes) for block in AuditBlock.objects.order_by("sequence")] == [3, 3, 1]
    assert audit_verify().rows_checked == 7


def test_it_leaves_rows_younger_than_the_delay_unsealed(record_event: RecordEvent) -> None:
    record_event()

    assert audit_seal_pending(delay_seconds=60) == 0
    assert audit_verify().pending_rows == 1


def test_it_stops_at_the_first_row_too_young_to_seal(record_event: RecordEvent) -> None:
    old, young, old_again = record_event(), record_event(), record_event()
    an_hour_ago = timezone.now() - timedelta(hours=1)
    _backdate(old.pk, an_hour_ago)
    _backdate(old_again.pk, an_hour_ago)

    assert audit_seal_pending(delay_seconds=60) == 1

    assert AuditBlock.objects.get().last_event_id == old.pk
    assert young.pk < old_again.pk


def test_it_reads_the_delay_from_settings(record_event: RecordEvent, settings: object) -> None:
    record_event()
    settings.STRONGROOM_AUDIT_SEAL_DELAY_SECONDS = 3600  # type: ignore[attr-defined]

    assert audit_seal_pending() == 0


def test_it_returns_zero_when_another_sealer_took_the_next_sequence(
    record_event: RecordEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_event()
    audit_seal_pending(delay_seconds=0)
    stale = AuditBlock.objects.get()
    record_event()
    audit_seal_pending(delay_seconds=0)
    record_event()
    # This sealer read the chain head before the other one committed block 2.
    monkeypatch.setattr(sealing, "_chain_heads", lambda chains: {1: stale})

    with transaction.atomic():
        assert audit_seal_pending(delay_seconds=0) == 0

    assert AuditBlock.objects.count() == 2
    monkeypatch.undo()
    assert audit_seal_pending(delay_seconds=0) == 1
    assert audit_verify().ok


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_it_does_not_seal_past_a_writer_still_in_flight(record_event: RecordEvent) -> None:
    holding, release = threading.Event(), threading.Event()
    held: list[int] = []

    def slow_request() -> None:
        try:
            with transaction.atomic():
                held.append(record_event(action="secret.value_read").pk)
                holding.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    writer = threading.Thread(target=slow_request)
    writer.start()
    try:
        assert holding.wait(timeout=30)
        later = record_event(action="secret.updated")  # higher id, committed first
        assert later.pk > held[0]

        assert audit_seal_pending(delay_seconds=0) == 0
    finally:
        release.set()
        writer.join(timeout=30)

    assert audit_seal_pending(delay_seconds=0) == 2
    assert audit_verify().ok


def _backdate(event_id: int, moment: datetime) -> None:
    with audit_maintenance():
        AuditEvent.objects.filter(pk=event_id).update(occurred_at=moment)
