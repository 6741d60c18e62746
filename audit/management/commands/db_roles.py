"""``manage.py db_roles``: create the application's PostgreSQL role and its grants (run as the owner).

The role name and password come from ``STRONGROOM_APP_DATABASE_URL`` (``_FILE``), the URL web,
worker and beat connect with, so the two cannot drift apart; ``--app-role`` names a role without
setting a password (e.g. one that logs in by certificate or peer authentication). Idempotent: run
it after every ``migrate`` (the compose ``migrate`` service does).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.db_roles import DbRoleError, db_roles_apply
from config.env import env_str

APP_URL_SETTING = "STRONGROOM_APP_DATABASE_URL"


class Command(BaseCommand):
    help = "Create or update the application's database role: no ownership, INSERT/SELECT only on audit tables."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--app-role",
            default=None,
            help=f"Role name (default: the user in {APP_URL_SETTING}). Given alone, no password is set.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        app_role, password = options["app_role"], None
        if app_role is None:
            url = env_str(APP_URL_SETTING)
            if not url:
                raise CommandError(
                    f"--app-role: give a role name, or set {APP_URL_SETTING} (or {APP_URL_SETTING}_FILE)"
                )
            parts = urlsplit(url)
            if not parts.username:
                raise CommandError(f"{APP_URL_SETTING}: the URL names no user")
            app_role = unquote(parts.username)
            password = unquote(parts.password) if parts.password else None
        try:
            report = db_roles_apply(app_role=app_role, password=password)
        except DbRoleError as exc:
            raise CommandError(str(exc)) from None
        action = "created" if report.created else "updated"
        self.stdout.write(
            f"Database role {report.app_role} {action}"
            f"{' (password set)' if report.password_set else ''}: DML on {report.tables} tables,"
            f" INSERT/SELECT only on the audit tables, owns nothing (owner: {report.owner_role})."
        )
