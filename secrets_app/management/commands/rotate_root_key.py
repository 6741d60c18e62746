from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from secrets_app.keyring import SealedError
from secrets_app.services.keys import root_key_rotate


class Command(BaseCommand):
    help = (
        "Re-wrap every project data key under a new root key (secrets are not re-encrypted). "
        "Prints the new key once; configure it as STRONGROOM_ROOT_KEY before restarting."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--new-key", help="base64 32-byte key to rotate to (default: generate one)")
        parser.add_argument(
            "--write-embedded", action="store_true", help="also replace DATA_DIR/root.key (embedded default)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = root_key_rotate(new_key_text=options.get("new_key"), write_embedded=options["write_embedded"])
        except (SealedError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Re-wrapped {result.data_keys} data keys under the new root key (id {result.key_id:08x}).")
        if result.generated_key:
            self.stdout.write(f"New root key (shown once): {result.generated_key}")
