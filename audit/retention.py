"""Retention: purge an organization's oldest audit events, whole sealed blocks at a time.

The blocks stay (their hashes, links and ``[id, row hash]`` lists hold no event content), so the
rest of the chain still verifies; an ``AuditPurge`` row records how far the chain was purged and the
hash of the last purged block (the anchor the remaining chain hangs from), and an ``audit.purged``
event in the same chain records the purge itself. Only whole blocks whose every event is older than
the cut-off go, and only sealed ones.

Runs inside ``audit_maintenance``: on PostgreSQL only the owner role (a member of
``strongroom_audit_maint``) gets past the append-only triggers, so ``manage.py audit_purge`` runs
with the owner's database URL, like ``migrate`` (docker-compose's ``maintenance`` service). The
application role cannot purge, whatever it sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Min, Q

from audit.maintenance import audit_maintenance
from audit.models import INSTANCE_CHAIN, AuditBlock, AuditEvent, AuditPurge
from audit.services import SYSTEM_ACTOR, audit_record


@dataclass(frozen=True)
class PurgeReport:
    chain: int
    blocks: int
    events_deleted: int
    through_sequence: int
    through_event_id: int
    anchor_hash: str
    dry_run: bool = False


def _chain_events(chain: int) -> Q:
    return Q(organization_id__isnull=True) if chain == INSTANCE_CHAIN else Q(organization_id=chain)


def audit_purge_chain(
    *, chain: int, older_than: datetime, retention_days: int, dry_run: bool = False, max_blocks: int = 1000
) -> PurgeReport | None:
    """Purge the events of ``chain``'s oldest unpurged blocks whose every event happened before
    ``older_than`` (at most ``max_blocks`` blocks; run again for more). Returns what was (or, with
    ``dry_run``, would be) purged, or None when nothing is due."""
    with transaction.atomic():
        done = AuditPurge.objects.filter(chain=chain).order_by("-through_sequence").first()
        after_sequence = done.through_sequence if done else 0
        # The first event of the chain that is young enough to keep: every block ending before it
        # holds only older events (ids below the first young one), whatever order they committed in.
        keep_from = AuditEvent.objects.filter(_chain_events(chain), occurred_at__gte=older_than).aggregate(
            first=Min("id")
        )["first"]
        blocks = AuditBlock.objects.filter(chain=chain, sequence__gt=after_sequence)
        if keep_from is not None:
            blocks = blocks.filter(last_event_id__lt=keep_from)
        due = list(blocks.order_by("sequence").values("sequence", "last_event_id", "block_hash")[:max_blocks])
        if not due:
            return None
        through, count = due[-1], len(due)
        events = AuditEvent.objects.filter(_chain_events(chain), id__lte=through["last_event_id"])
        if dry_run:
            return PurgeReport(
                chain=chain,
                blocks=count,
                events_deleted=events.count(),
                through_sequence=through["sequence"],
                through_event_id=through["last_event_id"],
                anchor_hash=through["block_hash"],
                dry_run=True,
            )
        with audit_maintenance():
            deleted, _ = events.delete()
            AuditPurge.objects.create(
                chain=chain,
                through_sequence=through["sequence"],
                through_event_id=through["last_event_id"],
                anchor_hash=through["block_hash"],
                events_deleted=deleted,
                purged_before=older_than,
            )
        audit_record(
            action="audit.purged",
            actor=SYSTEM_ACTOR,
            organization_id=None if chain == INSTANCE_CHAIN else chain,
            resource_type="audit_chain",
            resource_id=chain,
            metadata={
                "through_sequence": through["sequence"],
                "through_event_id": through["last_event_id"],
                "anchor_hash": through["block_hash"],
                "blocks": count,
                "events_deleted": deleted,
                "retention_days": retention_days,
                "purged_before": older_than.isoformat(timespec="seconds"),
            },
        )
    return PurgeReport(
        chain=chain,
        blocks=count,
        events_deleted=deleted,
        through_sequence=through["sequence"],
        through_event_id=through["last_event_id"],
        anchor_hash=through["block_hash"],
    )
