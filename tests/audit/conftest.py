"""Audit test helpers: recording events as the fixed cast, and tampering the way a DB admin would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from audit.maintenance import audit_maintenance
from audit.models import ActorType, AuditEvent
from audit.services import AuditActor, audit_record

ALICE = AuditActor(type=ActorType.USER, id="1", label="alice", role="admin")
BOB = AuditActor(type=ActorType.USER, id="2", label="bob", role="member")
CHARLIE = AuditActor(type=ActorType.USER, id="3", label="charlie")

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)")

RecordEvent = Callable[..., AuditEvent]


@pytest.fixture
def record_event() -> RecordEvent:
    """Record one event through the real service; keyword arguments as ``audit_record`` takes them."""

    def _record(action: str = "secret.created", *, actor: AuditActor = ALICE, **fields: Any) -> AuditEvent:
        fields.setdefault("organization_id", 1)
        fields.setdefault("project_id", 10)
        return audit_record(action=action, actor=actor, **fields)

    return _record


def tamper(event_id: int, **changes: Any) -> None:
    """Edit a sealed row behind the application's back (as a database superuser could)."""
    with audit_maintenance():
        assert AuditEvent.objects.filter(pk=event_id).update(**changes) == 1


def tamper_delete(event_id: int) -> None:
    with audit_maintenance():
        AuditEvent.objects.filter(pk=event_id).delete()
