"""The hash-chain primitives shared by sealing, verification and export.

A row hash is sha256 over a canonical JSON form of *every* column of an ``AuditEvent`` (the id
included, so content moved from one id to another changes both hashes). A block hash covers the
block's header (sequence, id range), the previous block's hash and the ``[id, row hash]`` list, so
editing, deleting or reordering a sealed row, or editing a block, breaks the chain.

Changing anything here invalidates every existing block: bump ``CHAIN_VERSION`` (rows) or
``BLOCK_VERSION`` (blocks) and teach the verifier the old form instead. Block version 2 (one chain per
organization) added the chain id to the block header; rows kept version 1.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from audit.models import AuditEvent

CHAIN_VERSION = 1  # the row hash form
BLOCK_VERSION = 2  # the block hash form: 2 = per-organization chains
GENESIS_HASH = "0" * 64

# Every column, in a fixed order. A new column on AuditEvent must be added here (and CHAIN_VERSION
# bumped), or it would not be covered by the hash; tests/audit/test_chain.py guards this list.
EVENT_FIELDS: tuple[str, ...] = (
    "id",
    "occurred_at",
    "action",
    "outcome",
    "actor_type",
    "actor_id",
    "actor_label",
    "actor_role",
    "organization_id",
    "project_id",
    "environment",
    "path",
    "resource_type",
    "resource_id",
    "source_ip",
    "user_agent",
    "request_id",
    "metadata",
)


def audit_event_as_dict(event: AuditEvent) -> dict[str, Any]:
    """Every column of ``event`` as JSON-ready values; ``occurred_at`` as UTC ISO 8601 with microseconds."""
    data: dict[str, Any] = {name: getattr(event, name) for name in EVENT_FIELDS}
    data["occurred_at"] = event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds")
    return data


def _canonical_json(value: Any) -> bytes:
    # ASCII-only output: the same bytes on every platform, and no lone surrogate can fail encoding.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def audit_row_hash(event: AuditEvent) -> str:
    """Hex sha256 of the canonical form of one row, as it is stored (read it back from the DB first)."""
    return audit_row_hash_of(audit_event_as_dict(event))


def audit_row_hash_of(row: dict[str, Any]) -> str:
    """Hex sha256 of a row given as ``audit_event_as_dict`` returns it."""
    return hashlib.sha256(_canonical_json({"v": CHAIN_VERSION, "row": row})).hexdigest()


def audit_block_hash(
    *,
    chain: int,
    sequence: int,
    first_event_id: int,
    last_event_id: int,
    previous_hash: str,
    row_hashes: Sequence[Sequence[Any]],
) -> str:
    """Hex sha256 of ``previous_hash`` + header (chain, sequence, id range) + each ``id:row_hash`` in order."""
    digest = hashlib.sha256()
    digest.update(f"strongroom-audit-block-v{BLOCK_VERSION}\nchain {chain}\n{previous_hash}\n".encode("ascii"))
    digest.update(f"{sequence}\n{first_event_id}\n{last_event_id}\n".encode("ascii"))
    for event_id, row_hash in row_hashes:
        digest.update(f"{event_id}:{row_hash}\n".encode())
    return digest.hexdigest()
