"""``manage.py audit_verify``: check the audit hash chain, and its head against the external anchor file.
Exit 0 when intact, 1 when broken."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audit.sealing import audit_seal_pending
from audit.verification import audit_verify


class Command(BaseCommand):
    help = "Verify the audit log's hash chain; report the first broken link (exit status 1) if any."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seal-first", action="store_true", help="Seal due rows before verifying.")
        parser.add_argument("--json", action="store_true", help="Print the result as one JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["seal_first"]:
            audit_seal_pending()
        result = audit_verify()
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), sort_keys=True))
        elif result.ok:
            self.stdout.write(f"OK: {result.blocks_checked} blocks, {result.rows_checked} rows verified")
            self.stdout.write(f"   {result.pending_rows} rows not sealed yet")
            if result.head_sequence is not None:
                self.stdout.write(f"   head: block {result.head_sequence} {result.head_hash}")
            if result.anchor_sequence is not None:
                self.stdout.write(
                    f"   anchor: {result.anchor_entries} anchored blocks match, newest block"
                    f" {result.anchor_sequence} ({result.anchor_path})"
                )
            if result.anchor_note:
                self.stdout.write(f"   anchor: {result.anchor_note} ({result.anchor_path})")
        else:
            self.stdout.write(f"BROKEN: {result.first_broken}")
        if not result.ok:
            sys.exit(1)
