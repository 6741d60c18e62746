"""JWT auth against a local issuer serving a JWKS (keys generated in the test): both Azure DevOps
workload identity federation token styles, the bound checks, static PEM keys, the login route,
the configuration endpoint, and what the issued token may then read."""

from __future__ import annotations

import re
import time
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.test import override_settings
from rest_framework.test import APIClient

from audit.models import AuditEvent
from secrets_app.errors import ValidationFailed
from secrets_app.identities.jwt_auth import jwt_auth_configure, jwt_auth_login
from secrets_app.identities.login_common import UPSTREAM_FAILED, LoginRefused, glob_match
from secrets_app.models import MachineIdentity
from secrets_app.services.secrets import SecretInput, secret_create
from tests.emulators.oidc_issuer import (
    ADO_AUDIENCE,
    AZURE_DEVOPS_APP_ID,
    ENTRA_EXCHANGE_APP_ID,
    OidcIssuer,
    b64url_guid,
    entra_issuer,
    entra_subject,
    vstoken_issuer,
)

ORG_ID = "6f2d8a4c-1b3e-4c5d-9e7f-0a1b2c3d4e5f"
TENANT_ID = "ff882432-0c3b-4b5e-8a7d-2e6f9c1d3b4a"
SERVICE_CONNECTION_ID = "3c9e1f7a-5b2d-4e8c-a6f0-9d1b7e3c5a2f"


def _configure_ado(principal: Any, identity: MachineIdentity, issuer: OidcIssuer, **overrides: Any) -> Any:
    settings = {
        "config_type": "jwks",
        "jwks_url": issuer.jwks_url,
        "jwks_ca_cert": issuer.ca_pem,
        "bound_issuer": vstoken_issuer(ORG_ID),
        "bound_audiences": ADO_AUDIENCE,
        "bound_subject": "sc://contoso/web/*",
    }
    settings.update(overrides)
    return jwt_auth_configure(principal=principal, identity=identity, **settings)


def _ado_token(issuer: OidcIssuer, **overrides: Any) -> str:
    return issuer.mint_ado_service_connection(
        organization_id=ORG_ID, organization="contoso", project="web", service_connection="deploy-prod", **overrides
    )


def _login(identity: MachineIdentity, token: str, ip: str = "127.0.0.1") -> Any:
    return jwt_auth_login(identity_id=str(identity.public_id), jwt=token, ip=ip)


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


def test_the_ado_encoding_of_guids_matches_the_reference() -> None:
    assert b64url_guid(AZURE_DEVOPS_APP_ID) == "rISbSSETf0KqFyZ8ppdXmA"


def test_an_ado_service_connection_token_logs_in_and_reads_what_the_role_allows(
    cast: Any, robot: MachineIdentity, admin_principal: Any, issuer: OidcIssuer
) -> None:
    _configure_ado(admin_principal, robot, issuer, access_token_ttl=600, access_token_max_ttl=1200)
    secret_create(scope=cast.scope(cast.alice), environment="dev", path="/", item=SecretInput(key="DB", value="s3"))
    token = _ado_token(issuer)
    issued = _login(robot, token)
    assert issued.expires_in == 600 and issued.max_ttl == 1200 and issued.row.auth_method == "jwt-auth"

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.access_token}")
    listing = client.get("/api/v1/projects/acme/secrets/?environment=dev")
    assert listing.status_code == 200 and [s["key"] for s in listing.json()["secrets"]] == ["DB"]
    assert client.get("/api/v1/projects/acme/secrets/DB/?environment=dev").status_code == 403  # viewer
    assert client.get("/api/v1/projects/evil/secrets/?environment=dev").status_code == 404

    event = AuditEvent.objects.filter(action="identity.logged_in").get()
    assert event.metadata["method"] == "jwt-auth" and event.resource_id == str(robot.public_id)
    assert token not in str(event.metadata)


def test_an_entra_issued_ado_token_logs_in(robot: MachineIdentity, admin_principal: Any, issuer: OidcIssuer) -> None:
    subject = entra_subject(TENANT_ID, ORG_ID, SERVICE_CONNECTION_ID)
    assert subject.startswith(f"/eid1/c/pub/t/{b64url_guid(TENANT_ID)}/a/rISbSSETf0KqFyZ8ppdXmA/sc/")
    _configure_ado(
        admin_principal,
        robot,
        issuer,
        jwks_url=f"{issuer.base_url}/{TENANT_ID}/discovery/v2.0/keys",
        bound_issuer=entra_issuer(TENANT_ID),
        # The Entra-issued token's aud is the exchange app's GUID; listing both covers either style.
        bound_audiences=f"{ADO_AUDIENCE}, {ENTRA_EXCHANGE_APP_ID}",
        bound_subject=subject,
        bound_claims={"tid": TENANT_ID, "azp": AZURE_DEVOPS_APP_ID, "idtyp": "app"},
    )
    token = issuer.mint_ado_entra(
        tenant_id=TENANT_ID, organization_id=ORG_ID, service_connection_id=SERVICE_CONNECTION_ID
    )
    assert _login(robot, token).row.identity_id == robot.pk
    # The same configuration refuses the vstoken style (another issuer) and another connection.
    _refused(robot, _ado_token(issuer), 403, "issuer")
    other = issuer.mint_ado_entra(tenant_id=TENANT_ID, organization_id=ORG_ID, service_connection_id=ORG_ID)
    _refused(robot, other, 401, "subject")
    other_tenant = issuer.mint_ado_entra(
        tenant_id=TENANT_ID,
        organization_id=ORG_ID,
        service_connection_id=SERVICE_CONNECTION_ID,
        tid="00000000-0000-0000-0000-000000000000",
    )
    _refused(robot, other_tenant, 401, "claim 'tid'")


def test_wrong_issuer_is_403_and_audited_without_the_token(
    robot: MachineIdentity, admin_principal: Any, issuer: OidcIssuer
) -> None:
    _configure_ado(admin_principal, robot, issuer)
    token = _ado_token(issuer, iss=vstoken_issuer("00000000-0000-0000-0000-000000000000"))
    _refused(robot, token, 403, "issuer mismatch")
    event = AuditEvent.objects.filter(action="identity.login_failed").get()
    assert event.outcome == "deny" and "403" in event.metadata["reason"] and event.metadata["method"] == "jwt-auth"
    assert token not in str(event.metadata)


def test_wrong_audience_expired_and_not_yet_valid_are_401(
    robot: MachineIdentity, admin_principal: Any, issuer: OidcIssuer
) -> None:
    _configure_ado(admin_principal, robot, issuer)
    _refused(robot, _ado_token(issuer, aud="api://SomethingElse"), 401, "audience")
    _refused(robot, _ado_token(issuer, aud=["x", "y"]), 401, "audience")
    assert _login(robot, _ado_token(issuer, aud=["x", ADO_AUDIENCE]))  # one of a list is enough
    now = int(time.time())
    _refused(robot, _ado_token(issuer, now=now - 1000, lifetime=900), 401, "expired")
    assert _login(robot, _ado_token(issuer, now=now - 910, lifetime=900))  # within the 30 s leeway
    _refused(robot, _ado_token(issuer, nbf=now + 600), 401, "not valid yet")
    no_exp = issuer.mint({"iss": vstoken_issuer(ORG_ID), "aud": ADO_AUDIENCE, "sub": "sc://contoso/web/x"})
    _refused(robot, no_exp, 401, "exp")


def test_bad_signatures_and_algorithms_are_401(
    robot: MachineIdentity, admin_principal: Any, issuer: OidcIssuer
) -> None:
    _configure_ado(admin_principal, robot, issuer)
    token = _ado_token(issuer)
    forged_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = pyjwt.decode(token, options={"verify_signature": False})
    _refused(robot, issuer.mint(claims, key=forged_key, header_kid="rsa-1"), 401, "signature")
    header, payload, signature = token.split(".")
    _refused(robot, f"{header}.{payload}.{signature[:-4]}AAAA", 401)
    _refused(robot, pyjwt.encode(claims, key=None, algorithm="none"), 401, "algorithm")
    _refused(robot, pyjwt.encode(claims, "x" * 32, algorithm="HS256", headers={"kid": "rsa-1"}), 401, "algorithm")
    # An EC token naming the RSA key's kid: no key of that kid verifies ES256.
    _refused(robot, issuer.mint(claims, kid="ec-1", header_kid="rsa-1"), 401)
    _refused(robot, "not-a-jwt", 401, "not a JWT")
    _refused(robot, issuer.mint(claims, header_kid="nope"), 401, "kid")
    assert issuer.paths_requested().count("/keys") == 1  # unknown kids refetch at most every 5 s
    assert _login(robot, issuer.mint(claims, kid="ec-1"))  # the EC key verifies its own tokens


def test_a_rotated_key_is_fetched_on_first_sight(
    robot: MachineIdentity, admin_principal: Any, issuer: OidcIssuer
) -> None:
    _configure_ado(admin_principal, robot, issuer)
    assert _login(robot, _ado_token(issuer))
    issuer.rotate("rsa-2")
    claims = pyjwt.decode(_ado_token(issuer), options={"verify_signature": False})
    import secrets_app.identities.jwt_auth as jwt_auth_module

    jwt_auth_module.JWKS_MIN_REFRESH_SECONDS, saved = -1, jwt_auth_module.JWKS_MIN_REFRESH_SECONDS
    try:
        assert _login(robot, issuer.mint(claims, kid="rsa-2"))
    finally:
        jwt_auth_module.JWKS_MIN_REFRESH_SECONDS = saved
        del issuer.keys["rsa-2"]


@pytest.mark.parametrize(
    ("pattern", "subject", "matches"),
    [
        ("sc://contoso/web/*", "sc://contoso/web/deploy-prod", True),
        ("sc://contoso/web/deploy-*", "sc://contoso/web/deploy-prod", True),
        ("sc://contoso/*", "sc://contoso/web/deploy-prod", False),  # * never crosses a /
        ("sc://contoso/**", "sc://contoso/web/deploy-prod", True),
        ("sc://contoso/web/deploy-prod", "sc://contoso/web/deploy-prod", True),
        ("sc://contoso/web/deploy-prod", "sc://contoso/web/deploy-prod2", False),
        ("sc://contoso/web/deploy-pro?", "sc://contoso/web/deploy-prod", True),
        ("sc://contoso/web/[abc]", "sc://contoso/web/[abc]", True),  # brackets are literal
        ("sc://contoso/web/.*", "sc://contoso/web/xyz", False),  # no regex
    ],
)
def test_subject_globs(pattern: str, subject: str, matches: bool) -> None:
    assert glob_match(subject, pattern) is matches


def test_subject_glob_and_bound_claims_at_login(
    robot: MachineIdentity, admin_principal: Any, issuer: OidcIssuer
) -> None:
    _configure_ado(admin_principal, robot, issuer, bound_subject="sc://contoso/web/deploy-*")
    assert _login(robot, _ado_token(issuer))
    other = issuer.mint_ado_service_connection(
        organization_id=ORG_ID, organization="contoso", project="api", service_connection="deploy-prod"
    )
    _refused(robot, other, 401, "subject")
    _refused(robot, _ado_token(issuer, sub=None), 401, "no subject")

    # A pipeline (p://) token bound by its claims, one of them nested.
    _configure_ado(
        admin_principal,
        robot,
        issuer,
        bound_subject="p://contoso/web/*",
        bound_claims={"prj_id": "1111*, 2222*", "rpo_ref": "refs/heads/main", "extra.stage": "prod"},
    )
    good = {
        "sub": "p://contoso/web/release",
        "prj_id": "2222-abc",
        "rpo_ref": "refs/heads/main",
        "extra": {"stage": "prod"},
    }
    assert _login(robot, _ado_token(issuer, **good))
    _refused(robot, _ado_token(issuer, **{**good, "rpo_ref": "refs/heads/feature"}), 401, "rpo_ref")
    _refused(robot, _ado_token(issuer, **{**good, "extra": {"stage": "dev"}}), 401, "extra.stage")
    _refused(robot, _ado_token(issuer, **{**good, "prj_id": None}), 401, "prj_id")


def test_static_pem_keys_are_tried_in_turn(robot: MachineIdentity, admin_principal: Any, issuer: OidcIssuer) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    jwt_auth_configure(
        principal=admin_principal,
        identity=robot,
        config_type="static",
        public_keys=[issuer.public_pem("rsa-1"), issuer.public_pem("ec-1")],
        bound_issuer="https://issuer.example",
        bound_audiences="strongroom",
    )
    claims = {"iss": "https://issuer.example", "aud": "strongroom", "sub": "x", "exp": int(time.time()) + 60}
    assert _login(robot, issuer.mint(claims, kid="ec-1", header_kid=False))
    assert _login(robot, issuer.mint(claims, kid="rsa-1", header_kid="whatever"))
    _refused(robot, issuer.mint(claims, key=other, header_kid=False), 401, "signature")
    assert not issuer.requests  # static keys never touch the network


def test_configuration_is_validated(robot: MachineIdentity, admin_principal: Any, issuer: OidcIssuer) -> None:
    def refused(field: str, **settings: Any) -> None:
        with pytest.raises(ValidationFailed) as caught:
            _configure_ado(admin_principal, robot, issuer, **settings)
        assert field in caught.value.fields, caught.value.fields

    refused("jwksUrl", jwks_url="http://jwks.example/keys")
    with override_settings(STRONGROOM_OUTBOUND_ALLOWED_HOSTS=[]):
        refused("jwksUrl", jwks_url="http://127.0.0.1:1/keys")  # loopback: only when allowed
    refused("jwksUrl", jwks_url="https://user:pw@jwks.example/keys")
    refused("boundIssuer", bound_issuer="")
    refused("jwksCaCert", jwks_ca_cert="-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----")
    refused("publicKeys[0]", config_type="static", public_keys=["not a key"])
    refused("publicKeys", config_type="static", public_keys=[])
    refused("accessTokenMaxTTL", access_token_ttl=600, access_token_max_ttl=60)
    refused("accessTokenTrustedIps[0]", access_token_trusted_ips=["10.0.0.0/33"])
    refused("boundClaims", bound_claims={"tid": ""})
    with override_settings(STRONGROOM_OUTBOUND_ALLOWED_HOSTS=["127.0.0.1"]):
        assert _configure_ado(admin_principal, robot, issuer, jwks_url="http://127.0.0.1:1/keys").jwks_url
        refused("jwksUrl", jwks_url="http://jwks.example/keys")  # never for another host


def test_unknown_unconfigured_and_unreachable(
    cast: Any, robot: MachineIdentity, admin_principal: Any, issuer: OidcIssuer
) -> None:
    token = _ado_token(issuer)
    _refused(robot, token, 404, "no JWT auth")
    with pytest.raises(LoginRefused) as caught:
        jwt_auth_login(identity_id="8d0c7f4e-0000-4000-8000-000000000000", jwt=token, ip="127.0.0.1")
    assert caught.value.status == 404
    with pytest.raises(LoginRefused):
        jwt_auth_login(identity_id="not-a-uuid", jwt=token, ip="127.0.0.1")
    _configure_ado(admin_principal, robot, issuer)
    issuer.fail_with = 500
    _refused(robot, token, 502, "JWKS")
    issuer.fail_with = None
    _configure_ado(admin_principal, robot, issuer, jwks_ca_cert="")  # self-signed: untrusted without its CA
    _refused(robot, token, 502, "JWKS")
    _configure_ado(admin_principal, robot, issuer, access_token_trusted_ips=["10.0.0.0/8"])
    _refused(robot, token, 403, "IP")
    assert _login(robot, token, ip="10.1.2.3")
    robot.is_active = False
    robot.save()
    _refused(robot, token, 404)


def test_the_login_route_answers_the_infisical_shape(
    robot: MachineIdentity, admin_principal: Any, issuer: OidcIssuer
) -> None:
    _configure_ado(admin_principal, robot, issuer)
    client = APIClient()
    for path in ("/api/v1/auth/jwt-auth/login",):
        answer = client.post(path, {"identityId": str(robot.public_id), "jwt": _ado_token(issuer)}, format="json")
        assert answer.status_code == 200, answer.content
        body = answer.json()
        assert set(body) == {"accessToken", "expiresIn", "accessTokenMaxTTL", "tokenType"}
        assert body["tokenType"] == "Bearer" and body["expiresIn"] == 3600 and body["accessTokenMaxTTL"] == 86400
    wrong = client.post(
        "/api/v1/auth/jwt-auth/login",
        {"identityId": str(robot.public_id), "jwt": _ado_token(issuer, aud="nope")},
        format="json",
    )
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"
    forbidden = client.post(
        "/api/v1/auth/jwt-auth/login",
        {"identityId": str(robot.public_id), "jwt": _ado_token(issuer, iss="https://evil.example")},
        format="json",
    )
    assert forbidden.status_code == 403
    assert (
        client.post("/api/v1/auth/jwt-auth/login", {"identityId": str(robot.public_id)}, format="json").status_code
        == 400
    )
    with override_settings(STRONGROOM_LOGIN_RATE_PER_MINUTE=1):
        from django.core.cache import cache

        cache.clear()
        body = {"identityId": str(robot.public_id), "jwt": _ado_token(issuer)}
        assert client.post("/api/v1/auth/jwt-auth/login", body, format="json").status_code == 200
        limited = client.post("/api/v1/auth/jwt-auth/login", body, format="json")
        assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1
        cache.clear()


def test_the_configuration_endpoint_is_for_org_admins(
    cast: Any, robot: MachineIdentity, org_admin: Any, issuer: OidcIssuer, api: Any
) -> None:
    url = f"/api/v1/identities/{robot.public_id}/jwt-auth/"
    body = {
        "configurationType": "jwks",
        "jwksUrl": issuer.jwks_url,
        "jwksCaCert": issuer.ca_pem,
        "boundIssuer": vstoken_issuer(ORG_ID),
        "boundAudiences": ADO_AUDIENCE,
        "boundSubject": "sc://contoso/web/deploy-prod",
        "accessTokenTTL": 300,
        "accessTokenMaxTTL": 900,
    }
    admin = api(org_admin)
    assert admin.get(url).status_code == 404  # not configured yet
    saved = admin.put(url, body, format="json")
    assert saved.status_code == 200, saved.content
    assert saved.json()["boundSubject"] == "sc://contoso/web/deploy-prod" and saved.json()["accessTokenTTL"] == 300
    assert admin.get(url).json()["jwksUrl"] == issuer.jwks_url
    assert AuditEvent.objects.filter(action="identity.jwt_auth_configured").count() == 1
    assert api(cast.alice).put(url, body, format="json").status_code == 403  # org member, not admin
    assert api(cast.alice).get(url).status_code == 403
    assert api(cast.mallory).get(url).status_code == 404  # another organization
    assert api(org_admin).put(url, {**body, "jwksUrl": "http://x.example/k"}, format="json").status_code == 400
    answer = APIClient().post(
        "/api/v1/auth/jwt-auth/login", {"identityId": str(robot.public_id), "jwt": _ado_token(issuer)}, format="json"
    )
    assert answer.status_code == 200 and answer.json()["expiresIn"] == 300
    assert admin.delete(url).status_code == 204
    assert admin.get(url).status_code == 404
