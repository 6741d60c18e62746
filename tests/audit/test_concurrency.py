"""Concurrent writers and sealers on PostgreSQL: every row sealed exactly once, the chain intact."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from audit import sealing
from audit.models import AuditBlock, AuditEvent
from audit.sealing import audit_seal_pending
from audit.verification import audit_verify
from tests.audit.conftest import BOB, RecordEvent, postgres_only

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]


def _in_thread(work: Callable[[], None], errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize("advisory_lock", [True, False], ids=["advisory-lock", "unique-sequence-only"])
def test_it_seals_every_row_exactly_once_with_concurrent_sealers(
    record_event: RecordEvent, monkeypatch: pytest.MonkeyPatch, advisory_lock: bool
) -> None:
    if not advisory_lock:
        # Without the lock, the unique sequence constraint alone must keep the chain linear.
        monkeypatch.setattr(sealing, "_try_seal_lock", lambda: True)
    errors: list[BaseException] = []
    writing_done = threading.Event()
    start = threading.Barrier(2)

    def write() -> None:
        for _ in range(150):
            record_event(actor=BOB)

    def seal() -> None:
        start.wait(timeout=30)
        while not writing_done.is_set():
            # A 1 s seal delay, as production always has one (10 s by default): with none at all, a
            # writer that has drawn its row id but not yet its transaction id is invisible to the
            # open-writer check for an instant, and a younger row could be sealed past it.
            audit_seal_pending(delay_seconds=1, max_rows=7)

    writers = [_in_thread(write, errors) for _ in range(3)]
    sealers = [_in_thread(seal, errors) for _ in range(2)]
    for thread in writers:
        thread.join(timeout=120)
    writing_done.set()
    for thread in sealers:
        thread.join(timeout=120)
    audit_seal_pending(delay_seconds=0)

    assert errors == []
    blocks = list(AuditBlock.objects.order_by("sequence"))
    assert [block.sequence for block in blocks] == list(range(1, len(blocks) + 1))
    sealed_ids = [event_id for block in blocks for event_id, _ in block.row_hashes]
    assert sealed_ids == sorted(set(sealed_ids))
    assert sealed_ids == list(AuditEvent.objects.order_by("id").values_list("id", flat=True))
    assert len(sealed_ids) == 450
    result = audit_verify()
    assert (result.ok, result.rows_checked, result.pending_rows) == (True, 450, 0)
