"""Fixtures for machine-identity tests: a local OIDC issuer and a TokenReview emulator (one per
module, state reset per test), an identity with a project role, and an org admin."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.emulators.kubernetes import KubernetesEmulator
from tests.emulators.oidc_issuer import OidcIssuer


@pytest.fixture(scope="module")
def _issuer_server() -> Iterator[OidcIssuer]:
    server = OidcIssuer()
    yield server
    server.stop()


def _allow_loopback(settings: Any) -> None:
    """The emulators listen on 127.0.0.1, which the outbound guard refuses unless allowed."""
    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]


@pytest.fixture
def issuer(_issuer_server: OidcIssuer, settings: Any) -> OidcIssuer:
    from secrets_app.identities.jwt_auth import jwks_cache
    from secrets_app.identities.oidc_auth import discovery_cache_clear

    _allow_loopback(settings)
    jwks_cache.clear()
    discovery_cache_clear()
    _issuer_server.requests.clear()
    _issuer_server.issuer_override = None
    _issuer_server.fail_with = None
    return _issuer_server


@pytest.fixture(scope="module")
def _k8s_server() -> Iterator[KubernetesEmulator]:
    server = KubernetesEmulator()
    yield server
    server.stop()


@pytest.fixture
def k8s(_k8s_server: KubernetesEmulator, settings: Any) -> KubernetesEmulator:
    _allow_loopback(settings)
    _k8s_server.requests.clear()
    _k8s_server.refuse_reviewer = None
    _k8s_server.audience_aware = True
    _k8s_server.delay = 0.0
    return _k8s_server


@pytest.fixture
def robot(cast: Any) -> Any:
    """A machine identity in the cast's organization, viewer in project ``acme``."""
    from secrets_app.models import IdentityProjectMembership, MachineIdentity

    identity = MachineIdentity.objects.create(organization=cast.organization, name="pipeline-robot")
    IdentityProjectMembership.objects.create(project=cast.project, identity=identity, builtin_role="viewer")
    return identity


@pytest.fixture
def org_admin(cast: Any) -> Any:
    """An admin of the cast's organization (alice is only a member of it)."""
    from secrets_app.models import OrgRole
    from secrets_app.services.users import user_create
    from tests.conftest import PASSWORD

    return user_create(
        email="olga@example.com", password=PASSWORD, organization=cast.organization, org_role=OrgRole.ADMIN
    )


@pytest.fixture
def admin_principal(org_admin: Any) -> Any:
    from secrets_app.principals import Principal

    return Principal.for_user(org_admin)
