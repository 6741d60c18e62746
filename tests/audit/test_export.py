from __future__ import annotations

import json

import pytest

from audit.export import audit_export_jsonl
from audit.models import AuditEvent
from tests.audit.conftest import RecordEvent

pytestmark = pytest.mark.django_db


def test_it_exports_one_json_line_per_event_with_every_field(record_event: RecordEvent) -> None:
    events = [record_event(metadata={"keys": ["A", "B"]}), record_event("secret.deleted")]

    lines = list(audit_export_jsonl(AuditEvent.objects.order_by("id")))

    assert len(lines) == 2 and all(line.endswith("\n") and line.count("\n") == 1 for line in lines)
    first = json.loads(lines[0])
    assert first["id"] == events[0].pk
    assert first["metadata"] == {"keys": ["A", "B"]}
    assert first["occurred_at"].endswith("+00:00")
    assert {"actor_type", "actor_id", "actor_role", "source_ip", "user_agent", "request_id"} <= set(first)


def test_it_keeps_hostile_text_on_one_line(record_event: RecordEvent) -> None:
    record_event(path="/app/\r\nFAKE\u2028\x1b[31m", metadata={"note": 'x"}\n{"id": 1'})

    (line,) = audit_export_jsonl(AuditEvent.objects.all())

    assert line.count("\n") == 1 and "\r" not in line and "\u2028" not in line and "\x1b" not in line
    assert json.loads(line)["metadata"] == {"note": 'x"}\n{"id": 1'}
