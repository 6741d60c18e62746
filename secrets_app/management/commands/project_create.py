from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from secrets_app.errors import DomainError
from secrets_app.models import Organization
from secrets_app.principals import Principal
from secrets_app.services.projects import project_create


class Command(BaseCommand):
    help = "Create a project with its environments (operator command, used by automation)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--environments", default="dev,staging,prod")
        parser.add_argument("--organization", default="default")
        parser.add_argument("--owner", help="email of the project's first admin (default: the first superuser)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["organization"]).first()
        if organization is None:
            raise CommandError(f"organization '{options['organization']}' not found (run `manage.py bootstrap` first)")
        User = get_user_model()
        owner = (
            User.objects.filter(email__iexact=options["owner"]).first()
            if options["owner"]
            else User.objects.filter(is_superuser=True).order_by("id").first()
        )
        if owner is None:
            raise CommandError("no owner found: pass --owner EMAIL of an existing user")
        try:
            project = project_create(
                principal=Principal.for_user(owner),
                organization=organization,
                slug=options["slug"],
                name=options["name"],
                environments=[env.strip() for env in options["environments"].split(",") if env.strip()],
            )
        except DomainError as exc:
            raise CommandError(exc.message) from None
        payload = {
            "id": str(project.public_id),
            "slug": project.slug,
            "name": project.name,
            "environments": list(project.environments.values_list("slug", flat=True)),
        }
        self.stdout.write(
            json.dumps(payload) if options["json"] else f"Created project {project.slug} ({project.public_id})"
        )
