"""Retention: manage.py audit_purge deletes whole sealed blocks past each organization's retention,
keeps the chain verifiable, records the purge, and cannot run as the application role."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from audit.maintenance import audit_maintenance
from audit.models import AuditBlock, AuditEvent, AuditPurge
from audit.retention import audit_purge_chain
from audit.sealing import audit_seal_pending
from audit.verification import audit_verify
from secrets_app.models import Organization
from tests.audit.conftest import RecordEvent

pytestmark = pytest.mark.django_db


def _age(events: list[AuditEvent], days: int) -> None:
    with audit_maintenance():
        AuditEvent.objects.filter(pk__in=[e.pk for e in events]).update(
            occurred_at=timezone.now() - timedelta(days=days)
        )


def _org(slug: str, days: int) -> Organization:
    return Organization.objects.create(name=slug, slug=slug, audit_retention_days=days)


def _purge(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit_purge", *args, stdout=out, stderr=err)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def _three_blocks(record_event: RecordEvent, org: Organization) -> list[list[AuditEvent]]:
    """Blocks 1 and 2 are 400 days old, block 3 is recent; another organization's old events too."""
    runs = []
    for age in (400, 400, 0):
        batch = [record_event(organization_id=org.pk) for _ in range(2)]
        if age:
            _age(batch, age)
        audit_seal_pending(delay_seconds=0)
        runs.append(batch)
    return runs


def test_purge_deletes_whole_old_blocks_and_the_chain_still_verifies(record_event: RecordEvent) -> None:
    org, other = _org("acme", 365), _org("keepall", 3650)
    runs = _three_blocks(record_event, org)
    kept_elsewhere = record_event(organization_id=other.pk)
    _age([kept_elsewhere], 400)
    audit_seal_pending(delay_seconds=0)

    code, out, _ = _purge()

    assert code == 0
    assert f"acme: purged 4 events in blocks 1..2 of chain {org.pk}" in out
    assert "keepall: nothing older than 3650 days" in out
    remaining = set(AuditEvent.objects.filter(organization_id=org.pk).values_list("id", flat=True))
    assert {e.pk for e in runs[2]} <= remaining and not {e.pk for e in runs[0] + runs[1]} & remaining
    assert AuditEvent.objects.filter(pk=kept_elsewhere.pk).exists()
    assert AuditBlock.objects.filter(chain=org.pk).count() == 3  # the blocks (hashes only) stay
    purge = AuditPurge.objects.get(chain=org.pk)
    assert purge.anchor_hash == AuditBlock.objects.get(chain=org.pk, sequence=2).block_hash
    recorded = AuditEvent.objects.get(action="audit.purged", organization_id=org.pk)
    assert recorded.metadata["events_deleted"] == 4 and recorded.metadata["anchor_hash"] == purge.anchor_hash
    audit_seal_pending(delay_seconds=0)
    result = audit_verify()
    assert result.ok, result.first_broken
    assert result.purged_rows == 4


def test_a_block_with_one_young_event_is_kept_whole(record_event: RecordEvent) -> None:
    org = _org("acme", 365)
    old, young = record_event(organization_id=org.pk), record_event(organization_id=org.pk)
    _age([old], 400)
    audit_seal_pending(delay_seconds=0)

    assert audit_purge_chain(chain=org.pk, older_than=timezone.now() - timedelta(days=365), retention_days=365) is None
    assert AuditEvent.objects.filter(pk__in=[old.pk, young.pk]).count() == 2


def test_dry_run_changes_nothing(record_event: RecordEvent) -> None:
    org = _org("acme", 365)
    _three_blocks(record_event, org)
    before = AuditEvent.objects.count()

    code, out, _ = _purge("--dry-run", "--organization", "acme")

    assert code == 0 and "acme: would purge 4 events in blocks 1..2" in out
    assert AuditEvent.objects.count() == before and not AuditPurge.objects.exists()


def test_an_event_put_back_into_a_purged_range_is_reported(record_event: RecordEvent) -> None:
    org = _org("acme", 365)
    runs = _three_blocks(record_event, org)
    _purge()
    forged = AuditEvent.objects.get(pk=runs[2][0].pk)
    forged.pk = runs[0][0].pk
    forged.save(force_insert=True)

    result = audit_verify()

    assert result.first_broken == (
        f"chain {org.pk}: event {runs[0][0].pk} is inside the purged range (blocks 1..2) but holds a row"
        " (inserted after the purge)"
    )


def test_purge_records_are_append_only(record_event: RecordEvent) -> None:
    org = _org("acme", 365)
    _three_blocks(record_event, org)
    _purge()

    with pytest.raises(Exception, match="append-only"):
        AuditPurge.objects.update(through_sequence=1)


def test_unknown_organization_is_one_readable_line(db: Any) -> None:
    code, _, err = _purge("--organization", "nope")

    assert (code, err.strip()) == (2, "audit_purge: no organization 'nope'")
