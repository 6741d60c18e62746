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

from audit.anchor import AnchorEntry, AnchorMalformed, AnchorReader, anchor_path
from audit.chain import GENESIS_HASH, audit_block_hash, audit_event_as_dict, audit_row_hash, audit_row_hash_of
from audit.models import AuditBlock, AuditEvent

_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class VerifyResult:
    """``ok`` is True when every sealed block and row is intact; otherwise ``first_broken`` says where
    the chain first breaks, e.g. ``"block 3: event 1234 was modified"``. Counts cover what was checked
    before the first break. ``pending_rows`` are rows not sealed yet (not a failure). ``head_*`` name
    the newest block. ``anchor_*`` describe the check against the external anchor file
    (``audit.anchor``): how many anchored blocks matched, the newest anchored block, and a note when
    there is nothing to check yet.
    """

    ok: bool
    blocks_checked: int
    rows_checked: int
    first_broken: str | None = None
    pending_rows: int = 0
    head_sequence: int | None = None
    head_hash: str | None = None
    anchor_path: str = ""
    anchor_entries: int = 0
    anchor_sequence: int | None = None
    anchor_note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _ChainBroken(Exception):
    """The first broken link; the message is what ``VerifyResult.first_broken`` reports."""


def audit_verify(*, chunk_size: int = 2000) -> VerifyResult:
    """Check every sealed block (sequence, links, hashes) and every row inside sealed ranges, and
    every block recorded in the anchor file against the database.

    Detects edited, deleted and reordered rows, rows inserted into a sealed range, edited or deleted
    blocks, and (through the anchor) deleted newest blocks and a chain rewritten from some block on.
    A database with sealed blocks but no anchor file fails: nothing shows its newest blocks are all
    there. Read-only; safe to run while writers and the sealer are busy.
    """
    # The anchor's size is fixed before the blocks are read: a block sealed (and anchored) while we
    # walk must not look like a block missing from the database.
    anchor = AnchorReader(anchor_path())
    with transaction.atomic():
        walk = _ChainWalk(chunk_size=chunk_size, anchor=anchor)
        try:
            walk.run()
        except _ChainBroken as broken:
            return VerifyResult(
                ok=False,
                blocks_checked=walk.blocks_checked,
                rows_checked=walk.rows_checked,
                first_broken=str(broken),
                anchor_path=str(anchor.path),
                anchor_entries=walk.anchors_checked,
            )
        finally:
            walk.close()
            anchor.close()
        head_id = walk.head.last_event_id if walk.head else 0
        note = None
        if not anchor.exists:
            note = "no anchor file yet: nothing has been sealed"
        elif walk.head is not None and (anchor.last_sequence or 0) < walk.head.sequence:
            note = f"blocks {(anchor.last_sequence or 0) + 1}..{walk.head.sequence} are not anchored yet"
        return VerifyResult(
            ok=True,
            blocks_checked=walk.blocks_checked,
            rows_checked=walk.rows_checked,
            pending_rows=AuditEvent.objects.filter(id__gt=head_id).count(),
            head_sequence=walk.head.sequence if walk.head else None,
            head_hash=walk.head.block_hash if walk.head else None,
            anchor_path=str(anchor.path),
            anchor_entries=walk.anchors_checked,
            anchor_sequence=anchor.last_sequence,
            anchor_note=note,
        )


class _ChainWalk:
    def __init__(self, *, chunk_size: int, anchor: AnchorReader) -> None:
        self.blocks_checked = 0
        self.rows_checked = 0
        self.anchors_checked = 0
        self.head: AuditBlock | None = None
        self._anchor_reader = anchor
        self._anchors: Iterator[AnchorEntry] = iter(anchor)
        self._anchor: AnchorEntry | None = None
        self._anchor_mismatch: _ChainBroken | None = None
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
        try:
            self._anchor = next(self._anchors, None)
            block = self._first_block
            while block is not None:
                self._check_block(block)
                self._check_anchor(block)
                self.head = block
                self.blocks_checked += 1
                block = next(self._blocks, None)
        except AnchorMalformed as malformed:
            raise _ChainBroken(str(malformed)) from None
        self._check_anchor_tail()

    def _check_anchor(self, block: AuditBlock) -> None:
        """Anchored sequences strictly increase, so each is met at most once, in block order."""
        entry = self._anchor
        if entry is None or entry.sequence != block.sequence:
            return
        if entry.block_hash != block.block_hash:
            # Reported after the walk: a break inside the chain (a later block's link) names the
            # tampering more precisely, and only a chain rewritten consistently to its end gets past it.
            if self._anchor_mismatch is None:
                self._anchor_mismatch = _ChainBroken(
                    f"block {block.sequence}: hash differs from the anchor (line {entry.line}):"
                    " the chain was rewritten from here on, or the anchor was edited"
                )
        else:
            self.anchors_checked += 1
        self._anchor = next(self._anchors, None)

    def _check_anchor_tail(self) -> None:
        if self._anchor_mismatch is not None:
            raise self._anchor_mismatch
        entry = self._anchor
        newest = self.head.sequence if self.head else None
        if entry is not None:
            raise _ChainBroken(
                f"block {entry.sequence} is missing (deleted): the anchor recorded it (line {entry.line}),"
                f" but the database's newest block is {newest if newest is not None else 'none'}"
            )
        if newest is not None and not self._anchor_reader.exists:
            raise _ChainBroken(
                f"no anchor file at {self._anchor_reader.path}: nothing shows that blocks after"
                " the newest one in the database were not deleted (restore the file; see docs/audit.md)"
            )

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
