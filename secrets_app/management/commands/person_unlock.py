from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from secrets_app.errors import DomainError
from secrets_app.services.lockout import person_unlock_by_operator


class Command(BaseCommand):
    help = (
        "Lift a failed-login lockout: a person's account (by email) and/or a client address. Audited as "
        "user.unlocked. (axes_reset_username / axes_reset_ip do the same without an audit event.)"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", nargs="?", default="", help="the person's email")
        parser.add_argument("--ip", default="", help="a client address locked after failures from it")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = person_unlock_by_operator(email=options["email"], ip=options["ip"])
        except DomainError as exc:
            raise CommandError(exc.message) from None
        if "account_was_locked" in result:
            state = "was locked; unlocked" if result["account_was_locked"] else "was not locked (failures forgotten)"
            self.stdout.write(f"{options['email']}: {state}")
        if "address_was_locked" in result:
            state = "was locked; unlocked" if result["address_was_locked"] else "was not locked (failures forgotten)"
            self.stdout.write(f"{options['ip']}: {state}")
