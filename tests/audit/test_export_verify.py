"""docs/audit_export_verify.py, the receiver's check, run against real exports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from audit.export import audit_export_jsonl
from audit.models import AuditEvent
from audit.sealing import audit_seal_pending
from tests.audit.conftest import RecordEvent

pytestmark = pytest.mark.django_db

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "audit_export_verify.py"


def _verify(path: Path, lines: list[str]) -> subprocess.CompletedProcess[str]:
    path.write_text("".join(lines), encoding="ascii")
    return subprocess.run([sys.executable, str(SCRIPT), str(path)], capture_output=True, text=True, check=False)


@pytest.fixture
def export(record_event: RecordEvent) -> list[str]:
    record_event(metadata={"keys": ["A", "B"], "count": 2}, path="/db/\u00e9t\u00e9|x=y")
    for index in range(6):
        record_event("secret.value_read", environment="prod", metadata={"n": index})
    audit_seal_pending(delay_seconds=0, max_rows=3)  # blocks 1..3
    record_event("secret.deleted")  # not sealed yet
    return list(audit_export_jsonl(AuditEvent.objects.all()))


def test_it_passes_an_untouched_export(export: list[str], tmp_path: Path) -> None:
    result = _verify(tmp_path / "export.jsonl", export)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: 8 rows, 3 complete blocks verified" in result.stdout


@pytest.mark.parametrize(
    ("field", "value", "report"),
    [
        ("actor_label", "mallory", "does not match its row_hash"),
        ("metadata", {"keys": ["A"], "count": 2}, "does not match its row_hash"),
        ("occurred_at", "2020-01-01T00:00:00.000000+00:00", "does not match its row_hash"),
        ("block_previous_hash", "f" * 64, "disagrees with other rows about chain 1 block 2"),
    ],
)
def test_it_fails_when_one_exported_field_is_edited(
    export: list[str], tmp_path: Path, field: str, value: object, report: str
) -> None:
    row = json.loads(export[3])
    row[field] = value
    edited = [*export[:3], json.dumps(row) + "\n", *export[4:]]

    result = _verify(tmp_path / "export.jsonl", edited)

    assert result.returncode == 1 and report in result.stdout, result.stdout


def test_it_fails_when_a_whole_block_is_rewritten_consistently(export: list[str], tmp_path: Path) -> None:
    rows = [json.loads(line) for line in export]
    for row in rows:
        if row["block_sequence"] == 2:
            row["block_hash"] = "e" * 64

    result = _verify(tmp_path / "export.jsonl", [json.dumps(row) + "\n" for row in rows])

    assert result.returncode == 1 and "block 2: block_hash does not match" in result.stdout


def test_it_checks_rows_only_for_a_partial_export(export: list[str], tmp_path: Path) -> None:
    result = _verify(tmp_path / "export.jsonl", export[1:6])

    assert result.returncode == 0 and "OK: 5 rows, 1 complete blocks verified" in result.stdout
