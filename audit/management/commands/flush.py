"""``manage.py flush`` that may empty the append-only audit tables.

Django's own flush empties every table (TRUNCATE on PostgreSQL, DELETE on SQLite), which the audit
triggers refuse. Emptying the *whole* database is an explicit operator action (and what Django's
``TransactionTestCase`` does between tests), so this override runs the stock command inside
``audit_maintenance``. Nothing else changes: same options, same prompt.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import flush
from django.db import connections

from audit.maintenance import audit_maintenance


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        if options["interactive"]:
            name = connections[options["database"]].settings_dict["NAME"]
            confirm = input(
                f'You have requested a flush of the database.\nThis will IRREVERSIBLY DESTROY all data currently in the "{name}" database,\n'
                "including the audit log, and return each table to an empty state.\nAre you sure you want to do this?\n\n"
                "    Type 'yes' to continue, or 'no' to cancel: "
            )
            if confirm != "yes":
                self.stdout.write("Flush cancelled.")
                return
        # Ask once, outside the transaction; the stock command must not ask again.
        with audit_maintenance(using=options["database"]):
            super().handle(**{**options, "interactive": False})
