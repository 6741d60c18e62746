"""Verifying the audit hash chain: ``audit_verify`` walks every sealed block and row once.

It streams (one server-side cursor over blocks, one over events, merged in id order), so memory
stays bounded by one block whatever the size of the log, and it stops at the *first* broken link,
which it names precisely: the block, the event, and what happened to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from django.db import transaction

from audit.chain import GENESIS_HASH, audit_block_hash, audit_event_as_dict, audit_row_hash, audit_row_hash_of
from audit.models import AuditBlock, AuditEvent

_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class VerifyResult:
    """``ok`` is True when every sealed block and row is intact; otherwise ``first_broken`` says where
    the chain first breaks, e.g. ``"block 3: event 1234 was modified"``. Counts cover what was checked
    before the first break. ``pending_rows`` are rows not sealed yet (not a failure). ``head_*`` name
    the newest block: record its hash outside the database to detect truncation or a rewritten chain.
    """

    ok: bool
    blocks_checked: int
    rows_checked: int
    first_broken: str | None = None
    pending_rows: int = 0
    head_sequence: int | None = None
    head_hash: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _ChainBroken(Exception):
    """The first broken link; the message is what ``VerifyResult.first_broken`` reports."""


def audit_verify(*, chunk_size: int = 2000) -> VerifyResult:
    """Check every sealed block (sequence, links, hashes) and every row inside sealed ranges.

    Detects edited, deleted and reordered rows, rows inserted into a sealed range, and edited or
    deleted blocks (except removing the newest blocks, which only an externally kept head hash
    reveals). Read-only; safe to run while writers and the sealer are busy.
    """
    with transaction.atomic():
        walk = _ChainWalk(chunk_size=chunk_size)
        try:
            walk.run()
        except _ChainBroken as broken:
            return VerifyResult(
                ok=False,
                blocks_checked=walk.blocks_checked,
                rows_checked=walk.rows_checked,
                first_broken=str(broken),
            )
        finally:
            walk.close()
        head_id = walk.head.last_event_id if walk.head else 0
        return VerifyResult(
            ok=True,
            blocks_checked=walk.blocks_checked,
            rows_checked=walk.rows_checked,
            pending_rows=AuditEvent.objects.filter(id__gt=head_id).count(),
            head_sequence=walk.head.sequence if walk.head else None,
            head_hash=walk.head.block_hash if walk.head else None,
        )


class _ChainWalk:
    def __init__(self, *, chunk_size: int) -> None:
        self.blocks_checked = 0
        self.rows_checked = 0
        self.head: AuditBlock | None = None
        # Blocks are read first: every block visible now was sealed from rows committed before it,
        # so the events cursor opened afterwards sees all of them (unless they were deleted).
        self._blocks: Iterator[AuditBlock] = AuditBlock.objects.order_by("sequence").iterator(chunk_size=8)
        self._first_block = next(self._blocks, None)
        self._events: Iterator[AuditEvent] = AuditEvent.objects.order_by("id").iterator(chunk_size=chunk_size)
        self._event: AuditEvent | None = None
        self._events_started = False

    def close(self) -> None:
        for cursor in (self._blocks, self._events):
            close = getattr(cursor, "close", None)
            if close is not None:
                close()

    def run(self) -> None:
        block = self._first_block
        while block is not None:
            self._check_block(block)
            self.head = block
            self.blocks_checked += 1
            block = next(self._blocks, None)

    def _peek(self) -> AuditEvent | None:
        if not self._events_started:
            self._event = next(self._events, None)
            self._events_started = True
        return self._event

    def _advance(self) -> None:
        self._event = next(self._events, None)

    def _check_block(self, block: AuditBlock) -> None:
        previous = self.head
        sequence = previous.sequence + 1 if previous else 1
        if block.sequence != sequence:
            raise _ChainBroken(f"block {sequence} is missing (deleted)")
        expected_previous = previous.block_hash if previous else GENESIS_HASH
        if block.previous_hash != expected_previous:
            of = f"block {sequence - 1}" if previous else "the genesis hash"
            raise _ChainBroken(f"block {sequence}: previous_hash does not match {of}")
        lower = previous.last_event_id if previous else 0
        entries = _block_entries(block, lower=lower)
        recomputed = audit_block_hash(
            sequence=block.sequence,
            first_event_id=block.first_event_id,
            last_event_id=block.last_event_id,
            previous_hash=block.previous_hash,
            row_hashes=entries,
        )
        if recomputed != block.block_hash:
            raise _ChainBroken(f"block {sequence}: block_hash does not match its contents (block modified)")
        self._check_rows(sequence, entries)

    def _check_rows(self, sequence: int, entries: list[tuple[int, str]]) -> None:
        for event_id, expected in entries:
            event = self._peek()
            # Everything before this entry was consumed by earlier entries and blocks, so a row
            # still ahead of it sits in the sealed range without being part of it.
            if event is not None and event.pk < event_id:
                raise _ChainBroken(f"block {sequence}: event {event.pk} inserted into sealed range")
            if event is None or event.pk > event_id:
                raise _ChainBroken(f"block {sequence}: event {event_id} is missing (deleted)")
            if audit_row_hash(event) != expected:
                raise _ChainBroken(_describe_modified(sequence, event, entries))
            self.rows_checked += 1
            self._advance()


def _block_entries(block: AuditBlock, *, lower: int) -> list[tuple[int, str]]:
    """The block's ``[id, row hash]`` list, validated: ids strictly increasing above ``lower`` and
    matching the block's first/last event ids."""
    raw = block.row_hashes
    malformed = _ChainBroken(f"block {block.sequence}: row list is malformed (block modified)")
    if not isinstance(raw, list) or not raw:
        raise malformed
    entries: list[tuple[int, str]] = []
    previous_id = lower
    for item in raw:
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise malformed
        event_id, row_hash = item
        if type(event_id) is not int or not isinstance(row_hash, str) or not _HEX64.fullmatch(row_hash):
            raise malformed
        if event_id <= previous_id:
            raise malformed
        entries.append((event_id, row_hash))
        previous_id = event_id
    if entries[0][0] != block.first_event_id or entries[-1][0] != block.last_event_id:
        raise _ChainBroken(f"block {block.sequence}: event range does not match its row list (block modified)")
    return entries


def _describe_modified(sequence: int, event: AuditEvent, entries: list[tuple[int, str]]) -> str:
    """Name a modified row, and say so when it now holds another sealed row's content (a swap)."""
    row = audit_event_as_dict(event)
    for other_id, other_hash in entries:
        if other_id != event.pk and audit_row_hash_of({**row, "id": other_id}) == other_hash:
            return f"block {sequence}: event {event.pk} was modified (it holds the content of event {other_id}: rows reordered)"
    return f"block {sequence}: event {event.pk} was modified"
