"""The audit chain's head, kept outside the database: an append-only file of sealed block hashes.

The hash chain shows an edited, deleted or reordered row *inside* the chain, but someone who can
write the database freely could delete the newest blocks with their rows, or rewrite the chain from
some block on, and the chain alone would still verify. So after sealing, the sealer appends the
newest block's ``sequence`` and ``block_hash`` to ``STRONGROOM_AUDIT_ANCHOR_PATH`` (default
``DATA_DIR/audit-anchor.jsonl``), one JSON object per line, and ``audit_verify`` checks every
anchored block against the database: a block the anchor saw that is now missing, or whose hash
differs, is tampering (or an edited anchor). The audit-streams work ships the same lines to a SIEM.

Writers hold an exclusive ``flock`` on the file while they read its last line and append, and only
append a block newer than the last line, so sequences in the file strictly increase (per host).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.utils import timezone

from audit.models import AuditBlock

logger = logging.getLogger(__name__)

_HEX64 = re.compile(r"[0-9a-f]{64}")
_TAIL_BYTES = 4096


@dataclass(frozen=True)
class AnchorEntry:
    """One anchored block; ``line`` is its 1-based line number in the file."""

    sequence: int
    block_hash: str
    line: int


class AnchorMalformed(ValueError):
    """A line of the anchor file is not what the sealer writes (the file was edited or damaged)."""


def anchor_path() -> Path:
    return Path(settings.STRONGROOM_AUDIT_ANCHOR_PATH)


def audit_anchor_record_head() -> AnchorEntry | None:
    """Append the newest sealed block to the anchor file unless the file already records it.

    Returns the entry written, or None when there is nothing new (no block yet, or the last line
    already names the newest block). Idempotent and safe from many processes on one host. A last
    line *newer* than the database's newest block means blocks were removed: that is logged as an
    error and left for ``audit_verify`` to report (the anchor is never rewritten)."""
    path = anchor_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        # The head is read under the file lock: a slower sealer can never append an older block
        # after a newer one.
        head = AuditBlock.objects.order_by("-sequence").only("sequence", "block_hash", "last_event_id").first()
        if head is None:
            return None
        last = _last_sequence(fd)
        if last is not None and last >= head.sequence:
            if last > head.sequence:
                logger.error(
                    "audit anchor records block %s but the database's newest block is %s: run audit_verify",
                    last,
                    head.sequence,
                )
            return None
        record = {
            "sequence": head.sequence,
            "block_hash": head.block_hash,
            "last_event_id": head.last_event_id,
            "recorded_at": timezone.now().isoformat(timespec="seconds"),
        }
        os.write(fd, (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode("ascii"))
        os.fsync(fd)
        return AnchorEntry(sequence=head.sequence, block_hash=head.block_hash, line=0)
    finally:
        os.close(fd)  # releases the lock


def _last_sequence(fd: int) -> int | None:
    size = os.fstat(fd).st_size
    if size == 0:
        return None
    start = max(0, size - _TAIL_BYTES)
    tail = os.pread(fd, size - start, start).decode("ascii", errors="replace")
    lines = [line for line in tail.splitlines() if line.strip()]
    if not lines:
        return None
    try:
        return _parse(lines[-1], 0).sequence
    except AnchorMalformed:
        # Appending is still right: audit_verify reports the damaged line.
        logger.error("audit anchor %s: the last line is malformed; run audit_verify", anchor_path())
        return None


def _parse(text: str, line: int) -> AnchorEntry:
    try:
        record = json.loads(text)
    except ValueError:
        raise AnchorMalformed(f"anchor line {line} is not JSON (anchor edited or damaged)") from None
    sequence = record.get("sequence") if isinstance(record, dict) else None
    block_hash = record.get("block_hash") if isinstance(record, dict) else None
    if type(sequence) is not int or sequence < 1 or not isinstance(block_hash, str) or not _HEX64.fullmatch(block_hash):
        raise AnchorMalformed(f"anchor line {line} is malformed (anchor edited or damaged)")
    return AnchorEntry(sequence=sequence, block_hash=block_hash, line=line)


class AnchorReader:
    """The anchor file as it was when opened, streamed in order (lines appended later are ignored,
    so a block sealed while ``audit_verify`` runs cannot look "missing from the database")."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: BinaryIO | None
        try:
            self._handle = path.open("rb")
        except FileNotFoundError:
            self._handle = None
        self.exists = self._handle is not None
        self._limit = os.fstat(self._handle.fileno()).st_size if self._handle else 0
        self.entries_read = 0
        self.last_sequence: int | None = None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()

    def __iter__(self) -> Iterator[AnchorEntry]:
        if self._handle is None:
            return
        consumed = 0
        for number, raw in enumerate(self._handle, start=1):
            consumed += len(raw)
            if consumed > self._limit:
                break
            text = raw.decode("ascii", errors="replace").strip()
            if not text:
                continue
            entry = _parse(text, number)
            if self.last_sequence is not None and entry.sequence <= self.last_sequence:
                raise AnchorMalformed(
                    f"anchor line {number}: block {entry.sequence} is not after block {self.last_sequence}"
                    " (anchor edited)"
                )
            self.last_sequence = entry.sequence
            self.entries_read += 1
            yield entry
