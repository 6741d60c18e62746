"""``manage.py audit_export``: an operator's export of the audit log, without a login.

Runs as the system and records ``audit.exported`` (actor ``manage.py audit_export``) before writing.
The file is created with mode 0600: the log names people, addresses and secret paths.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from secrets_app.errors import DomainError
from secrets_app.selectors.audit_export import EXPORT_FORMATS, audit_export_for_operator


class Command(BaseCommand):
    help = "Export audit events (JSON Lines, CSV or CEF), oldest first, with their row and block hashes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="ISO 8601 (naive means UTC), inclusive")
        parser.add_argument("--until", help="ISO 8601 (naive means UTC), inclusive")
        parser.add_argument("--format", choices=EXPORT_FORMATS, default="jsonl", dest="export_format")
        parser.add_argument(
            "--output",
            required=True,
            help="a new file (mode 0600; an existing one is not overwritten), or - for stdout",
        )
        parser.add_argument("--organization", help="organization slug: only its events (and its projects')")
        parser.add_argument("--project", help="project slug: only its events")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            export = audit_export_for_operator(
                organization=options["organization"],
                project=options["project"],
                filters={"since": options["since"], "until": options["until"]},
                export_format=options["export_format"],
            )
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        if options["output"] == "-":
            for chunk in export.lines:
                self.stdout.write(chunk, ending="")
            return
        try:
            fd = os.open(options["output"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise CommandError(f"cannot create {options['output']}: {exc.strerror}") from None
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            for chunk in export.lines:
                handle.write(chunk)
        self.stderr.write(
            f"Exported {export.count} audit events (and this export's own record) to {options['output']}."
        )
