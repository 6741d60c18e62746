"""The audit chains' heads, kept outside the database: an append-only file of sealed block hashes.

The hash chains show an edited, deleted or reordered row *inside* a chain, but someone who can
write the database freely could delete the newest blocks with their rows, or rewrite a chain from
some block on, and the chain alone would still verify. So after sealing, the sealer appends one
line to ``STRONGROOM_AUDIT_ANCHOR_PATH`` (default ``DATA_DIR/audit-anchor.jsonl``) naming the newest
block of every chain that advanced since the previous line, and the sealed boundary it reached::

    {"heads": {"0": [12, "ab…"], "7": [3, "cd…"]}, "recorded_at": "…", "sealed_through": 51234}

``audit_verify`` checks the newest anchored block of every chain against the database (a chain's
blocks link backwards, so the newest anchored block vouches for all before it): an anchored block
that is now missing, or whose hash differs, is tampering (or an edited anchor). Streams send the
same heads to each organization's SIEM with every batch.

Lines written before per-organization chains (``{"sequence": …, "block_hash": …}``) named blocks of
the retired single chain; they are counted as legacy and not checked (migration 0004 recorded that
chain's head in an ``audit.rechained`` event).

Writers hold an exclusive ``flock`` on the file while they read its last line and append, and only
append when blocks past the last line's boundary exist, so boundaries in the file strictly
increase (per host).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone

from audit.models import AuditBlock

logger = logging.getLogger(__name__)

_HEX64 = re.compile(r"[0-9a-f]{64}")
_TAIL_BYTES = 4096


@dataclass(frozen=True)
class AnchorEntry:
    """One anchored chain head; ``line`` is its 1-based line number in the file."""

    chain: int
    sequence: int
    block_hash: str
    line: int


@dataclass(frozen=True)
class AnchorLine:
    """One line: the boundary it recorded and the heads it names (empty for a legacy line)."""

    sealed_through: int | None
    heads: tuple[AnchorEntry, ...]
    legacy: bool = False


class AnchorMalformed(ValueError):
    """A line of the anchor file is not what the sealer writes (the file was edited or damaged)."""


def anchor_path() -> Path:
    return Path(settings.STRONGROOM_AUDIT_ANCHOR_PATH)


def audit_anchor_record_head() -> AnchorLine | None:
    """Append the heads of every chain that advanced past the last line's boundary.

    Returns the line written, or None when there is nothing new. Idempotent and safe from many
    processes on one host. A last line whose boundary is *beyond* the database's means blocks were
    removed: that is logged as an error and left for ``audit_verify`` to report (the anchor is
    never rewritten)."""
    path = anchor_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        # The heads are read under the file lock: a slower sealer can never append an older
        # boundary after a newer one.
        recorded = _last_boundary(fd)
        newest = AuditBlock.objects.aggregate(through=Max("sealed_through"))["through"] or 0
        if newest <= recorded:
            if newest < recorded:
                logger.error(
                    "audit anchor records events sealed through %s but the database only through %s: run audit_verify",
                    recorded,
                    newest,
                )
            return None
        tops = (
            AuditBlock.objects.filter(sealed_through__gt=recorded)
            .values("chain")
            .annotate(top=Max("sequence"))
            .values_list("chain", "top")
        )
        wanted = Q()
        for chain, top in tops:
            wanted |= Q(chain=chain, sequence=top)
        entries = [
            AnchorEntry(chain=chain, sequence=sequence, block_hash=block_hash, line=0)
            for chain, sequence, block_hash in AuditBlock.objects.filter(wanted)
            .order_by("chain")
            .values_list("chain", "sequence", "block_hash")
        ]
        heads = {str(entry.chain): [entry.sequence, entry.block_hash] for entry in entries}
        record = {
            "heads": heads,
            "recorded_at": timezone.now().isoformat(timespec="seconds"),
            "sealed_through": newest,
        }
        os.write(fd, (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode("ascii"))
        os.fsync(fd)
        return AnchorLine(sealed_through=newest, heads=tuple(entries))
    finally:
        os.close(fd)  # releases the lock


def _last_boundary(fd: int) -> int:
    """The boundary of the last line that has one (0 when none: empty file or only legacy lines)."""
    size = os.fstat(fd).st_size
    window = _TAIL_BYTES
    while size:
        start = max(0, size - window)
        tail = os.pread(fd, size - start, start).decode("ascii", errors="replace")
        lines = [line for line in tail.splitlines() if line.strip()]
        # The first line of a partial window may be cut: only trust it when the window is the file.
        complete = lines if start == 0 else lines[1:]
        for text in reversed(complete):
            try:
                parsed = _parse(text, 0)
            except AnchorMalformed:
                # Appending is still right: audit_verify reports the damaged line.
                logger.error("audit anchor %s: a line is malformed; run audit_verify", anchor_path())
                return 0
            if parsed.sealed_through is not None:
                return parsed.sealed_through
            if parsed.legacy:
                return 0  # everything before is the retired single chain
        if start == 0:
            return 0
        window *= 4
    return 0


def _parse(text: str, line: int) -> AnchorLine:
    try:
        record = json.loads(text)
    except ValueError:
        raise AnchorMalformed(f"anchor line {line} is not JSON (anchor edited or damaged)") from None
    malformed = AnchorMalformed(f"anchor line {line} is malformed (anchor edited or damaged)")
    if not isinstance(record, dict):
        raise malformed
    if "heads" not in record:
        sequence, block_hash = record.get("sequence"), record.get("block_hash")
        if type(sequence) is int and isinstance(block_hash, str) and _HEX64.fullmatch(block_hash):
            return AnchorLine(sealed_through=None, heads=(), legacy=True)
        raise malformed
    heads, through = record.get("heads"), record.get("sealed_through")
    if not isinstance(heads, dict) or type(through) is not int or through < 1:
        raise malformed
    entries = []
    for chain, head in heads.items():
        if not isinstance(chain, str) or not chain.isdigit() or not isinstance(head, list) or len(head) != 2:
            raise malformed
        sequence, block_hash = head
        if (
            type(sequence) is not int
            or sequence < 1
            or not isinstance(block_hash, str)
            or not _HEX64.fullmatch(block_hash)
        ):
            raise malformed
        entries.append(AnchorEntry(chain=int(chain), sequence=sequence, block_hash=block_hash, line=line))
    return AnchorLine(sealed_through=through, heads=tuple(entries))


class AnchorReader:
    """The anchor file as it was when opened (lines appended later are ignored, so a block sealed
    while ``audit_verify`` runs cannot look "missing from the database"). ``read()`` returns the
    newest anchored head of every chain."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: BinaryIO | None
        try:
            self._handle = path.open("rb")
        except FileNotFoundError:
            self._handle = None
        self.exists = self._handle is not None
        self._limit = os.fstat(self._handle.fileno()).st_size if self._handle else 0
        self.lines_read = 0
        self.legacy_lines = 0
        self.sealed_through: int | None = None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()

    def read(self) -> dict[int, AnchorEntry]:
        """Newest anchored head per chain; AnchorMalformed for a damaged line or boundaries that go backwards."""
        newest: dict[int, AnchorEntry] = {}
        if self._handle is None:
            return newest
        consumed = 0
        for number, raw in enumerate(self._handle, start=1):
            consumed += len(raw)
            if consumed > self._limit:
                break
            text = raw.decode("ascii", errors="replace").strip()
            if not text:
                continue
            parsed = _parse(text, number)
            self.lines_read += 1
            if parsed.legacy:
                self.legacy_lines += 1
                continue
            assert parsed.sealed_through is not None
            if self.sealed_through is not None and parsed.sealed_through <= self.sealed_through:
                raise AnchorMalformed(
                    f"anchor line {number}: boundary {parsed.sealed_through} is not after {self.sealed_through}"
                    " (anchor edited)"
                )
            self.sealed_through = parsed.sealed_through
            for entry in parsed.heads:
                seen = newest.get(entry.chain)
                if seen is not None and entry.sequence < seen.sequence:
                    raise AnchorMalformed(
                        f"anchor line {number}: chain {entry.chain} block {entry.sequence} is older than"
                        f" block {seen.sequence} anchored before (anchor edited)"
                    )
                newest[entry.chain] = entry
        return newest
