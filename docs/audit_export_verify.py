#!/usr/bin/env python3
"""Check a Strongroom audit export (JSON Lines) against its hash chain. Standard library only.

    python3 audit_export_verify.py export.jsonl      # or - for stdin

For every line it recomputes the row hash from the exported event fields, exactly as Strongroom's
``audit/chain.py`` does, and compares it with ``row_hash``. For every block whose rows the export
holds completely (``block_row_count`` rows with that ``block_chain`` and ``block_sequence``), it
recomputes the block hash from the header and the ``id:row_hash`` list; for consecutive complete
blocks of one chain it checks that each one's ``block_previous_hash`` is the hash of the one before.
Each organization has its own chain (``block_chain`` is its id; 0 holds events of no organization),
so an organization's own export verifies on its own. Rows of blocks held only in part
(a filtered export) are checked row by row only.

Exit status 0 when everything checks, 1 on the first mismatch (printed), 2 on unreadable input.
Compare the newest ``block_hash`` you hold with the anchor line Strongroom appended for that block
(docs/audit.md, "The external anchor") to tie the export to a copy the database cannot rewrite.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

CHAIN_VERSION = 1  # row hash form
BLOCK_VERSION = 2  # block hash form (per-organization chains)
EVENT_FIELDS = (
    "id", "occurred_at", "action", "outcome", "actor_type", "actor_id", "actor_label", "actor_role",
    "organization_id", "project_id", "environment", "path", "resource_type", "resource_id",
    "source_ip", "user_agent", "request_id", "metadata",
)  # fmt: skip


def row_hash(row: dict[str, Any]) -> str:
    event = {name: row[name] for name in EVENT_FIELDS}
    canonical = json.dumps({"v": CHAIN_VERSION, "row": event}, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def block_hash(chain: int, sequence: int, first: int, last: int, previous: str, rows: list[tuple[int, str]]) -> str:
    digest = hashlib.sha256()
    digest.update(f"strongroom-audit-block-v{BLOCK_VERSION}\nchain {chain}\n{previous}\n".encode("ascii"))
    digest.update(f"{sequence}\n{first}\n{last}\n".encode("ascii"))
    for event_id, hashed in rows:
        digest.update(f"{event_id}:{hashed}\n".encode())
    return digest.hexdigest()


def verify(lines: Any) -> tuple[bool, str]:
    rows_checked = 0
    blocks: dict[tuple[int, int], dict[str, Any]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            computed = row_hash(row)
        except (ValueError, KeyError, TypeError) as exc:
            return False, f"line {number}: not an exported event ({exc})"
        if computed != row["row_hash"]:
            return False, f"line {number}: event {row['id']} does not match its row_hash (edited)"
        rows_checked += 1
        sequence = row.get("block_sequence")
        if sequence is None:
            continue
        key = (row["block_chain"], sequence)
        block = blocks.setdefault(key, {"rows": [], "header": None})
        header = tuple(
            row[f"block_{name}"] for name in ("hash", "first_event_id", "last_event_id", "previous_hash", "row_count")
        )
        if block["header"] is not None and block["header"] != header:
            return (
                False,
                f"line {number}: event {row['id']} disagrees with other rows about chain {key[0]} block {sequence}",
            )
        block["header"] = header
        block["rows"].append((row["id"], row["row_hash"]))
    complete: dict[int, list[tuple[int, str]]] = {}  # chain -> [(sequence, hash)] of complete blocks
    for chain, sequence in sorted(blocks):
        (hashed, first, last, previous, count), rows = (
            blocks[chain, sequence]["header"],
            blocks[chain, sequence]["rows"],
        )
        where = f"chain {chain} block {sequence}"
        if len(rows) != count:
            continue
        rows.sort()
        if rows[0][0] != first or rows[-1][0] != last:
            return False, f"{where}: rows do not span {first}..{last}"
        if block_hash(chain, sequence, first, last, previous, rows) != hashed:
            return False, f"{where}: block_hash does not match its rows and header"
        done = complete.setdefault(chain, [])
        if done and done[-1][0] == sequence - 1 and done[-1][1] != previous:
            return False, f"{where}: block_previous_hash is not the hash of block {sequence - 1}"
        done.append((sequence, hashed))
    count = sum(len(done) for done in complete.values())
    heads = "".join(
        f", chain {chain} newest block {done[-1][0]} {done[-1][1]}" for chain, done in sorted(complete.items())
    )
    return True, f"OK: {rows_checked} rows, {count} complete blocks verified{heads}"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print(f"usage: {argv[0]} EXPORT.jsonl|-", file=sys.stderr)
        return 2
    try:
        if argv[1] == "-":
            ok, report = verify(sys.stdin)
        else:
            with open(argv[1], encoding="ascii") as handle:
                ok, report = verify(handle)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"cannot read {argv[1]}: {exc}", file=sys.stderr)
        return 2
    print(report if ok else f"BROKEN: {report}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
