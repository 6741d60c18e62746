"""OIDC auth: keys found through the issuer's discovery document (served by the local issuer),
the discovery issuer pinned, the same bound checks as JWT auth, and the login route."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from secrets_app.errors import ValidationFailed
from secrets_app.identities.login_common import UPSTREAM_FAILED, LoginRefused
from secrets_app.identities.oidc_auth import discovery_cache_clear, oidc_auth_configure, oidc_auth_login
from secrets_app.models import MachineIdentity
from secrets_app.services.secrets import SecretInput, secret_create
from tests.emulators.oidc_issuer import ADO_AUDIENCE, OidcIssuer

ORG_ID = "6f2d8a4c-1b3e-4c5d-9e7f-0a1b2c3d4e5f"


def _configure(principal: Any, identity: MachineIdentity, issuer: OidcIssuer, **overrides: Any) -> Any:
    settings = {
        "oidc_discovery_url": issuer.issuer_for(f"/{ORG_ID}"),
        "bound_issuer": issuer.issuer_for(f"/{ORG_ID}"),
        "ca_cert": issuer.ca_pem,
        "bound_audiences": ADO_AUDIENCE,
        "bound_subject": "sc://contoso/web/*",
    }
    settings.update(overrides)
    return oidc_auth_configure(principal=principal, identity=identity, **settings)


def _token(issuer: OidcIssuer, **overrides: Any) -> str:
    # An ADO service-connection token whose issuer is this local server (standing in for vstoken).
    return issuer.mint_ado_service_connection(
        organization_id=ORG_ID,
        organization="contoso",
        project="web",
        service_connection="deploy-prod",
        **{"iss": issuer.issuer_for(f"/{ORG_ID}"), **overrides},
    )


def _login(identity: MachineIdentity, token: str) -> Any:
    return oidc_auth_login(identity_id=str(identity.public_id), jwt=token, ip="127.0.0.1")


def _refused(identity: MachineIdentity, token: str, status: int, match: str | None = None) -> LoginRefused:
    """The refusal; *match* is searched in what the admin sees in the audit event (the detail when
    the answer itself is the generic upstream text)."""
    with pytest.raises(LoginRefused) as caught:
        _login(identity, token)
    assert caught.value.status == status, caught.value
    if status == 502:
        assert caught.value.message == UPSTREAM_FAILED  # one answer, whatever went wrong upstream
    if match is not None:
        assert re.search(match, caught.value.detail or caught.value.message), caught.value.detail
    return caught.value


def test_keys_come_through_discovery_and_the_token_reads_what_the_role_allows(
    cast: Any, robot: MachineIdentity, admin_principal: Any, issuer: OidcIssuer
) -> None:
    _configure(admin_principal, robot, issuer)
    secret_create(scope=cast.scope(cast.alice), environment="dev", path="/", item=SecretInput(key="DB", value="s3"))
    issued = _login(robot, _token(issuer))
    assert issued.row.auth_method == "oidc-auth"
    assert issuer.paths_requested() == [f"/{ORG_ID}/.well-known/openid-configuration", "/keys"]
    assert _login(robot, _token(issuer))
    assert len(issuer.requests) == 2  # discovery and JWKS are cached

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.access_token}")
    assert [s["key"] for s in client.get("/api/v1/projects/acme/secrets/?environment=dev").json()["secrets"]] == ["DB"]
    assert client.get("/api/v1/projects/acme/secrets/DB/?environment=dev").status_code == 403  # viewer


def test_the_discovery_url_may_name_the_document_itself(
    robot: MachineIdentity, admin_principal: Any, issuer: OidcIssuer
) -> None:
    base = issuer.issuer_for(f"/{ORG_ID}")
    _configure(admin_principal, robot, issuer, oidc_discovery_url=base + "/.well-known/openid-configuration")
    assert _login(robot, _token(issuer))


def test_issuer_checks(robot: MachineIdentity, admin_principal: Any, issuer: OidcIssuer) -> None:
    _configure(admin_principal, robot, issuer)
    _refused(robot, _token(issuer, iss="https://vstoken.dev.azure.com/" + ORG_ID), 403, "issuer")
    # A discovery document naming another issuer than the configured one is refused outright.
    discovery_cache_clear()
    issuer.issuer_override = "https://elsewhere.example"
    _refused(robot, _token(issuer), 403, "discovery document names another issuer")
    issuer.issuer_override = None
    discovery_cache_clear()
    _configure(admin_principal, robot, issuer, bound_issuer="https://configured.example")
    _refused(robot, _token(issuer), 403, "discovery document")


def test_the_jwt_auth_checks_apply(robot: MachineIdentity, admin_principal: Any, issuer: OidcIssuer) -> None:
    _configure(admin_principal, robot, issuer, bound_claims={"jti": "*"})
    _refused(robot, _token(issuer, aud="other"), 401, "audience")
    _refused(robot, _token(issuer, sub="sc://contoso/api/deploy"), 401, "subject")
    _refused(robot, _token(issuer, now=int(time.time()) - 2000), 401, "expired")
    _refused(robot, _token(issuer, jti=None), 401, "jti")
    claims = {"iss": issuer.issuer_for(f"/{ORG_ID}"), "aud": ADO_AUDIENCE, "sub": "sc://contoso/web/x", "jti": "1"}
    from cryptography.hazmat.primitives.asymmetric import rsa

    forged = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _refused(robot, issuer.mint({**claims, "exp": int(time.time()) + 60}, key=forged), 401, "signature")
    assert _login(robot, issuer.mint({**claims, "exp": int(time.time()) + 60}, kid="ec-1"))


def test_configuration_and_failures(
    robot: MachineIdentity, admin_principal: Any, issuer: OidcIssuer, org_admin: Any, api: Any
) -> None:
    _refused(robot, _token(issuer), 404, "no OIDC auth")
    for field, settings in [
        ("oidcDiscoveryUrl", {"oidc_discovery_url": "http://issuer.example"}),
        ("oidcDiscoveryUrl", {"oidc_discovery_url": ""}),
        ("boundIssuer", {"bound_issuer": ""}),
    ]:
        with pytest.raises(ValidationFailed) as caught:
            _configure(admin_principal, robot, issuer, **settings)
        assert field in caught.value.fields
    _configure(admin_principal, robot, issuer)
    issuer.fail_with = 503
    _refused(robot, _token(issuer), 502, "discovery")

    # Plain http to a loopback issuer, only for hosts in STRONGROOM_OUTBOUND_ALLOWED_HOSTS.
    plain = OidcIssuer(tls=False)
    try:
        with override_settings(STRONGROOM_OUTBOUND_ALLOWED_HOSTS=["127.0.0.1"]):
            base = plain.issuer_for("/x")
            _configure(admin_principal, robot, plain, oidc_discovery_url=base, bound_issuer=base, bound_subject="")
            token = plain.mint({"iss": base, "aud": ADO_AUDIENCE, "exp": int(time.time()) + 60})
            answer = APIClient().post(
                "/api/v1/auth/oidc-auth/login", {"identityId": str(robot.public_id), "jwt": token}, format="json"
            )
            assert answer.status_code == 200, answer.content
            assert set(answer.json()) == {"accessToken", "expiresIn", "accessTokenMaxTTL", "tokenType"}
    finally:
        plain.stop()

    url = f"/api/v1/identities/{robot.public_id}/oidc-auth/"
    body = {
        "oidcDiscoveryUrl": issuer.issuer_for(f"/{ORG_ID}"),
        "boundIssuer": issuer.issuer_for(f"/{ORG_ID}"),
        "caCert": issuer.ca_pem,
        "boundAudiences": ADO_AUDIENCE,
    }
    saved = api(org_admin).put(url, body, format="json")
    assert saved.status_code == 200 and saved.json()["oidcDiscoveryUrl"] == body["oidcDiscoveryUrl"]
    assert api(org_admin).get(url).json()["boundAudiences"] == ADO_AUDIENCE
