"""Writing audit events. Call ``audit_record`` inside the transaction of the action it records:
if the insert fails, the exception propagates and the action rolls back with it."""

from __future__ import annotations

import re
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.context import current_request_context
from audit.models import ActorType, AuditEvent, Outcome

# C0, DEL, C1 (\x80-\x9f: some terminals read \x9b as CSI, so a C1 byte can drive them like an
# ANSI escape), the Unicode line/paragraph separators and the bidi embedding/override controls.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]")


class AuditWriteError(DatabaseError):
    """The audit row could not be written; the recorded action must not happen (fail closed)."""


@dataclass(frozen=True)
class AuditActor:
    type: str
    id: str = ""
    label: str = ""
    role: str = ""


SYSTEM_ACTOR = AuditActor(type=ActorType.SYSTEM, id="system", label="system")
ANONYMOUS_ACTOR = AuditActor(type=ActorType.ANONYMOUS, label="anonymous")


def _clean(text: str, limit: int) -> str:
    """Escape control characters (log injection) and cut to the column size."""
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text or "")[:limit]


def audit_event_build(
    *,
    action: str,
    actor: AuditActor,
    outcome: str = Outcome.ALLOW,
    organization_id: int | None = None,
    project_id: int | None = None,
    environment: str = "",
    path: str = "",
    resource_type: str = "",
    resource_id: str | int = "",
    metadata: dict[str, Any] | None = None,
) -> AuditEvent:
    """The unsaved row ``audit_record`` inserts (source IP, user agent and request id from the
    request context, text cleaned and cut). For a caller that writes it in a statement of its own,
    such as a machine login's token and audit rows in one INSERT (``secrets_app.identities.issue``)."""
    context = current_request_context()
    return AuditEvent(
        occurred_at=timezone.now(),
        action=action,
        outcome=outcome,
        actor_type=actor.type,
        actor_id=str(actor.id),
        actor_label=_clean(actor.label, 200),
        actor_role=_clean(actor.role, 64),
        organization_id=organization_id,
        project_id=project_id,
        environment=_clean(environment, 64),
        path=_clean(path, 1024),
        resource_type=resource_type,
        resource_id=_clean(str(resource_id), 128),
        source_ip=_clean(context.source_ip, 64),
        user_agent=_clean(context.user_agent, 300),
        request_id=context.request_id,
        metadata=metadata or {},
    )


def audit_record(
    *,
    action: str,
    actor: AuditActor,
    outcome: str = Outcome.ALLOW,
    organization_id: int | None = None,
    project_id: int | None = None,
    environment: str = "",
    path: str = "",
    resource_type: str = "",
    resource_id: str | int = "",
    metadata: dict[str, Any] | None = None,
    savepoint: bool = True,
) -> AuditEvent:
    """Insert one audit event. Must run inside the caller's transaction (fails closed otherwise).

    Inside a transaction the INSERT gets a savepoint of its own, so a caller that catches the
    refusal can go on. A write whose audit row is its last step and which fails as a whole when it
    is refused passes ``savepoint=False`` and spares the two round trips.

    Raises AuditWriteError when the database refuses the row, so a caller that maps its own
    IntegrityError to "already exists" can never mistake a failed audit write for a duplicate."""
    event = audit_event_build(
        action=action,
        actor=actor,
        outcome=outcome,
        organization_id=organization_id,
        project_id=project_id,
        environment=environment,
        path=path,
        resource_type=resource_type,
        resource_id=resource_id,
        metadata=metadata,
    )
    # Outside a transaction (the read path) the single INSERT is atomic by itself: no BEGIN/COMMIT
    # round trips. Inside one, a savepoint keeps a refused insert from poisoning the caller's block.
    guard = transaction.atomic() if connection.in_atomic_block and savepoint else nullcontext()
    try:
        with guard:
            return _insert(event)
    except DatabaseError as exc:
        raise AuditWriteError("the audit log refused the event, so the action was not performed") from exc


_INSERT_FIELDS = [field for field in AuditEvent._meta.concrete_fields if not field.primary_key]
_insert_sql: dict[str, str] = {}


def _insert(event: AuditEvent) -> AuditEvent:
    """``event.save(force_insert=True)`` as one fixed INSERT, written once per process: recording a
    read compiles no query (docs/performance.md)."""
    vendor = connection.vendor
    returning = connection.features.can_return_columns_from_insert
    if vendor not in _insert_sql:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in _INSERT_FIELDS)
        placeholders = ", ".join(["%s"] * len(_INSERT_FIELDS))
        table = quote(AuditEvent._meta.db_table)
        suffix = " RETURNING id" if returning else ""
        _insert_sql[vendor] = f"INSERT INTO {table} ({columns}) VALUES ({placeholders}){suffix}"  # noqa: S608
    params = [field.get_db_prep_save(getattr(event, field.attname), connection) for field in _INSERT_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql[vendor], params)
        event.pk = cursor.fetchone()[0] if returning else cursor.lastrowid
    event._state.adding = False
    event._state.db = connection.alias
    return event
