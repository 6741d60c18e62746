"""``manage.py audit_seal``: seal due audit rows into the hash chain now (the beat task does this too)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audit.sealing import audit_seal_pending


class Command(BaseCommand):
    help = "Seal unsealed audit events into hash-chained blocks now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--delay",
            type=int,
            default=None,
            help="Only seal rows at least this many seconds old (default: STRONGROOM_AUDIT_SEAL_DELAY_SECONDS).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        sealed = audit_seal_pending(delay_seconds=options["delay"])
        self.stdout.write(f"Sealed {sealed} audit events.")
