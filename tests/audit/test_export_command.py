"""``manage.py audit_export``: the operator's export, recorded as the system."""

from __future__ import annotations

import json
import stat
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from audit.models import ActorType, AuditEvent


def _export(*args: str) -> str:
    out = StringIO()
    call_command("audit_export", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_it_writes_the_project_log_to_stdout_and_records_the_export_as_the_system(cast: Any) -> None:
    rows = [json.loads(line) for line in _export("--output", "-", "--project", "acme").splitlines()]

    assert rows and all(row["project_id"] == cast.project.pk for row in rows[:-1])
    exported = AuditEvent.objects.get(action="audit.exported")
    assert rows[-1]["id"] == exported.pk
    assert exported.actor_type == ActorType.SYSTEM and exported.actor_label == "manage.py audit_export"
    assert exported.metadata["format"] == "jsonl" and exported.metadata["count"] == len(rows) - 1


def test_it_writes_a_new_private_file_and_never_overwrites_one(cast: Any, tmp_path: Path) -> None:
    target = tmp_path / "audit.csv"
    call_command(
        "audit_export", "--format", "csv", "--output", str(target), "--organization", "evil-org", stderr=StringIO()
    )

    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text().startswith("id,occurred_at,action,")
    with pytest.raises(CommandError, match="cannot create"):
        call_command("audit_export", "--output", str(target), stderr=StringIO())


def test_it_applies_since_and_until_and_refuses_unknown_scopes(cast: Any) -> None:
    assert _export("--output", "-", "--since", "2000-01-01", "--until", "2000-01-02").count("\n") == 0
    with pytest.raises(CommandError, match="no organization"):
        _export("--output", "-", "--organization", "nope")
    with pytest.raises(CommandError, match="not an ISO 8601"):
        _export("--output", "-", "--since", "yesterday")
