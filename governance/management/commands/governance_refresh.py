"""``manage.py governance_refresh``: run the governance engine now (what beat does every few
minutes): deliveries until caught up with the audit log, then risk rows, then today's snapshots."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.services.deliveries import CATCH_UP_BATCH, deliveries_refresh
from governance.services.risk import risk_refresh
from governance.services.snapshots import snapshots_refresh
from secrets_app.models import Organization


class Command(BaseCommand):
    help = "Refresh deliveries (from the audit log), per-secret risk and today's governance snapshots."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", help="organization slug: risk and snapshots of this one only")

    def handle(self, *args: Any, **options: Any) -> None:
        organization_id = None
        if options["organization"]:
            organization_id = (
                Organization.objects.filter(slug=options["organization"]).values_list("pk", flat=True).first()
            )
            if organization_id is None:
                raise CommandError(f"no organization with the slug {options['organization']!r}")
        events = 0
        while consumed := deliveries_refresh(batch_size=CATCH_UP_BATCH):
            events += consumed
        secrets = risk_refresh(organization_id=organization_id)
        snapshots = snapshots_refresh(organization_id=organization_id)
        self.stdout.write(f"governance: {events} read events applied, {secrets} secrets scored, {snapshots} snapshots")
