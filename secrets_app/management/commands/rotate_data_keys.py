from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from secrets_app.keyring import SealedError
from secrets_app.models import Project
from secrets_app.services.keys import data_key_reencrypt, data_key_rotate


class Command(BaseCommand):
    help = "Start a new data key for projects; re-encrypt their secrets now (--now) or in the background (worker)."

    def add_arguments(self, parser: CommandParser) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--project", help="project slug or id")
        target.add_argument("--all", action="store_true")
        parser.add_argument("--now", action="store_true", help="re-encrypt in this process instead of the worker")

    def handle(self, *args: Any, **options: Any) -> None:
        projects = Project.objects.all()
        if options["project"]:
            projects = projects.filter(slug=options["project"]) | projects.filter(
                pk__in=[p for p in [options["project"]] if p.isdigit()]
            )
        projects = list(projects)
        if not projects:
            raise CommandError("no such project")
        from secrets_app.tasks import data_key_reencrypt_task

        try:
            for project in projects:
                data_key = data_key_rotate(project_id=project.pk)
                if options["now"]:
                    total = 0
                    while moved := data_key_reencrypt(project_id=project.pk):
                        total += moved
                    self.stdout.write(f"{project.slug}: data key v{data_key.version}, re-encrypted {total} versions")
                else:
                    try:
                        data_key_reencrypt_task.delay(project.pk)
                    except Exception as exc:  # noqa: BLE001 - the broker is down: beat queues it later
                        self.stdout.write(
                            f"{project.slug}: data key v{data_key.version}; the broker did not take the re-encryption"
                            f" ({type(exc).__name__}): the data-keys-reencrypt reconciler (beat) queues it"
                        )
                        continue
                    self.stdout.write(f"{project.slug}: data key v{data_key.version}, re-encryption queued")
        except SealedError as exc:
            raise CommandError(f"Strongroom is sealed: {exc}") from None
