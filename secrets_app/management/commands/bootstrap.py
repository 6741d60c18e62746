from __future__ import annotations

import json
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from secrets_app.keyring import SealedError
from secrets_app.services.bootstrap import bootstrap


class Command(BaseCommand):
    help = "Create the root key (embedded default), the default organization and the first admin. Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--admin-email", default=os.environ.get("STRONGROOM_ADMIN_EMAIL", "admin@strongroom.local"))
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = bootstrap(
                admin_email=options["admin_email"], admin_password=os.environ.get("STRONGROOM_ADMIN_PASSWORD") or None
            )
        except SealedError as exc:
            raise CommandError(f"Strongroom is sealed: {exc}") from None
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "adminEmail": result.admin.email,
                        "adminPassword": result.password,
                        "adminCreated": result.admin_created,
                        "organization": result.organization.slug,
                        "rootKeyGenerated": result.root_key_generated,
                    }
                )
            )
            return
        if result.root_key_generated:
            self.stdout.write(
                "Generated a root key in the data directory (mode 0600). Back it up: without it nothing decrypts."
            )
        if result.password:
            self.stdout.write(f"First admin created. Log in as {result.admin.email} with password: {result.password}")
            self.stdout.write("(shown once; change it after logging in)")
        elif result.admin_created:
            self.stdout.write(
                f"First admin created. Log in as {result.admin.email} with the password from STRONGROOM_ADMIN_PASSWORD."
            )
        else:
            self.stdout.write(f"Admin {result.admin.email} already exists (password unchanged).")
