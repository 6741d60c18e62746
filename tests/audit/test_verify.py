from __future__ import annotations

import pytest

from audit.chain import audit_block_hash, audit_event_as_dict, audit_row_hash
from audit.maintenance import audit_maintenance
from audit.models import AuditBlock, AuditEvent
from audit.sealing import audit_seal_pending
from audit.verification import audit_verify
from tests.audit.conftest import BOB, CHARLIE, RecordEvent, tamper, tamper_delete

pytestmark = pytest.mark.django_db


def _sealed_events(record_event: RecordEvent, count: int = 3) -> list[AuditEvent]:
    actors = [BOB, CHARLIE]
    events = [record_event(path=f"/app/KEY_{n}", actor=actors[n % 2]) for n in range(count)]
    audit_seal_pending(delay_seconds=0)
    return events


def _tamper_block(sequence: int, **changes: object) -> None:
    with audit_maintenance():
        assert AuditBlock.objects.filter(chain=1, sequence=sequence).update(**changes) == 1


def test_it_says_ok_for_an_empty_log() -> None:
    result = audit_verify()

    assert (result.ok, result.blocks_checked, result.rows_checked, result.chains, result.heads) == (True, 0, 0, 0, {})


def test_it_reports_the_head_block_and_rows_not_sealed_yet(record_event: RecordEvent) -> None:
    _sealed_events(record_event)
    record_event()

    result = audit_verify()

    head = AuditBlock.objects.get()
    assert (result.ok, result.pending_rows, result.heads) == (True, 1, {"1": [1, head.block_hash]})


def test_it_reports_the_exact_row_that_was_edited(record_event: RecordEvent) -> None:
    events = _sealed_events(record_event)

    tamper(events[1].pk, outcome="deny")

    result = audit_verify()
    assert not result.ok
    assert result.first_broken == f"chain 1 block 1: event {events[1].pk} was modified"
    assert result.rows_checked == 1


def test_it_notices_an_edit_inside_the_metadata(record_event: RecordEvent) -> None:
    event = record_event(metadata={"keys": ["DB_PASS"]})
    audit_seal_pending(delay_seconds=0)

    tamper(event.pk, metadata={"keys": []})

    assert audit_verify().first_broken == f"chain 1 block 1: event {event.pk} was modified"


def test_it_reports_a_deleted_row(record_event: RecordEvent) -> None:
    events = _sealed_events(record_event)

    tamper_delete(events[1].pk)

    assert audit_verify().first_broken == f"chain 1 block 1: event {events[1].pk} is missing (deleted)"


def test_it_reports_the_last_row_of_the_log_deleted(record_event: RecordEvent) -> None:
    events = _sealed_events(record_event)

    tamper_delete(events[-1].pk)

    assert audit_verify().first_broken == f"chain 1 block 1: event {events[-1].pk} is missing (deleted)"


def test_it_reports_rows_whose_contents_were_swapped(record_event: RecordEvent) -> None:
    first, second, _ = _sealed_events(record_event)
    a = {k: v for k, v in audit_event_as_dict(AuditEvent.objects.get(pk=first.pk)).items() if k != "id"}
    b = {k: v for k, v in audit_event_as_dict(AuditEvent.objects.get(pk=second.pk)).items() if k != "id"}

    tamper(first.pk, **b)
    tamper(second.pk, **a)

    assert audit_verify().first_broken == (
        f"chain 1 block 1: event {first.pk} was modified (it holds the content of event {second.pk}: rows reordered)"
    )


def test_it_reports_a_row_inserted_into_a_sealed_range(record_event: RecordEvent) -> None:
    first, gone, last = (record_event() for _ in range(3))
    tamper_delete(gone.pk)  # a gap, as a rolled-back request leaves one
    audit_seal_pending(delay_seconds=0)

    forged = AuditEvent.objects.get(pk=first.pk)
    forged.pk = gone.pk
    forged.save(force_insert=True)  # INSERT is allowed: the app role needs it

    assert audit_verify().first_broken == f"chain 1 block 1: event {gone.pk} inserted into sealed range"


def test_it_reports_a_tampered_block_hash(record_event: RecordEvent) -> None:
    _sealed_events(record_event)

    _tamper_block(1, block_hash="f" * 64)

    assert audit_verify().first_broken == "chain 1 block 1: block_hash does not match its contents (block modified)"


def test_it_reports_a_block_whose_row_list_was_rewritten_consistently(record_event: RecordEvent) -> None:
    events = _sealed_events(record_event)
    record_event()
    audit_seal_pending(delay_seconds=0)
    # The attacker edits a row and recomputes its block, but cannot fix the next block's link.
    tamper(events[0].pk, action="secret.listed")
    block = AuditBlock.objects.get(sequence=1)
    rows = [[eid, audit_row_hash(AuditEvent.objects.get(pk=eid))] for eid, _ in block.row_hashes]
    forged_hash = audit_block_hash(
        chain=1,
        sequence=1,
        first_event_id=block.first_event_id,
        last_event_id=block.last_event_id,
        previous_hash=block.previous_hash,
        row_hashes=rows,
    )
    _tamper_block(1, row_hashes=rows, block_hash=forged_hash)

    assert audit_verify().first_broken == "chain 1 block 2: previous_hash does not match block 1"


def test_it_reports_an_edited_previous_hash(record_event: RecordEvent) -> None:
    _sealed_events(record_event)

    _tamper_block(1, previous_hash="1" * 64)

    assert audit_verify().first_broken == "chain 1 block 1: previous_hash does not match the genesis hash"


def test_it_reports_a_deleted_block(record_event: RecordEvent) -> None:
    for _ in range(3):
        record_event()
    audit_seal_pending(delay_seconds=0, max_rows=1)

    with audit_maintenance():
        AuditBlock.objects.filter(sequence=2).delete()

    assert audit_verify().first_broken == "chain 1 block 2 is missing (deleted)"


def test_it_reports_a_malformed_row_list(record_event: RecordEvent) -> None:
    _sealed_events(record_event)

    _tamper_block(1, row_hashes=[["1", "not-a-hash"]])

    assert audit_verify().first_broken == "chain 1 block 1: row list is malformed (block modified)"


def test_it_reports_only_the_first_broken_link(record_event: RecordEvent) -> None:
    events = [record_event() for _ in range(4)]
    audit_seal_pending(delay_seconds=0, max_rows=2)

    tamper(events[3].pk, actor_label="mallory")
    tamper(events[1].pk, actor_label="mallory")

    result = audit_verify(chunk_size=1)
    assert result.first_broken == f"chain 1 block 1: event {events[1].pk} was modified"
    assert (result.blocks_checked, result.rows_checked) == (1, 1)
