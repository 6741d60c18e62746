"""``manage.py estate_scan``: scan an Azure DevOps organization now, in this process (what a worker
does with a queued scan), as an organization admin; or ``--queue`` it for the workers. Prints the
counts, the diff and the open findings per kind; exits non-zero when the scan did not succeed."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from estate.access import estate_organization
from estate.selectors.inventory import estate_summary
from estate.services.scan_run import scan_run_execute
from estate.services.scans import scan_request
from secrets_app.errors import DomainError
from secrets_app.principals import Principal


class Command(BaseCommand):
    help = "Scan the Azure DevOps estate behind a connection (read only) and print what was found."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", required=True, help="Strongroom organization slug")
        parser.add_argument("--connection", required=True, help="Azure DevOps connection: public id, id or name")
        parser.add_argument("--as", dest="email", required=True, help="email of an organization admin (audited)")
        parser.add_argument("--queue", action="store_true", help="queue it for the workers instead of running it here")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(email__iexact=options["email"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {options['email']!r}")
        try:
            principal = Principal.for_user(user)
            organization = estate_organization(principal, options["organization"])
            if options["queue"]:
                scan = scan_request(
                    principal=principal, organization=organization, connection_ref=options["connection"], trigger="cli"
                )
                self.stdout.write(f"estate scan {scan.public_id} queued")
                return
            # Run here; the message scan_request sends is a no-op for whoever claims second.
            scan = scan_request(
                principal=principal, organization=organization, connection_ref=options["connection"], trigger="cli"
            )
        except DomainError as exc:
            raise CommandError(exc.message) from None
        # The queued message may reach a worker first: the claim is a compare-and-set, one of us runs it.
        status = scan_run_execute(scan_id=scan.pk)
        scan.refresh_from_db()
        if status == "skipped":
            self.stdout.write(f"estate scan {scan.public_id} is being run by a worker ({scan.status})")
            return
        if status != "succeeded":
            raise CommandError(f"estate scan {scan.public_id} {status}: {scan.error}")
        summary = estate_summary(organization)
        self.stdout.write(f"estate scan {scan.public_id} succeeded: {scan.counts}, diff {scan.diff}")
        for kind, count in summary["findings_by_kind"].items():
            if count:
                self.stdout.write(f"  {kind}: {count}")
