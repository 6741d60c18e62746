"""Sealing audit rows into the hash chain, after the fact.

Writers insert ``AuditEvent`` rows freely and never wait for each other; this service (run by a
beat task every few seconds) takes the next run of unsealed rows in id order and seals them into
an ``AuditBlock`` whose hash covers the rows and the previous block.

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
from django.utils import timezone

from audit.anchor import audit_anchor_record_head
from audit.chain import GENESIS_HASH, audit_block_hash, audit_row_hash
from audit.models import AuditBlock, AuditEvent

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


def _seal_next_block(*, delay: timedelta, max_rows: int) -> int:
    """Seal one block in its own transaction; returns its row count (0: nothing due, or lost a race)."""
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql" and not _try_seal_lock():
                return 0
            horizon = _seal_horizon(delay)
            last = _last_block()
            after_id = last.last_event_id if last else 0
            candidates = AuditEvent.objects.filter(id__gt=after_id).order_by("id")[:max_rows]
            row_hashes: list[list[int | str]] = []
            for event in candidates.iterator(chunk_size=1000):
                if event.occurred_at > horizon:
                    break  # everything after this row is too young as well, or may be overtaken
                row_hashes.append([event.pk, audit_row_hash(event)])
            if not row_hashes:
                return 0
            block = _block_after(last, row_hashes)
            block.save(force_insert=True)
    except IntegrityError:
        # Another sealer inserted this sequence first (the unique constraint is the last line of
        # defence when no advisory lock is available); its block covers these rows.
        logger.info("audit sealing: lost the race for the next block; another sealer has it")
        return 0
    logger.info(
        "audit sealing: block %s sealed events %s..%s (%s rows)",
        block.sequence,
        block.first_event_id,
        block.last_event_id,
        len(row_hashes),
    )
    return len(row_hashes)


def _block_after(last: AuditBlock | None, row_hashes: list[list[int | str]]) -> AuditBlock:
    sequence = last.sequence + 1 if last else 1
    previous_hash = last.block_hash if last else GENESIS_HASH
    first_id, last_id = int(row_hashes[0][0]), int(row_hashes[-1][0])
    block_hash = audit_block_hash(
        sequence=sequence,
        first_event_id=first_id,
        last_event_id=last_id,
        previous_hash=previous_hash,
        row_hashes=row_hashes,
    )
    return AuditBlock(
        sequence=sequence,
        first_event_id=first_id,
        last_event_id=last_id,
        row_hashes=row_hashes,
        previous_hash=previous_hash,
        block_hash=block_hash,
    )


def _last_block() -> AuditBlock | None:
    return AuditBlock.objects.order_by("-sequence").first()


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
