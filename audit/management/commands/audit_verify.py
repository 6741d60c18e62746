"""``manage.py audit_verify``: check every organization's audit hash chain, and their heads against
the external anchor file. Exit 0 when intact, 1 when broken."""

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
            self.stdout.write(
                f"OK: {result.chains} chains, {result.blocks_checked} blocks, {result.rows_checked} rows verified"
            )
            self.stdout.write(f"   {result.pending_rows} rows not sealed yet")
            if result.purged_rows:
                self.stdout.write(f"   {result.purged_rows} rows purged by retention (their block hashes verified)")
            for chain, (sequence, block_hash) in result.heads.items():
                label = "instance" if chain == "0" else f"organization {chain}"
                self.stdout.write(f"   head of chain {chain} ({label}): block {sequence} {block_hash}")
            if result.anchor_sealed_through is not None:
                self.stdout.write(
                    f"   anchor: {result.anchor_entries} chain heads match, events sealed through"
                    f" {result.anchor_sealed_through} anchored ({result.anchor_path})"
                )
            if result.anchor_legacy_lines:
                self.stdout.write(
                    f"   anchor: {result.anchor_legacy_lines} lines from the single chain before per-organization"
                    " chains were not checked (see the audit.rechained event)"
                )
            if result.anchor_note:
                self.stdout.write(f"   anchor: {result.anchor_note} ({result.anchor_path})")
        else:
            self.stdout.write(f"BROKEN: {result.first_broken}")
        if not result.ok:
            sys.exit(1)
