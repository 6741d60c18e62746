"""The JWT, OIDC-style and Kubernetes login routes of the compat adapter, onto the identity login
services (local JWKS issuer and TokenReview emulator from tests/emulators), the rate limiter's 429,
and the operator's sequence after a Kubernetes login."""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import cache
from django.test import Client, override_settings

from secrets_app.identities.jwt_auth import jwt_auth_configure
from secrets_app.identities.kubernetes_auth import kubernetes_auth_configure
from secrets_app.models import IdentityProjectMembership
from secrets_app.services.folders import folder_create
from secrets_app.services.secrets import SecretInput, secret_create
from tests.compat.conftest import BASE
from tests.identities.conftest import (  # noqa: F401 (fixtures)
    _issuer_server,
    _k8s_server,
    admin_principal,
    issuer,
    k8s,
    org_admin,
    robot,
)


def _post(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(f"{BASE}{path}", body, content_type="application/json")


def test_jwt_login_route_answers_infisical_shapes(robot: Any, admin_principal: Any, issuer: Any) -> None:  # noqa: F811
    jwt_auth_configure(
        principal=admin_principal,
        identity=robot,
        config_type="static",
        public_keys=[issuer.public_pem("rsa-1")],
        bound_issuer="https://issuer.example",
        bound_audiences="strongroom",
    )
    claims = {"iss": "https://issuer.example", "aud": "strongroom", "sub": "x", "exp": int(time.time()) + 60}
    client = Client()
    ok = _post(
        client,
        "/api/v1/auth/jwt-auth/login/",
        {"identityId": str(robot.public_id), "jwt": issuer.mint(claims, kid="rsa-1")},
    )
    assert ok.status_code == 200, ok.content
    assert set(ok.json()) == {"accessToken", "expiresIn", "accessTokenMaxTTL", "tokenType"}
    listing = client.get(
        f"{BASE}/api/v3/secrets/raw?workspaceSlug=acme&environment=dev",
        HTTP_AUTHORIZATION="Bearer " + ok.json()["accessToken"],
    )
    assert listing.status_code == 200
    wrong_issuer = _post(
        client,
        "/api/v1/auth/jwt-auth/login",
        {"identityId": str(robot.public_id), "jwt": issuer.mint({**claims, "iss": "https://evil"}, kid="rsa-1")},
    )
    assert wrong_issuer.status_code == 403 and wrong_issuer.json()["statusCode"] == 403
    wrong_audience = _post(
        client,
        "/api/v1/auth/jwt-auth/login",
        {"identityId": str(robot.public_id), "jwt": issuer.mint({**claims, "aud": "nope"}, kid="rsa-1")},
    )
    assert wrong_audience.status_code == 401 and wrong_audience.json()["error"] == "UnauthorizedError"
    # OIDC auth is its own configuration: this identity has none
    oidc = _post(client, "/api/v1/auth/oidc-auth/login", {"identityId": str(robot.public_id), "jwt": "a.b.c"})
    assert oidc.status_code == 404 and oidc.json()["error"] == "NotFound"

    with override_settings(STRONGROOM_LOGIN_RATE_PER_MINUTE=1):
        cache.clear()
        body = {"identityId": str(robot.public_id), "jwt": issuer.mint(claims, kid="rsa-1")}
        assert _post(client, "/api/v1/auth/jwt-auth/login", body).status_code == 200
        limited = _post(client, "/api/v1/auth/jwt-auth/login", body)
        assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1
        assert limited.json()["error"] == "RateLimitExceeded"
        cache.clear()


def test_kubernetes_login_then_the_operator_sequence(
    cast: Any,
    robot: Any,  # noqa: F811
    admin_principal: Any,  # noqa: F811
    k8s: Any,  # noqa: F811
) -> None:
    IdentityProjectMembership.objects.filter(identity=robot).update(builtin_role="member")
    scope = cast.scope(cast.alice)
    folder_create(scope=scope, environment="prod", path="/", name="app")
    secret_create(scope=scope, environment="prod", path="/app", item=SecretInput(key="DB", value="s3"))
    kubernetes_auth_configure(
        principal=admin_principal,
        identity=robot,
        kubernetes_host=k8s.base_url,
        ca_cert=k8s.ca_pem,
        token_reviewer_jwt=k8s.add_reviewer(),
        allowed_namespaces="apps",
        allowed_names="operator",
    )
    client = Client(HTTP_USER_AGENT="k8-operator/v0.11.5")
    refused = _post(
        client,
        "/api/v1/auth/kubernetes-auth/login",
        {"identityId": str(robot.public_id), "jwt": k8s.add_service_account_token("kube-system", "operator")},
    )
    assert refused.status_code == 401 and set(refused.json()) >= {"reqId", "statusCode", "message", "error"}
    login = _post(
        client,
        "/api/v1/auth/kubernetes-auth/login",
        {"identityId": str(robot.public_id), "jwt": k8s.add_service_account_token("apps", "operator")},
    )
    assert login.status_code == 200, login.content
    auth = {"HTTP_AUTHORIZATION": "Bearer " + login.json()["accessToken"]}
    project = client.get(f"{BASE}/api/v2/workspace/acme", **auth).json()
    url = (
        f"{BASE}/api/v3/secrets/raw?workspaceId={project['id']}&workspaceSlug=&environment=prod&secretPath=/app"
        "&expandSecretReferences=true&include_imports=true&recursive=false"
    )
    first = client.get(url, **auth)
    assert first.status_code == 200 and first.json()["secrets"][0]["secretValue"] == "s3"
    again = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"], **auth)
    assert again.status_code == 304 and again.content == b""
