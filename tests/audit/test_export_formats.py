from __future__ import annotations

import csv
import io
import json
import re
from unittest import mock

import pytest

from audit.cef import cef_escape_extension, cef_escape_header, cef_severity
from audit.chain import EVENT_FIELDS, audit_row_hash
from audit.export import EXPORT_FIELDS, audit_export_csv, audit_export_rows, audit_export_stream
from audit.models import AuditBlock, AuditEvent
from audit.sealing import audit_seal_pending
from audit.services import AuditActor
from tests.audit.conftest import RecordEvent

pytestmark = pytest.mark.django_db

HOSTILE = AuditActor(type="user", id="9", label="a|b=c\\d\nx", role="ad|min")

# Header: 7 pipe-separated fields (a pipe is a field separator unless escaped), then the extension.
CEF_LINE = re.compile(r"^CEF:0\|((?:[^|\\]|\\.)*\|){6}(?P<ext>.*)$")
EXT_PAIR = re.compile(r"(\w+)=((?:[^\\=]|\\.)*?)(?= \w+=|$)")


def _cef_unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), value)


def _cef_header(line: str) -> list[str]:
    return [_cef_unescape(part) for part in re.findall(r"((?:[^|\\]|\\.)*)\|", line)[:7]]


def _cef_extension(line: str) -> dict[str, str]:
    match = CEF_LINE.match(line)
    assert match, line
    return {key: _cef_unescape(value) for key, value in EXT_PAIR.findall(match.group("ext"))}


def test_it_exports_each_row_with_its_row_hash_and_block_once_sealed(record_event: RecordEvent) -> None:
    first = record_event()
    audit_seal_pending(delay_seconds=0)
    second = record_event("secret.deleted")

    sealed, unsealed = audit_export_rows(AuditEvent.objects.all())

    block = AuditBlock.objects.get()
    assert sealed["id"] == first.pk and sealed["row_hash"] == audit_row_hash(AuditEvent.objects.get(pk=first.pk))
    assert (sealed["block_sequence"], sealed["block_hash"], sealed["block_row_count"]) == (
        block.sequence,
        block.block_hash,
        len(block.row_hashes),
    )
    assert unsealed["id"] == second.pk and unsealed["block_sequence"] is None and unsealed["block_hash"] is None


def test_it_exports_in_id_order_reading_in_chunks_with_one_block_query_per_chunk(
    record_event: RecordEvent, django_assert_max_num_queries: object
) -> None:
    ids = [record_event().pk for _ in range(25)]
    audit_seal_pending(delay_seconds=0, max_rows=7)

    # 25 rows in chunks of 10 = 3 event queries + 3 block queries: never one query per row.
    with django_assert_max_num_queries(6):  # type: ignore[operator]
        rows = list(audit_export_rows(AuditEvent.objects.order_by("-id"), chunk_size=10))

    assert [row["id"] for row in rows] == ids
    assert {row["block_sequence"] for row in rows} == {1, 2, 3, 4}


def test_it_never_loads_the_whole_queryset(record_event: RecordEvent) -> None:
    for _ in range(12):
        record_event()
    sizes: list[int] = []
    real = audit_export_rows.__globals__["_block_lookup"]

    def spy(first_id: int, last_id: int):  # type: ignore[no-untyped-def]
        sizes.append(last_id - first_id + 1)
        return real(first_id, last_id)

    with mock.patch.dict(audit_export_rows.__globals__, {"_block_lookup": spy}):
        assert len(list(audit_export_rows(AuditEvent.objects.all(), chunk_size=5))) == 12
    assert sizes == [5, 5, 2]


def test_it_writes_jsonl_with_every_event_field_and_the_chain_fields(record_event: RecordEvent) -> None:
    record_event(metadata={"keys": ["A"]})

    (line,) = audit_export_stream(AuditEvent.objects.all(), export_format="jsonl")

    assert set(json.loads(line)) == set(EVENT_FIELDS) | {"row_hash", "block_chain", "block_sequence", "block_hash"} | {
        "block_first_event_id",
        "block_last_event_id",
        "block_previous_hash",
        "block_row_count",
    }


def test_it_writes_csv_that_the_csv_module_reads_back(record_event: RecordEvent) -> None:
    record_event(actor=HOSTILE, path='/db/"x",y', metadata={"keys": ["A", "B"]})
    record_event(path='=HYPERLINK("http://evil")')

    text = "".join(audit_export_csv(AuditEvent.objects.all()))
    header, *records = list(csv.reader(io.StringIO(text)))

    assert tuple(header) == EXPORT_FIELDS and len(records) == 2
    first = dict(zip(header, records[0], strict=True))
    assert first["path"] == '/db/"x",y' and json.loads(first["metadata"]) == {"keys": ["A", "B"]}
    assert first["actor_label"] == AuditEvent.objects.order_by("id").first().actor_label  # type: ignore[union-attr]
    assert dict(zip(header, records[1], strict=True))["path"].startswith("'=")


def test_it_writes_cef_lines_whose_fields_round_trip_hostile_values(record_event: RecordEvent) -> None:
    event = record_event("secret.value_read", actor=HOSTILE, path="/p|a=t\\h")
    record_event("permission.denied", outcome="deny")
    audit_seal_pending(delay_seconds=0)

    lines = list(audit_export_stream(AuditEvent.objects.all(), export_format="cef"))

    assert all(line.endswith("\n") and line.count("\n") == 1 for line in lines)
    stored = AuditEvent.objects.get(pk=event.pk)
    header = _cef_header(lines[0])
    assert header[1:3] == ["Strongroom", "Strongroom"] and header[4:7] == [
        "secret.value_read",
        "secret.value_read",
        "5",
    ]
    ext = _cef_extension(lines[0].rstrip("\n"))
    assert ext["suser"] == stored.actor_label and ext["spriv"] == "ad|min" and ext["filePath"] == "/p|a=t\\h"
    assert ext["act"] == "secret.value_read" and ext["outcome"] == "allow"
    assert ext["rt"] == str(int(stored.occurred_at.timestamp() * 1000))
    assert (ext["cs1Label"], ext["cs1"]) == ("eventId", str(event.pk))
    assert (ext["cs2Label"], ext["cs2"]) == ("rowHash", audit_row_hash(stored))
    assert ext["cs3"] == "1" and len(ext["cs4"]) == 64
    assert _cef_header(lines[1])[6] == "7"


def test_it_escapes_cef_header_and_extension_values_and_round_trips_newlines() -> None:
    hostile = "a|b=c\\d\nnext\rline"
    assert cef_escape_header(hostile) == "a\\|b=c\\\\d\\nnext\\rline"
    assert cef_escape_extension(hostile) == "a|b\\=c\\\\d\\nnext\\rline"
    assert _cef_unescape(cef_escape_extension(hostile)) == hostile
    assert _cef_unescape(cef_escape_header(hostile)) == hostile


def test_it_maps_severity_from_outcome_and_action() -> None:
    assert cef_severity("secret.created", "error") == 8
    assert cef_severity("secret.value_read", "deny") == 7
    assert cef_severity("secret.value_read", "allow") == 5
    assert cef_severity("secret.values_read", "allow") == 5
    assert cef_severity("secret.created", "allow") == 3


def test_it_refuses_an_unknown_format(record_event: RecordEvent) -> None:
    with pytest.raises(ValueError, match="unknown export format"):
        audit_export_stream(AuditEvent.objects.all(), export_format="xml")


def test_it_streams_thousands_of_rows_in_bounded_chunks(record_event: RecordEvent) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    template = record_event()
    AuditEvent.objects.bulk_create(
        AuditEvent(occurred_at=timezone.now(), action="secret.value_read", actor_type="user", organization_id=1)
        for _ in range(2499)
    )
    lines = audit_export_stream(AuditEvent.objects.all(), export_format="jsonl")

    with CaptureQueriesContext(connection) as queries:
        first = next(lines)
        assert json.loads(first)["id"] == template.pk
        assert len(queries) == 2  # one chunk of events and its blocks: nothing more is read up front
        assert sum(1 for _ in lines) == 2499
    event_reads = [q["sql"] for q in queries.captured_queries if '"audit_auditblock"' not in q["sql"]]
    assert len(event_reads) == 3 and all("LIMIT 1000" in sql for sql in event_reads)
