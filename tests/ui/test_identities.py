"""Machine identities in the web UI: org admins create them, give them project roles, attach
universal auth and create client secrets (shown once, never cached); everybody else is refused."""

from __future__ import annotations

import re
from typing import Any

import pytest
from rest_framework.test import APIClient

from secrets_app.models import ClientSecret, MachineIdentity
from tests.identities.universal_support import make_org_admin, make_robot
from tests.ui.conftest import HX, assert_csp_clean

PAGE = "/org/acme-org/identities/"


def _secret_in(html: str) -> str:
    match = re.search(r'id="new-client-secret">([^<]+)<', html)
    assert match, "no one-time client secret box"
    return match.group(1)


@pytest.mark.django_db
def test_it_creates_an_identity_gives_it_a_role_and_a_client_secret_shown_once(login: Any, cast: Any) -> None:
    ui = login(make_org_admin(cast))
    page = ui.get(PAGE)
    assert page.status_code == 200 and "No machine identities yet" in page.content.decode()
    assert_csp_clean(page)

    created = ui.post(PAGE, {"name": "azure-pipeline"}, **HX)
    identity = MachineIdentity.objects.get(name="azure-pipeline")
    detail = f"{PAGE}{identity.public_id}/"
    assert created.status_code == 204 and created["HX-Redirect"] == detail
    assert "Attach universal auth" in ui.get(detail).content.decode()

    added = ui.post(f"{detail}projects/", {"project": "acme", "role": "dev-only"}, **HX)
    assert added.status_code == 200 and "is now dev-only in Acme app" in added.content.decode()
    attached = ui.post(f"{detail}universal-auth/", {"attach": "1"}, **HX)
    assert "Client id" in attached.content.decode()

    made = ui.post(
        f"{detail}client-secrets/", {"description": "prod deploy", "ttl_seconds": 0, "num_uses_limit": 0}, **HX
    )
    assert made.status_code == 200 and made["Cache-Control"] == "no-store"
    secret = _secret_in(made.content.decode())
    assert secret not in ui.get(detail).content.decode()  # never shown again
    assert not ClientSecret.objects.filter(secret_hash=secret).exists()
    config = identity.universal_auth
    answer = APIClient().post(
        "/api/v1/auth/universal-auth/login", {"clientId": str(config.client_id), "clientSecret": secret}, format="json"
    )
    assert answer.status_code == 200


@pytest.mark.django_db
def test_it_saves_settings_revokes_secrets_and_tokens(login: Any, cast: Any) -> None:
    robot = make_robot(cast)
    ui = login(make_org_admin(cast))
    detail = f"{PAGE}{robot.identity.public_id}/"
    settings = {
        "access_token_ttl": 600,
        "access_token_max_ttl": 300,
        "access_token_num_uses_limit": 0,
        "lockout_enabled": "on",
        "lockout_threshold": 5,
        "lockout_duration_seconds": 600,
        "lockout_counter_reset_seconds": 60,
    }
    refused = ui.post(f"{detail}universal-auth/", settings, **HX)
    assert refused.status_code == 400 and "at least the access token TTL" in refused.content.decode()
    saved = ui.post(f"{detail}universal-auth/", {**settings, "access_token_max_ttl": 1200}, **HX)
    assert saved.status_code == 200 and "settings saved" in saved.content.decode()
    robot.config.refresh_from_db()
    assert robot.config.lockout_threshold == 5 and robot.config.access_token_max_ttl == 1200

    from tests.identities.universal_support import login as machine_login

    token = machine_login(robot).json()["accessToken"]
    revoked = ui.post(f"{detail}tokens/revoke/", **HX)
    assert "Revoked 1 access token" in revoked.content.decode()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/v1/projects/acme/secrets/?environment=dev").status_code == 401
    gone = ui.post(f"{detail}client-secrets/{robot.secret_row.pk}/revoke/", **HX)
    assert "revoked, with every token it issued" in gone.content.decode()
    assert machine_login(robot).status_code == 401

    deleted = ui.post(f"{detail}delete/", **HX)
    assert deleted.status_code == 204 and deleted["HX-Redirect"] == PAGE
    assert not MachineIdentity.objects.filter(pk=robot.identity.pk).exists()


@pytest.mark.django_db
def test_it_refuses_charlie_mallory_and_anonymous(login: Any, cast: Any) -> None:
    robot = make_robot(cast)
    detail = f"{PAGE}{robot.identity.public_id}/"
    urls = [PAGE, detail]
    posts = [
        PAGE,
        f"{detail}projects/",
        f"{detail}universal-auth/",
        f"{detail}client-secrets/",
        f"{detail}client-secrets/{robot.secret_row.pk}/revoke/",
        f"{detail}tokens/revoke/",
        f"{detail}delete/",
    ]
    for url in urls:
        assert login(cast.charlie).get(url).status_code == 403
        assert login(cast.mallory).get(url).status_code == 404
        assert login(None).get(url).status_code == 302
    for url in posts:
        assert login(cast.charlie).post(url, {"name": "x", "project": "acme", "role": "admin"}).status_code == 403
        assert login(cast.mallory).post(url, {"name": "x"}).status_code == 404
    assert MachineIdentity.objects.filter(pk=robot.identity.pk, is_active=True).exists()
    assert "Identities" not in login(cast.bob).get("/projects/").content.decode()  # admins only in the top bar (#17)


# --- JWT / OIDC / Kubernetes auth ---------------------------------------------------------------------

REVIEWER_JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6a3ViZS1zeXN0ZW06cmV2aWV3ZXIifQ.c2lnbmF0dXJlLXJldmlld2Vy"
TOKEN_SETTINGS = {"access_token_ttl": 600, "access_token_max_ttl": 3600, "access_token_num_uses_limit": 0}


def _public_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.mark.django_db
def test_an_org_admin_configures_jwt_oidc_and_kubernetes_auth(login: Any, cast: Any) -> None:
    from secrets_app.models import AuthMethodKind, JwtAuth, KubernetesAuth

    robot = make_robot(cast)
    identity = robot.identity
    ui = login(make_org_admin(cast))
    detail = f"{PAGE}{identity.public_id}/"
    page = ui.get(detail)
    assert page.status_code == 200 and "Configure JWT auth" in page.content.decode()
    assert_csp_clean(page)

    jwt = ui.post(
        f"{detail}jwt-auth/",
        {
            **TOKEN_SETTINGS,
            "config_type": "jwks",
            "jwks_url": "https://vstoken.dev.azure.com/acme/.well-known/jwks",
            "bound_issuer": "https://vstoken.dev.azure.com/acme",
            "bound_audiences": "api://AzureADTokenExchange",
            "bound_subject": "sc://acme/*",
            "bound_claims": '{"repository": "acme/*"}',
        },
        **HX,
    )
    assert jwt.status_code == 200 and "JWT auth saved" in jwt.content.decode()
    row = JwtAuth.objects.get(identity=identity, kind=AuthMethodKind.JWT)
    assert row.jwks_url == "https://vstoken.dev.azure.com/acme/.well-known/jwks"
    assert row.bound_claims == {"repository": "acme/*"} and row.access_token_ttl == 600
    assert "/api/v1/auth/jwt-auth/login" in jwt.content.decode()
    assert str(identity.public_id) in jwt.content.decode()

    static = ui.post(
        f"{detail}jwt-auth/", {**TOKEN_SETTINGS, "config_type": "static", "public_keys": _public_pem()}, **HX
    )
    assert static.status_code == 200
    row.refresh_from_db()
    assert row.config_type == "static" and len(row.public_keys) == 1 and row.jwks_url == ""

    oidc = ui.post(
        f"{detail}oidc-auth/",
        {
            **TOKEN_SETTINGS,
            "oidc_discovery_url": "https://token.actions.githubusercontent.com",
            "bound_issuer": "https://token.actions.githubusercontent.com",
            "bound_subject": "repo:acme/app:*",
        },
        **HX,
    )
    assert oidc.status_code == 200 and "OIDC auth saved" in oidc.content.decode()
    oidc_row = JwtAuth.objects.get(identity=identity, kind=AuthMethodKind.OIDC)
    assert oidc_row.oidc_discovery_url == "https://token.actions.githubusercontent.com"
    assert "/api/v1/auth/oidc-auth/login" in oidc.content.decode()

    k8s = ui.post(
        f"{detail}kubernetes-auth/",
        {
            **TOKEN_SETTINGS,
            "kubernetes_host": "https://k8s.acme.test:6443",
            "allowed_namespaces": "prod, staging",
            "allowed_names": "app",
            "allowed_audience": "strongroom",
            "token_reviewer_jwt": REVIEWER_JWT,
        },
        **HX,
    )
    html = k8s.content.decode()
    assert k8s.status_code == 200 and "Kubernetes auth saved" in html and k8s["Cache-Control"] == "no-store"
    k8s_row = KubernetesAuth.objects.get(identity=identity)
    assert k8s_row.allowed_namespaces == "prod, staging" and k8s_row.token_reviewer_jwt_ciphertext
    assert "reviewer JWT configured" in html and "/api/v1/auth/kubernetes-auth/login" in html
    assert REVIEWER_JWT not in html
    # Saving again with the reviewer field empty keeps it; the page never shows it.
    again = ui.post(f"{detail}kubernetes-auth/", {**TOKEN_SETTINGS, "kubernetes_host": "https://k8s.acme.test"}, **HX)
    assert again.status_code == 200
    k8s_row.refresh_from_db()
    assert k8s_row.token_reviewer_jwt_ciphertext and k8s_row.allowed_namespaces == ""
    later = ui.get(detail)
    assert REVIEWER_JWT not in later.content.decode() and REVIEWER_JWT.split(".")[1] not in later.content.decode()
    assert_csp_clean(later)

    for method in ("jwt", "oidc", "kubernetes"):
        removed = ui.post(f"{detail}{method}-auth/remove/", **HX)
        assert removed.status_code == 200 and "removed" in removed.content.decode()
    assert not JwtAuth.objects.filter(identity=identity).exists()
    assert not KubernetesAuth.objects.filter(identity=identity).exists()


@pytest.mark.django_db
def test_bad_auth_method_values_show_inline_errors(login: Any, cast: Any) -> None:
    from secrets_app.models import JwtAuth, KubernetesAuth

    robot = make_robot(cast)
    ui = login(make_org_admin(cast))
    detail = f"{PAGE}{robot.identity.public_id}/"

    http = ui.post(
        f"{detail}jwt-auth/",
        {**TOKEN_SETTINGS, "config_type": "jwks", "jwks_url": "http://jwks.example.com/keys", "bound_issuer": "x"},
        **HX,
    )
    html = http.content.decode()
    assert http.status_code == 400
    assert re.search(r'for="jwt-jwks_url">JWKS URL<.*?field-error" role="alert">Must be an https:// URL', html, re.S)

    pem = ui.post(
        f"{detail}jwt-auth/",
        {
            **TOKEN_SETTINGS,
            "config_type": "static",
            "public_keys": "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----",
        },
        **HX,
    )
    assert pem.status_code == 400
    assert re.search(
        r'for="jwt-public_keys">.*?field-error" role="alert">Public keys \(PEM\) #1: Not a PEM public key',
        pem.content.decode(),
        re.S,
    )

    claims = ui.post(
        f"{detail}oidc-auth/",
        {
            **TOKEN_SETTINGS,
            "oidc_discovery_url": "https://issuer.test",
            "bound_issuer": "https://issuer.test",
            "bound_claims": "{",
        },
        **HX,
    )
    assert claims.status_code == 422 and "Bound claims: not valid JSON" in claims.content.decode()

    ca = ui.post(
        f"{detail}kubernetes-auth/",
        {
            **TOKEN_SETTINGS,
            "kubernetes_host": "https://k8s.test",
            "ca_cert": "not a cert",
            "token_reviewer_jwt": REVIEWER_JWT,
        },
        **HX,
    )
    assert ca.status_code == 400 and "Must be one or more PEM certificates" in ca.content.decode()
    assert REVIEWER_JWT not in ca.content.decode()
    assert not JwtAuth.objects.exists() and not KubernetesAuth.objects.exists()


@pytest.mark.django_db
def test_only_org_admins_configure_auth_methods(login: Any, cast: Any) -> None:
    from secrets_app.models import JwtAuth, KubernetesAuth

    robot = make_robot(cast)
    detail = f"{PAGE}{robot.identity.public_id}/"
    data = {
        **TOKEN_SETTINGS,
        "config_type": "jwks",
        "jwks_url": "https://jwks.test/keys",
        "bound_issuer": "https://issuer.test",
        "oidc_discovery_url": "https://issuer.test",
        "kubernetes_host": "https://k8s.test",
        "token_reviewer_jwt": REVIEWER_JWT,
    }
    posts = [f"{detail}{method}-auth/" for method in ("jwt", "oidc", "kubernetes")]
    posts += [f"{detail}{method}-auth/remove/" for method in ("jwt", "oidc", "kubernetes")]
    for url in posts:
        assert login(cast.charlie).post(url, data, **HX).status_code == 403
        assert login(cast.mallory).post(url, data, **HX).status_code == 404
    assert not JwtAuth.objects.exists() and not KubernetesAuth.objects.exists()
