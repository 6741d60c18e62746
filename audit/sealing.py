"""Sealing audit rows into their organizations' hash chains, after the fact.

Writers insert ``AuditEvent`` rows freely and never wait for each other; this service (run by a
beat task every few seconds) takes the next run of unsealed rows in id order (everything above the
sealed boundary, ``audit_sealed_through``), groups them by organization, and seals each group into
a new ``AuditBlock`` of that organization's chain whose hash covers the rows and the chain's
previous block. All blocks of one run commit together and record the run's boundary in
``sealed_through``: below it, every event is in a block of its own chain.

The race it must not lose: ids are handed out when a row is inserted, not when it commits, so a
row with a *lower* id can become visible after a higher one. Sealing past it would leave it inside
a sealed id range but outside the block (``audit_verify`` reports exactly that as tampering). Two
guards keep the sealer behind every writer still in flight:

* only rows older than ``STRONGROOM_AUDIT_SEAL_DELAY_SECONDS`` are sealed, and sealing stops at the
  first row that is too young (a contiguous prefix in id order, never "old rows wherever they are");
* on PostgreSQL, also only rows older than the start of the oldest still-open *writing*
  transaction in this database (``pg_stat_activity``), so a request that holds its audit row
  uncommitted for minutes only delays sealing. SQLite runs one write transaction at a time, so ids
  there become visible in order.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from audit.anchor import audit_anchor_record_head
from audit.chain import GENESIS_HASH, audit_block_hash, audit_row_hash
from audit.models import AuditBlock, AuditEvent, chain_of

logger = logging.getLogger(__name__)

MAX_ROWS_PER_BLOCK = 5000
MAX_BLOCKS_PER_CALL = 200
# Our clock (occurred_at) against the database's (xact_start): allow for skew between hosts.
_CLOCK_MARGIN = timedelta(seconds=5)
# One advisory lock key for "the audit sealer", stable across processes and releases.
SEAL_LOCK_KEY = int.from_bytes(hashlib.sha256(b"strongroom.audit.seal").digest()[:8], "big", signed=True)

_OLDEST_OPEN_WRITER_SQL = """
    SELECT min(xact_start) FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()
      AND backend_xid IS NOT NULL AND backend_type = 'client backend'
"""


def audit_seal_pending(*, delay_seconds: int | None = None, max_rows: int = MAX_ROWS_PER_BLOCK) -> int:
    """Seal every due unsealed row, ``max_rows`` per block, one transaction per block (at most
    ``MAX_BLOCKS_PER_CALL`` blocks, so one task run stays bounded; the next run continues).

    Then records the newest block in the external anchor file (``audit.anchor``).
    Returns the number of rows sealed: 0 when nothing is due, or when another sealer holds the lock
    or wins the race for the next ``sequence`` (then that sealer does the work). Idempotent and safe
    to run concurrently from any number of processes. ``delay_seconds`` overrides the setting.
    """
    delay = settings.STRONGROOM_AUDIT_SEAL_DELAY_SECONDS if delay_seconds is None else delay_seconds
    total = 0
    for _ in range(MAX_BLOCKS_PER_CALL):
        sealed = _seal_next_block(delay=timedelta(seconds=max(delay, 0)), max_rows=max_rows)
        total += sealed
        if sealed < max_rows:
            break
    # Even when nothing new was sealed: a previous run may have died between commit and anchor.
    try:
        audit_anchor_record_head()
    except OSError as exc:
        logger.error("audit sealing: could not append to the anchor file (%s); audit_verify will say so", exc.strerror)
    return total


def audit_sealed_through() -> int:
    """The sealed boundary: every event with an id up to this one is sealed in its chain (0: none yet).
    Streams deliver up to here; no event at or below it can still appear (ids commit out of order,
    the sealer waits for that)."""
    value = AuditBlock.objects.aggregate(through=Max("sealed_through"))["through"]
    return int(value or 0)


def _seal_next_block(*, delay: timedelta, max_rows: int) -> int:
    """Seal one run (one block per chain that has rows in it) in its own transaction; returns its
    row count (0: nothing due, or lost a race)."""
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql" and not _try_seal_lock():
                return 0
            horizon = _seal_horizon(delay)
            after_id = audit_sealed_through()
            candidates = AuditEvent.objects.filter(id__gt=after_id).order_by("id")[:max_rows]
            by_chain: dict[int, list[list[int | str]]] = {}
            through = 0
            for event in candidates.iterator(chunk_size=1000):
                if event.occurred_at > horizon:
                    break  # everything after this row is too young as well, or may be overtaken
                by_chain.setdefault(chain_of(event.organization_id), []).append([event.pk, audit_row_hash(event)])
                through = event.pk
            if not by_chain:
                return 0
            heads = _chain_heads(list(by_chain))
            if audit_sealed_through() != after_id:
                # Without the advisory lock each statement sees what had committed when it began: a sealer
                # that committed after the boundary was read but before (or while) the heads were, would
                # have us seal its rows again under the next sequence numbers, which no constraint catches.
                logger.info("audit sealing: another sealer moved the boundary; its blocks cover these rows")
                return 0
            blocks = [
                _block_after(chain, heads.get(chain), row_hashes, sealed_through=through)
                for chain, row_hashes in sorted(by_chain.items())
            ]
            AuditBlock.objects.bulk_create(blocks)
    except IntegrityError:
        # Another sealer inserted one of these sequences first (the unique constraint is the last
        # line of defence when no advisory lock is available); its blocks cover these rows.
        logger.info("audit sealing: lost the race for the next blocks; another sealer has them")
        return 0
    count = sum(len(rows) for rows in by_chain.values())
    logger.info(
        "audit sealing: sealed events %s..%s (%s rows) into %s chain(s)", after_id + 1, through, count, len(blocks)
    )
    return count


def _chain_heads(chains: list[int]) -> dict[int, AuditBlock]:
    """The newest block of each of ``chains`` (one query)."""
    newest = (
        AuditBlock.objects.filter(chain__in=chains)
        .values("chain")
        .annotate(top=Max("sequence"))
        .values_list("chain", "top")
    )
    wanted = Q()
    for chain, top in newest:
        wanted |= Q(chain=chain, sequence=top)
    if not wanted:
        return {}
    return {block.chain: block for block in AuditBlock.objects.filter(wanted).defer("row_hashes")}


def _block_after(
    chain: int, last: AuditBlock | None, row_hashes: list[list[int | str]], *, sealed_through: int
) -> AuditBlock:
    sequence = last.sequence + 1 if last else 1
    previous_hash = last.block_hash if last else GENESIS_HASH
    first_id, last_id = int(row_hashes[0][0]), int(row_hashes[-1][0])
    block_hash = audit_block_hash(
        chain=chain,
        sequence=sequence,
        first_event_id=first_id,
        last_event_id=last_id,
        previous_hash=previous_hash,
        row_hashes=row_hashes,
    )
    return AuditBlock(
        chain=chain,
        sequence=sequence,
        first_event_id=first_id,
        last_event_id=last_id,
        sealed_through=sealed_through,
        row_hashes=row_hashes,
        previous_hash=previous_hash,
        block_hash=block_hash,
    )


def audit_chain_head(chain: int) -> AuditBlock | None:
    """The newest sealed block of ``chain`` (an organization id, or 0), without its row list."""
    return AuditBlock.objects.filter(chain=chain).order_by("-sequence").defer("row_hashes").first()


def _try_seal_lock() -> bool:
    """PostgreSQL: take the sealer's transaction-scoped advisory lock without waiting."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEAL_LOCK_KEY])
        row = cursor.fetchone()
    return bool(row and row[0])


def _seal_horizon(delay: timedelta) -> datetime:
    """The newest ``occurred_at`` that may be sealed now (see the module docstring)."""
    horizon = timezone.now() - delay
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # pg_stat_activity is cached per transaction; a caller's outer transaction must not
            # make us read a stale list of open writers.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(_OLDEST_OPEN_WRITER_SQL)
            row = cursor.fetchone()
        if row and row[0] is not None:
            horizon = min(horizon, row[0] - _CLOCK_MARGIN)
    return horizon
