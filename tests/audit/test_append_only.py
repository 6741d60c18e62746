from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from audit.maintenance import audit_maintenance
from audit.models import AuditBlock, AuditEvent
from audit.sealing import audit_seal_pending
from tests.audit.conftest import RecordEvent, postgres_only

pytestmark = pytest.mark.django_db


def _refused() -> pytest.RaisesExc[DatabaseError]:
    # IntegrityError on both backends (SQLite RAISE(ABORT), PostgreSQL restrict_violation).
    return pytest.raises(DatabaseError, match="append-only")


def test_it_refuses_to_update_an_audit_event(record_event: RecordEvent) -> None:
    event = record_event()

    with _refused(), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(outcome="deny")
    event.action = "secret.listed"
    with _refused(), transaction.atomic():
        event.save()

    assert AuditEvent.objects.get(pk=event.pk).action == "secret.created"


def test_it_refuses_to_delete_an_audit_event(record_event: RecordEvent) -> None:
    event = record_event()

    with _refused(), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    with _refused(), transaction.atomic():
        event.delete()

    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_it_refuses_raw_sql_changes_too(record_event: RecordEvent) -> None:
    record_event()

    for statement in ("UPDATE audit_auditevent SET action = 'x'", "DELETE FROM audit_auditevent"):
        with _refused(), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)

    assert AuditEvent.objects.count() == 1


def test_it_refuses_to_change_or_delete_a_sealed_block(record_event: RecordEvent) -> None:
    record_event()
    audit_seal_pending(delay_seconds=0)

    with _refused(), transaction.atomic():
        AuditBlock.objects.update(block_hash="0" * 64)
    with _refused(), transaction.atomic():
        AuditBlock.objects.all().delete()

    assert AuditBlock.objects.count() == 1


@postgres_only
def test_it_refuses_truncate_on_postgresql(record_event: RecordEvent) -> None:
    record_event()

    for table in ("audit_auditevent", "audit_auditblock"):
        with _refused(), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {table}")

    assert AuditEvent.objects.count() == 1


def test_it_allows_changes_only_inside_audit_maintenance(record_event: RecordEvent) -> None:
    event = record_event()

    with audit_maintenance():
        AuditEvent.objects.filter(pk=event.pk).update(action="secret.listed")

    assert AuditEvent.objects.get(pk=event.pk).action == "secret.listed"
    # The bypass ended with the block, even inside this test's surrounding transaction.
    with _refused(), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="secret.created")


def test_it_rolls_back_maintenance_work_that_fails(record_event: RecordEvent) -> None:
    event = record_event()

    with pytest.raises(RuntimeError), audit_maintenance():
        AuditEvent.objects.filter(pk=event.pk).delete()
        raise RuntimeError("operator aborted")

    assert AuditEvent.objects.filter(pk=event.pk).exists()
    with _refused(), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()


@pytest.mark.django_db(transaction=True)
def test_it_lets_flush_empty_the_database_and_keeps_the_guard(record_event: RecordEvent) -> None:
    # Django's TransactionTestCase (pytest-django's transactional_db) flushes after every test.
    record_event()
    audit_seal_pending(delay_seconds=0)

    call_command("flush", interactive=False, verbosity=0)

    assert (AuditEvent.objects.count(), AuditBlock.objects.count()) == (0, 0)
    event = record_event()
    with _refused():
        AuditEvent.objects.filter(pk=event.pk).delete()
