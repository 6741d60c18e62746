"""First start: a root key for the embedded default, the default organization and the first admin."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model

from secrets_app.crypto import envelope
from secrets_app.keyring import keyring
from secrets_app.models import Organization, OrgRole, RootKeyCheck
from secrets_app.services.projects import organization_get_or_create
from secrets_app.services.users import user_create

DEFAULT_ORGANIZATION_SLUG = "default"


@dataclass
class BootstrapResult:
    admin: Any
    organization: Organization
    password: str | None  # set only when this call created the admin with a generated password
    root_key_generated: bool
    admin_created: bool = False  # this call created the admin (with a generated or the given password)


def root_key_ensure_embedded() -> bool:
    """Generate DATA_DIR/root.key (0600) when no root key is configured and nothing was ever
    encrypted. Never replaces a key once data exists: a lost key must seal, not silently reset."""
    if settings.STRONGROOM_ROOT_KEY or settings.STRONGROOM_EMBEDDED_ROOT_KEY_PATH.exists():
        return False
    if RootKeyCheck.objects.exists():
        return False
    path = settings.STRONGROOM_EMBEDDED_ROOT_KEY_PATH
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(envelope.encode_root_key(envelope.new_key()))
    keyring.reset()
    return True


def bootstrap(*, admin_email: str, admin_password: str | None = None) -> BootstrapResult:
    """Idempotent. Creates what is missing; returns the generated password only on creation."""
    generated = root_key_ensure_embedded()
    keyring.root()  # fail loudly (sealed) before creating anything else
    organization = organization_get_or_create(slug=DEFAULT_ORGANIZATION_SLUG, name="Default organization")
    User = get_user_model()
    admin = User.objects.filter(email__iexact=admin_email).first()
    password = None
    created = admin is None
    if admin is None:
        password = admin_password or secrets.token_urlsafe(18)
        admin = user_create(
            email=admin_email, password=password, organization=organization, org_role=OrgRole.ADMIN, is_superuser=True
        )
        if admin_password:
            password = None
    else:
        organization_get_or_create(slug=DEFAULT_ORGANIZATION_SLUG, name="Default organization", admin_user=admin)
    return BootstrapResult(
        admin=admin,
        organization=organization,
        password=password,
        root_key_generated=generated,
        admin_created=created,
    )
