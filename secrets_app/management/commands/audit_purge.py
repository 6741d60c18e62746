"""``manage.py audit_purge``: apply audit retention (each organization's ``audit_retention_days``,
``STRONGROOM_AUDIT_RETENTION_DAYS`` for events of no organization). Whole sealed blocks only; see
``audit.retention``. Run it with the **owner** database URL (as ``migrate`` runs): the application
role cannot get past the audit tables' append-only triggers. Exit 1 with one line when it cannot."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError
from django.utils import timezone

from audit.models import INSTANCE_CHAIN
from audit.retention import audit_purge_chain
from secrets_app.models import Organization


class Command(BaseCommand):
    help = "Purge audit events past each organization's retention, whole sealed blocks at a time."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", help="Only this organization (slug).")
        parser.add_argument("--dry-run", action="store_true", help="Say what would be purged; change nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        organizations = Organization.objects.order_by("id")
        if options["organization"]:
            organizations = organizations.filter(slug=options["organization"])
            if not organizations.exists():
                self.stderr.write(f"audit_purge: no organization {options['organization']!r}")
                sys.exit(2)
        plan = [(org.pk, org.slug, org.audit_retention_days) for org in organizations]
        if not options["organization"]:
            plan.append((INSTANCE_CHAIN, "(no organization)", settings.STRONGROOM_AUDIT_RETENTION_DAYS))
        for chain, label, days in plan:
            try:
                report = audit_purge_chain(
                    chain=chain,
                    older_than=now - timedelta(days=days),
                    retention_days=days,
                    dry_run=options["dry_run"],
                )
            except DatabaseError as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                self.stderr.write(
                    f"audit_purge: the database refused the purge ({reason}); run it with the owner role's"
                    " DATABASE_URL (a member of strongroom_audit_maint), as migrate runs"
                )
                sys.exit(1)
            if report is None:
                self.stdout.write(f"{label}: nothing older than {days} days in whole sealed blocks")
                continue
            verb = "would purge" if report.dry_run else "purged"
            self.stdout.write(
                f"{label}: {verb} {report.events_deleted} events in blocks 1..{report.through_sequence} of chain"
                f" {report.chain} (retention {days} days); the chain now starts from block hash {report.anchor_hash}"
            )
