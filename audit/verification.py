"""Verifying the audit hash chains: ``audit_verify`` walks every sealed block and row once.

One chain per organization (``AuditBlock.chain``). Sealing runs write one block per chain that had
rows, and every block of a run records the run's boundary (``sealed_through``). So the walk reads
blocks run by run (ordered by boundary) and events in id order, in step: before event *n* is
checked, every run whose range can hold *n* is loaded, and each chain keeps a queue of the entries
it still expects. An event below the final boundary must be the next entry of its own chain.

Memory stays bounded by one run's blocks (plus one head per chain) whatever the size of the log,
and the walk stops at the *first* broken link, which it names precisely: the chain, the block, the
event, and what happened to it. Blocks whose events a retention purge deleted (``AuditPurge``) are
still checked as links of their chain; their events are not expected.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Max

from audit.anchor import AnchorEntry, AnchorMalformed, AnchorReader, anchor_path
from audit.chain import GENESIS_HASH, audit_block_hash, audit_event_as_dict, audit_row_hash, audit_row_hash_of
from audit.models import AuditBlock, AuditEvent, AuditPurge, chain_of

_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class VerifyResult:
    """``ok`` is True when every sealed block and row is intact; otherwise ``first_broken`` says where
    a chain first breaks, e.g. ``"chain 7 block 3: event 1234 was modified"``. Counts cover what was
    checked before the first break. ``pending_rows`` are rows not sealed yet (not a failure).
    ``chains`` counts the chains seen; ``heads`` maps each chain to its newest block
    ``[sequence, hash]``. ``anchor_*`` describe the check against the external anchor file
    (``audit.anchor``): how many chain heads matched, the newest anchored boundary, and a note when
    something is not anchored yet.
    """

    ok: bool
    blocks_checked: int
    rows_checked: int
    first_broken: str | None = None
    pending_rows: int = 0
    chains: int = 0
    heads: dict[str, list[Any]] = field(default_factory=dict)
    purged_rows: int = 0
    sealed_through: int = 0
    anchor_path: str = ""
    anchor_entries: int = 0
    anchor_sealed_through: int | None = None
    anchor_legacy_lines: int = 0
    anchor_note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _ChainBroken(Exception):
    """The first broken link; the message is what ``VerifyResult.first_broken`` reports."""


def audit_verify(*, chunk_size: int = 2000) -> VerifyResult:
    """Check every chain's blocks (sequence, links, hashes), every row below the sealed boundary, and
    every chain head recorded in the anchor file against the database.

    Detects edited, deleted and reordered rows, rows inserted into a sealed range, edited or deleted
    blocks, and (through the anchor) deleted newest blocks and a chain rewritten from some block on.
    A database with sealed blocks but no anchor file fails: nothing shows its newest blocks are all
    there. Read-only; safe to run while writers and the sealer are busy.
    """
    # The anchor's size is fixed before the blocks are read: a block sealed (and anchored) while we
    # walk must not look like a block missing from the database.
    anchor = AnchorReader(anchor_path())
    with transaction.atomic():
        walk = _ChainWalk(chunk_size=chunk_size)
        try:
            try:
                anchored = anchor.read()
            except AnchorMalformed as malformed:
                raise _ChainBroken(str(malformed)) from None
            walk.run()
            matched = walk.check_anchor(anchored, anchor)
        except _ChainBroken as broken:
            return VerifyResult(
                ok=False,
                blocks_checked=walk.blocks_checked,
                rows_checked=walk.rows_checked,
                first_broken=str(broken),
                chains=len(walk.heads),
                anchor_path=str(anchor.path),
            )
        finally:
            walk.close()
            anchor.close()
        note = None
        if not anchor.exists:
            note = "no anchor file yet: nothing has been sealed"
        elif walk.sealed_through and (anchor.sealed_through or 0) < walk.sealed_through:
            note = f"events {(anchor.sealed_through or 0) + 1}..{walk.sealed_through} are sealed but not anchored yet"
        return VerifyResult(
            ok=True,
            blocks_checked=walk.blocks_checked,
            rows_checked=walk.rows_checked,
            pending_rows=walk.pending_rows,
            chains=len(walk.heads),
            heads={str(chain): [head.sequence, head.block_hash] for chain, head in sorted(walk.heads.items())},
            purged_rows=walk.purged_rows,
            sealed_through=walk.sealed_through,
            anchor_path=str(anchor.path),
            anchor_entries=matched,
            anchor_sealed_through=anchor.sealed_through,
            anchor_legacy_lines=anchor.legacy_lines,
            anchor_note=note,
        )


@dataclass
class _Head:
    sequence: int
    block_hash: str
    last_event_id: int


class _ChainWalk:
    def __init__(self, *, chunk_size: int) -> None:
        self.blocks_checked = 0
        self.rows_checked = 0
        self.pending_rows = 0
        self.purged_rows = 0
        self.heads: dict[int, _Head] = {}
        # Blocks are read first: every block visible now was sealed from rows committed before it,
        # so the events cursor opened afterwards sees all of them (unless they were deleted).
        self.sealed_through = int(AuditBlock.objects.aggregate(top=Max("sealed_through"))["top"] or 0)
        self._purged_through: dict[int, tuple[int, int]] = {}  # chain -> (sequence, last event id)
        for purge in AuditPurge.objects.order_by("chain", "through_sequence"):
            self._purged_through[purge.chain] = (purge.through_sequence, purge.through_event_id)
        self._blocks: Iterator[AuditBlock] = (
            AuditBlock.objects.filter(sealed_through__lte=self.sealed_through)
            .order_by("sealed_through", "chain", "sequence")
            .iterator(chunk_size=8)
        )
        self._next_block: AuditBlock | None = next(self._blocks, None)
        self._loaded_through = 0
        self._expected: dict[int, deque[tuple[int, str, int]]] = {}  # chain -> (event id, row hash, block seq)
        self._events: Iterator[AuditEvent] = AuditEvent.objects.order_by("id").iterator(chunk_size=chunk_size)

    def close(self) -> None:
        for cursor in (self._blocks, self._events):
            close = getattr(cursor, "close", None)
            if close is not None:
                close()

    def run(self) -> None:
        for event in self._events:
            self._load_runs_covering(event.pk)
            chain = chain_of(event.organization_id)
            if event.pk > self.sealed_through:
                self.pending_rows += 1
                continue
            self._check_event(chain, event)
        self._load_runs_covering(None)
        for chain, queue in sorted(self._expected.items()):
            if queue:
                event_id, _, sequence = queue[0]
                raise _ChainBroken(f"chain {chain} block {sequence}: event {event_id} is missing (deleted)")

    def _load_runs_covering(self, event_id: int | None) -> None:
        """Load every block of the runs whose range may hold ``event_id`` (all remaining ones for None)."""
        while self._next_block is not None and (event_id is None or self._loaded_through < event_id):
            run_through = self._next_block.sealed_through
            while self._next_block is not None and self._next_block.sealed_through == run_through:
                self._check_block(self._next_block)
                self._next_block = next(self._blocks, None)
            self._loaded_through = run_through

    def _check_event(self, chain: int, event: AuditEvent) -> None:
        queue = self._expected.get(chain)
        # An entry before this event that nobody claimed was a deleted row of this chain.
        if queue and queue[0][0] < event.pk:
            missing_id, _, sequence = queue[0]
            raise _ChainBroken(f"chain {chain} block {sequence}: event {missing_id} is missing (deleted)")
        if not queue or queue[0][0] != event.pk:
            purged = self._purged_through.get(chain)
            if purged is not None and event.pk <= purged[1]:
                raise _ChainBroken(
                    f"chain {chain}: event {event.pk} is inside the purged range (blocks 1..{purged[0]})"
                    " but holds a row (inserted after the purge)"
                )
            covering = (
                AuditBlock.objects.filter(chain=chain, first_event_id__lte=event.pk, last_event_id__gte=event.pk)
                .values_list("sequence", flat=True)
                .first()
            )
            where = f"chain {chain} block {covering}" if covering else f"chain {chain}"
            raise _ChainBroken(f"{where}: event {event.pk} inserted into sealed range")
        _, expected, sequence = queue.popleft()
        if audit_row_hash(event) != expected:
            raise _ChainBroken(_describe_modified(chain, sequence, event, self._entries_for(chain, sequence)))
        self.rows_checked += 1

    def _entries_for(self, chain: int, sequence: int) -> list[tuple[int, str]]:
        block = AuditBlock.objects.filter(chain=chain, sequence=sequence).first()
        return _block_entries(block, lower=0) if block else []

    def _check_block(self, block: AuditBlock) -> None:
        chain = block.chain
        previous = self.heads.get(chain)
        sequence = previous.sequence + 1 if previous else 1
        where = f"chain {chain} block {sequence}"
        if block.sequence != sequence:
            raise _ChainBroken(f"{where} is missing (deleted)")
        expected_previous = previous.block_hash if previous else GENESIS_HASH
        if block.previous_hash != expected_previous:
            of = f"block {sequence - 1}" if previous else "the genesis hash"
            raise _ChainBroken(f"{where}: previous_hash does not match {of}")
        lower = previous.last_event_id if previous else 0
        entries = _block_entries(block, lower=lower)
        if block.last_event_id > block.sealed_through:
            raise _ChainBroken(f"{where}: its events lie beyond its sealing boundary (block modified)")
        recomputed = audit_block_hash(
            chain=chain,
            sequence=block.sequence,
            first_event_id=block.first_event_id,
            last_event_id=block.last_event_id,
            previous_hash=block.previous_hash,
            row_hashes=entries,
        )
        if recomputed != block.block_hash:
            raise _ChainBroken(f"{where}: block_hash does not match its contents (block modified)")
        self.heads[chain] = _Head(block.sequence, block.block_hash, block.last_event_id)
        self.blocks_checked += 1
        purged = self._purged_through.get(chain)
        if purged is not None and block.sequence <= purged[0]:
            self.purged_rows += len(entries)
            return
        queue = self._expected.setdefault(chain, deque())
        queue.extend((event_id, row_hash, block.sequence) for event_id, row_hash in entries)

    def check_anchor(self, anchored: dict[int, AnchorEntry], anchor: AnchorReader) -> int:
        """Every chain's newest anchored head must be in the database with the same hash (its
        chain's links vouch for everything before it). Returns how many heads matched."""
        matched = 0
        for chain, entry in sorted(anchored.items()):
            block = AuditBlock.objects.filter(chain=chain, sequence=entry.sequence).only("block_hash").first()
            if block is None:
                head = self.heads.get(chain)
                newest = head.sequence if head else "none"
                raise _ChainBroken(
                    f"chain {chain} block {entry.sequence} is missing (deleted): the anchor recorded it"
                    f" (line {entry.line}), but the chain's newest block is {newest}"
                )
            if block.block_hash != entry.block_hash:
                raise _ChainBroken(
                    f"chain {chain} block {entry.sequence}: hash differs from the anchor (line {entry.line}):"
                    " the chain was rewritten from here on, or the anchor was edited"
                )
            matched += 1
        if self.heads and not anchor.exists:
            raise _ChainBroken(
                f"no anchor file at {anchor.path}: nothing shows that blocks after"
                " the newest ones in the database were not deleted (restore the file; see docs/audit.md)"
            )
        return matched


def _block_entries(block: AuditBlock, *, lower: int) -> list[tuple[int, str]]:
    """The block's ``[id, row hash]`` list, validated: ids strictly increasing above ``lower`` and
    matching the block's first/last event ids."""
    raw = block.row_hashes
    malformed = _ChainBroken(f"chain {block.chain} block {block.sequence}: row list is malformed (block modified)")
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
        raise _ChainBroken(
            f"chain {block.chain} block {block.sequence}: event range does not match its row list (block modified)"
        )
    return entries


def _describe_modified(chain: int, sequence: int, event: AuditEvent, entries: list[tuple[int, str]]) -> str:
    """Name a modified row, and say so when it now holds another sealed row's content (a swap)."""
    row = audit_event_as_dict(event)
    where = f"chain {chain} block {sequence}"
    for other_id, other_hash in entries:
        if other_id != event.pk and audit_row_hash_of({**row, "id": other_id}) == other_hash:
            return f"{where}: event {event.pk} was modified (it holds the content of event {other_id}: rows reordered)"
    return f"{where}: event {event.pk} was modified"
