"""One hash chain per organization: sealing, verification, export, anchor and the migration from the
single chain."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from audit.export import audit_export_jsonl
from audit.models import AuditBlock, AuditEvent
from audit.sealing import audit_chain_head, audit_seal_pending, audit_sealed_through
from audit.verification import audit_verify
from tests.audit.conftest import BOB, RecordEvent, tamper, tamper_delete

pytestmark = pytest.mark.django_db

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "audit_export_verify.py"


def _interleaved(record_event: RecordEvent) -> dict[int | None, list[AuditEvent]]:
    events: dict[int | None, list[AuditEvent]] = {1: [], 2: [], None: []}
    for n in range(3):
        events[1].append(record_event(path=f"/a/{n}"))
        events[2].append(record_event(path=f"/b/{n}", organization_id=2, actor=BOB))
    events[None].append(record_event("auth.login_failed", organization_id=None, project_id=None))
    return events


def test_each_organization_gets_its_own_chain_numbered_from_one(record_event: RecordEvent) -> None:
    events = _interleaved(record_event)

    sealed = audit_seal_pending(delay_seconds=0)

    blocks = {block.chain: block for block in AuditBlock.objects.all()}
    assert sealed == 7
    assert sorted(blocks) == [0, 1, 2]
    assert all(block.sequence == 1 for block in blocks.values())
    assert [row[0] for row in blocks[2].row_hashes] == [e.pk for e in events[2]]
    assert [row[0] for row in blocks[0].row_hashes] == [events[None][0].pk]
    # Every block of the run records how far the run sealed, whatever chain it belongs to.
    assert {block.sealed_through for block in blocks.values()} == {audit_sealed_through()}
    assert audit_chain_head(2) == blocks[2]


def test_a_second_run_links_each_chain_to_its_own_previous_block(record_event: RecordEvent) -> None:
    _interleaved(record_event)
    audit_seal_pending(delay_seconds=0)
    first = {block.chain: block.block_hash for block in AuditBlock.objects.all()}
    record_event(organization_id=2)
    audit_seal_pending(delay_seconds=0)

    second = AuditBlock.objects.get(chain=2, sequence=2)

    assert second.previous_hash == first[2]
    assert not AuditBlock.objects.filter(chain=1, sequence=2).exists()  # chain 1 had nothing new
    result = audit_verify()
    assert (result.ok, result.chains, result.rows_checked) == (True, 3, 8)
    assert result.heads["2"] == [2, second.block_hash]


def test_tampering_is_named_in_the_chain_it_happened_in(record_event: RecordEvent) -> None:
    events = _interleaved(record_event)
    audit_seal_pending(delay_seconds=0)

    tamper(events[2][1].pk, actor_label="mallory")

    assert audit_verify().first_broken == f"chain 2 block 1: event {events[2][1].pk} was modified"


def test_a_deleted_last_row_of_one_chain_is_found_after_other_chains_go_on(record_event: RecordEvent) -> None:
    events = _interleaved(record_event)
    audit_seal_pending(delay_seconds=0)

    tamper_delete(events[2][-1].pk)  # later rows of chain 1 and the instance chain still follow

    assert audit_verify().first_broken == f"chain 2 block 1: event {events[2][-1].pk} is missing (deleted)"


def test_an_organization_verifies_its_own_export_alone(record_event: RecordEvent, tmp_path: Path) -> None:
    _interleaved(record_event)
    audit_seal_pending(delay_seconds=0, max_rows=4)
    audit_seal_pending(delay_seconds=0)
    own = list(audit_export_jsonl(AuditEvent.objects.filter(organization_id=2)))
    path = tmp_path / "org2.jsonl"
    path.write_text("".join(own), encoding="ascii")

    result = subprocess.run([sys.executable, str(SCRIPT), str(path)], capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stdout
    head = AuditBlock.objects.filter(chain=2).order_by("-sequence").first()
    assert head is not None
    assert f"chain 2 newest block {head.sequence} {head.block_hash}" in result.stdout
    assert {json.loads(line)["block_chain"] for line in own} == {2}


def test_the_anchor_names_each_chain_that_advanced(record_event: RecordEvent, settings: object) -> None:
    _interleaved(record_event)
    audit_seal_pending(delay_seconds=0)
    record_event(organization_id=2)
    audit_seal_pending(delay_seconds=0)

    from audit.anchor import anchor_path

    lines = [json.loads(line) for line in anchor_path().read_text().splitlines()]
    assert [sorted(line["heads"]) for line in lines] == [["0", "1", "2"], ["2"]]
    assert lines[1]["heads"]["2"][0] == 2
    assert audit_verify().anchor_entries == 3


# --- migration 0004 ------------------------------------------------------------------------------
_V1_BLOCK_SQL = (
    "INSERT INTO audit_auditblock (sequence, first_event_id, last_event_id, row_hashes, previous_hash, block_hash,"
    " sealed_at) VALUES (%s, %s, %s, %s, %s, %s, CURRENT_TIMESTAMP)"
)


def _migrate(target: str) -> None:
    """Migrate audit to *target*; the newest target brings every app back to its newest migration
    (going back unapplied the other apps' migrations that depend on audit's later ones: a later test
    in this worker would find their tables missing)."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    if target == "0004_per_organization_chains":
        executor.migrate([("audit", target)])
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
        return
    executor.migrate([("audit", target)])


def _v1_chain(events: list[AuditEvent], *, corrupt: bool = False) -> str:
    """What the single-chain release sealed: one block over the rows (v1 block hash is not re-checked
    by the migration; the row hashes are)."""
    mod = __import__("audit.migrations.0004_per_organization_chains", fromlist=["_v1_row_hash"])
    rows = [[e.pk, mod._v1_row_hash(AuditEvent.objects.get(pk=e.pk))] for e in events]
    if corrupt:
        rows[0][1] = "0" * 64
    head = "ab" * 32
    with connection.cursor() as cursor:
        cursor.execute(_V1_BLOCK_SQL, [1, rows[0][0], rows[-1][0], json.dumps(rows), "0" * 64, head])
    return head


@pytest.mark.django_db(transaction=True)
def test_migration_reseals_the_single_chain_per_organization(record_event: RecordEvent) -> None:
    _migrate("0003_maintenance_role")
    try:
        events = [record_event(), record_event(organization_id=2)]
        head = _v1_chain(events)
    finally:
        _migrate("0004_per_organization_chains")

    rechained = AuditEvent.objects.get(action="audit.rechained")
    assert rechained.metadata == {
        "legacy_head_sequence": 1,
        "legacy_head_hash": head,
        "legacy_blocks": 1,
        "legacy_intact": True,
        "legacy_first_break": "",
    }
    assert not AuditBlock.objects.exists()
    audit_seal_pending(delay_seconds=0)
    assert sorted(AuditBlock.objects.values_list("chain", flat=True)) == [0, 1, 2]
    assert audit_verify().ok


@pytest.mark.django_db(transaction=True)
def test_migration_refuses_a_broken_single_chain(record_event: RecordEvent) -> None:
    _migrate("0003_maintenance_role")
    try:
        _v1_chain([record_event(), record_event()], corrupt=True)
        with pytest.raises(RuntimeError, match=r"audit hash chain is broken \(block 1: event \d+ was modified\)"):
            _migrate("0004_per_organization_chains")
    finally:
        with connection.cursor() as cursor:
            from audit.maintenance import audit_maintenance

            with audit_maintenance():
                cursor.execute("DELETE FROM audit_auditblock")
        _migrate("0004_per_organization_chains")
