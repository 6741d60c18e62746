"""People's SSO against the local OIDC provider (tests/emulators/oidc_provider.py) over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from secrets_app.models import OrganizationMembership, OrgRole
from secrets_app.principals import Principal
from secrets_app.services.sso import sso_config_set
from tests.emulators.oidc_provider import OidcProvider


@pytest.fixture
def provider(settings: Any) -> Iterator[OidcProvider]:
    idp = OidcProvider()
    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.STRONGROOM_GRAPH_BASE_URL = idp.base_url
    yield idp
    idp.stop()


@pytest.fixture
def admin(cast: Any) -> Any:
    """alice, made an admin of acme-org (who configures SSO)."""
    OrganizationMembership.objects.filter(organization=cast.organization, user=cast.alice).update(role=OrgRole.ADMIN)
    return cast.alice


@pytest.fixture
def sso(cast: Any, admin: Any, provider: OidcProvider) -> Any:
    """acme-org signs in people of acme.test (and of the directory group grp-contractors)."""

    def configure(**overrides: Any) -> Any:
        arguments: dict[str, Any] = {
            "issuer_url": provider.issuer,
            "client_id": provider.client_id,
            "client_secret": provider.client_secret,
            "allowed_domains": ["acme.test"],
            "allowed_group_ids": ["grp-contractors"],
        }
        arguments.update(overrides)
        return sso_config_set(principal=Principal.for_user(admin), organization=cast.organization, **arguments)

    configure()
    return configure


def sign_in(client: Any, start: str = "/login/sso/acme-org/") -> Any:
    """Follow the real redirects: Strongroom → the provider's /authorize → Strongroom's callback."""
    response = client.get(start)
    assert response.status_code == 302, response.content[:500]
    at_provider = requests.get(response["Location"], allow_redirects=False, timeout=10)
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["Location"])
    assert back.path == "/login/sso/callback/"
    return client.get(f"{back.path}?{back.query}")
