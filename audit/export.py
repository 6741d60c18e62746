"""Exporting audit events for a download, an operator's file or a SIEM: JSON Lines, CSV and CEF.

Every exported event carries its columns exactly as the hash chain covers them
(``audit.chain.audit_event_as_dict``), its ``row_hash`` and, once sealed, the block that holds it
(``block_chain`` — the organization id, 0 for instance events —, ``block_sequence``,
``block_hash``, and the block's header: ``block_first_event_id``,
``block_last_event_id``, ``block_previous_hash``, ``block_row_count``), so a receiver can recompute
row hashes and, for blocks it holds completely, the block hash chain (docs/audit_export_verify.py).

Streaming: rows are read by keyset pagination on ``id`` (``chunk_size`` at a time), and the blocks
covering a chunk are looked up once per chunk (headers only, never their row lists), so memory is
bounded by one chunk whatever the size of the log. Output is in id order, the order the chain seals.
"""

from __future__ import annotations

import csv
import io
import json
from bisect import bisect_right
from collections.abc import Callable, Iterator
from typing import Any

from django.db.models import Func, IntegerField, QuerySet

from audit.cef import cef_line, strongroom_version
from audit.chain import EVENT_FIELDS, audit_event_as_dict, audit_row_hash_of
from audit.models import AuditBlock, AuditEvent, chain_of

CHUNK_SIZE = 1000

CHAIN_FIELDS: tuple[str, ...] = (
    "row_hash",
    "block_chain",
    "block_sequence",
    "block_hash",
    "block_first_event_id",
    "block_last_event_id",
    "block_previous_hash",
    "block_row_count",
)
EXPORT_FIELDS: tuple[str, ...] = EVENT_FIELDS + CHAIN_FIELDS


class _JsonArrayLength(Func):
    """Length of a JSON array column, computed in the database (the row list is never loaded)."""

    function = "json_array_length"
    output_field = IntegerField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(compiler, connection, function="jsonb_array_length", **extra)


def audit_export_rows(queryset: QuerySet[AuditEvent], *, chunk_size: int = CHUNK_SIZE) -> Iterator[dict[str, Any]]:
    """Yield each event of ``queryset`` as a dict of ``EXPORT_FIELDS``, in id order.

    The queryset's own ordering is replaced by id order. Scope and permission filtering are the
    caller's (pass a queryset from ``audit.selectors.audit_event_list``). Unsealed rows have
    ``None`` in every ``block_*`` field.
    """
    events = queryset.order_by("id")
    last_id = 0
    while True:
        chunk = list(events.filter(id__gt=last_id)[:chunk_size])
        if not chunk:
            return
        last_id = chunk[-1].pk
        block_of = _block_lookup(chunk[0].pk, last_id)
        for event in chunk:
            row = audit_event_as_dict(event)
            row["row_hash"] = audit_row_hash_of(row)
            row.update(block_of(chain_of(event.organization_id), event.pk))
            yield row
        if len(chunk) < chunk_size:
            return


_UNSEALED: dict[str, Any] = {name: None for name in CHAIN_FIELDS if name != "row_hash"}


def _block_lookup(first_id: int, last_id: int) -> Callable[[int, int], dict[str, Any]]:
    """One query for the headers of the blocks (of every chain) overlapping ``first_id..last_id``;
    returns a lookup by (chain, event id)."""
    blocks_by_chain: dict[int, list[dict[str, Any]]] = {}
    for block in (
        AuditBlock.objects.filter(last_event_id__gte=first_id, first_event_id__lte=last_id)
        .order_by("chain", "first_event_id")
        .annotate(row_count=_JsonArrayLength("row_hashes"))
        .values("chain", "sequence", "block_hash", "first_event_id", "last_event_id", "previous_hash", "row_count")
    ):
        blocks_by_chain.setdefault(block["chain"], []).append(block)
    starts = {chain: [block["first_event_id"] for block in blocks] for chain, blocks in blocks_by_chain.items()}

    def lookup(chain: int, event_id: int) -> dict[str, Any]:
        blocks = blocks_by_chain.get(chain, [])
        index = bisect_right(starts.get(chain, []), event_id) - 1
        if index < 0 or blocks[index]["last_event_id"] < event_id:
            return _UNSEALED
        block = blocks[index]
        return {
            "block_chain": block["chain"],
            "block_sequence": block["sequence"],
            "block_hash": block["block_hash"],
            "block_first_event_id": block["first_event_id"],
            "block_last_event_id": block["last_event_id"],
            "block_previous_hash": block["previous_hash"],
            "block_row_count": block["row_count"],
        }

    return lookup


def audit_export_jsonl(queryset: QuerySet[AuditEvent], *, chunk_size: int = CHUNK_SIZE) -> Iterator[str]:
    """Yield one JSON object per event, each ending in ``\\n``, in id order.

    ASCII with control characters escaped, so one line is one event whatever a path or user agent
    contains. This is the form a receiver verifies the chain from.
    """
    for row in audit_export_rows(queryset, chunk_size=chunk_size):
        yield json.dumps(row, sort_keys=True, ensure_ascii=True) + "\n"


# A cell starting with one of these is a formula to a spreadsheet (CSV injection): it is prefixed
# with an apostrophe. JSON Lines keeps the exact value; verify from JSON Lines, not from CSV.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def audit_export_csv(queryset: QuerySet[AuditEvent], *, chunk_size: int = CHUNK_SIZE) -> Iterator[str]:
    """Yield a header line, then one CSV record per event (RFC 4180, ``\\r\\n``), in id order.

    ``metadata`` is a JSON string; empty cells are empty strings or NULLs; text starting with a
    formula character gets a leading ``'``.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(EXPORT_FIELDS)
    yield flush()
    for row in audit_export_rows(queryset, chunk_size=chunk_size):
        writer.writerow([_csv_cell(row[name]) for name in EXPORT_FIELDS])
        yield flush()


def audit_export_cef(queryset: QuerySet[AuditEvent], *, chunk_size: int = CHUNK_SIZE) -> Iterator[str]:
    """Yield one ArcSight CEF:0 line per event, each ending in ``\\n``, in id order (mapping in ``audit.cef``)."""
    version = strongroom_version()
    for row in audit_export_rows(queryset, chunk_size=chunk_size):
        yield cef_line(row, version=version) + "\n"


# name -> (writer, content type, file extension)
FORMATS: dict[str, tuple[Callable[..., Iterator[str]], str, str]] = {
    "jsonl": (audit_export_jsonl, "application/x-ndjson", "jsonl"),
    "csv": (audit_export_csv, "text/csv; charset=utf-8", "csv"),
    "cef": (audit_export_cef, "text/plain; charset=utf-8", "cef"),
}


def audit_export_stream(
    queryset: QuerySet[AuditEvent], *, export_format: str, chunk_size: int = CHUNK_SIZE
) -> Iterator[str]:
    """The export of ``queryset`` in ``export_format`` (``jsonl``, ``csv`` or ``cef``); ValueError otherwise."""
    if export_format not in FORMATS:
        raise ValueError(f"unknown export format {export_format!r}: use one of {', '.join(FORMATS)}")
    return FORMATS[export_format][0](queryset, chunk_size=chunk_size)
