"""``manage.py identity_create --name N --project SLUG|UUID --role ROLE --universal-auth --json``."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from secrets_app.errors import DomainError
from secrets_app.identities.services import (
    OPERATOR,
    client_secret_create_as,
    identity_create_as,
    identity_membership_add_as,
    universal_auth_configure_as,
)
from secrets_app.models import Project


class Command(BaseCommand):
    help = (
        "Create a machine identity in a project's organization with a role in that project; with "
        "--universal-auth also a client secret (printed once, stored only as a keyed hash)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--project", required=True, help="project slug, or its id (the UUID the API shows)")
        parser.add_argument("--role", default="viewer", help="built-in (admin, member, viewer) or custom role slug")
        parser.add_argument(
            "--universal-auth", action="store_true", help="attach universal auth, print a client secret"
        )
        parser.add_argument("--description", default="created by manage.py identity_create")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        project = _project(options["project"])
        try:
            with transaction.atomic():
                identity = identity_create_as(actor=OPERATOR, organization=project.organization, name=options["name"])
                identity_membership_add_as(actor=OPERATOR, project=project, identity=identity, role=options["role"])
                client_id = client_secret = None
                if options["universal_auth"]:
                    config, _ = universal_auth_configure_as(actor=OPERATOR, identity=identity, changes={})
                    _, client_secret = client_secret_create_as(
                        actor=OPERATOR, identity=identity, description=options["description"]
                    )
                    client_id = str(config.client_id)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        payload = {"identityId": str(identity.public_id), "clientId": client_id, "clientSecret": client_secret}
        if options["json"]:
            self.stdout.write(json.dumps(payload))
            return
        self.stdout.write(
            f"Created identity {identity.name} ({identity.public_id}) as {options['role']} in {project.slug}"
        )
        if client_secret:
            self.stdout.write(f"Client id:     {client_id}\nClient secret: {client_secret}  (shown once)")


def _project(reference: str) -> Project:
    """The project named by its id (UUID) or its slug; CommandError when none or several match."""
    projects = Project.objects.select_related("organization")
    try:
        matches = projects.filter(public_id=uuid.UUID(reference))
    except ValueError:
        matches = projects.filter(slug=reference)
    found = list(matches[:2])
    if len(found) > 1:
        raise CommandError(f"several organizations have a project with the slug '{reference}'; pass its id (UUID)")
    if not found:
        raise CommandError(f"project '{reference}' not found (give its slug or its id)")
    return found[0]
