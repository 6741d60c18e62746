"""Helpers for universal-auth tests: an org admin, an identity with a client secret, logins through
the real route, and the services these tests need (PostgreSQL, a shared cache)."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

LOGIN = "/api/v1/auth/universal-auth/login"


def unique_ip() -> str:
    """A fresh client address per test, so shared rate-limit windows never collide."""
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2] or 1}"


def make_org_admin(cast: Any, user: Any = None) -> Any:
    from secrets_app.models import OrganizationMembership, OrgRole

    user = user or cast.alice
    OrganizationMembership.objects.filter(organization=cast.organization, user=user).update(role=OrgRole.ADMIN)
    return user


@dataclass
class Robot:
    identity: Any
    config: Any
    secret_row: Any
    client_id: str
    client_secret: str


def make_robot(cast: Any, *, role: str = "viewer", secret: dict[str, Any] | None = None, **config: Any) -> Robot:
    """An identity in ``acme`` with universal auth and one client secret (services, as an org admin)."""
    from secrets_app.identities import services
    from secrets_app.principals import Principal

    admin = Principal.for_user(make_org_admin(cast))
    identity = services.identity_create(
        principal=admin, organization=cast.organization, name=f"robot-{uuid.uuid4().hex[:6]}"
    )
    services.identity_membership_add(scope=cast.scope(cast.alice), identity_id=identity.public_id, role=role)
    universal, _ = services.universal_auth_configure(principal=admin, identity=identity, changes=config)
    row, raw = services.client_secret_create(principal=admin, identity=identity, **(secret or {}))
    return Robot(identity, universal, row, str(universal.client_id), raw)


def login(robot: Robot, *, ip: str = "127.0.0.1", secret: str | None = None, client: APIClient | None = None) -> Any:
    return (client or APIClient()).post(
        LOGIN,
        {"clientId": robot.client_id, "clientSecret": robot.client_secret if secret is None else secret},
        format="json",
        REMOTE_ADDR=ip,
    )


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _services_required() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("STRONGROOM_TEST_REQUIRE_SERVICES"))


def require_shared_cache(reason: str) -> None:
    """Skip on the file cache (its incr is not atomic); in CI (Redis always there) fail instead."""
    if "redis" in settings.CACHES["default"]["BACKEND"].lower():
        return
    if _services_required():
        pytest.fail(f"Redis-backed cache required: {reason}")
    pytest.skip(reason)
