from __future__ import annotations

import pytest

from audit.chain import EVENT_FIELDS, audit_row_hash
from audit.models import AuditEvent
from tests.audit.conftest import RecordEvent


def test_it_covers_every_column_of_an_audit_event() -> None:
    # A column missing from the hash could be edited without the verifier noticing.
    assert set(EVENT_FIELDS) == {field.attname for field in AuditEvent._meta.concrete_fields}


@pytest.mark.django_db
def test_it_hashes_a_row_the_same_way_after_reading_it_back(record_event: RecordEvent) -> None:
    event = record_event(metadata={"keys": ["B", "A"], "count": 2, "nested": {"z": 1, "a": "é\u2028"}})

    assert audit_row_hash(AuditEvent.objects.get(pk=event.pk)) == audit_row_hash(AuditEvent.objects.get(pk=event.pk))
    assert len(audit_row_hash(event)) == 64


@pytest.mark.django_db
@pytest.mark.parametrize("field", [name for name in EVENT_FIELDS if name not in {"id", "occurred_at", "metadata"}])
def test_it_changes_the_row_hash_when_any_column_changes(record_event: RecordEvent, field: str) -> None:
    event = AuditEvent.objects.get(pk=record_event().pk)
    before = audit_row_hash(event)

    current = getattr(event, field)
    setattr(event, field, 99 if isinstance(current, int) or current is None else f"{current}x")

    assert audit_row_hash(event) != before
