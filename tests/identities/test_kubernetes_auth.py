"""Kubernetes auth against a local TokenReview emulator (HTTPS, its own CA): allowed and refused
namespaces/names, ``status.error``, the reviewer refused, audiences, timeouts, sealed storage, the
login route, the configuration endpoint, and what the issued token may then read."""

from __future__ import annotations

import re
from typing import Any

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from secrets_app.errors import ValidationFailed
from secrets_app.identities.kubernetes_auth import kubernetes_auth_configure, kubernetes_auth_login
from secrets_app.identities.login_common import UPSTREAM_FAILED, LoginRefused
from secrets_app.models import IdentityProjectMembership, KubernetesAuth, MachineIdentity
from secrets_app.services.secrets import SecretInput, secret_create
from tests.emulators.kubernetes import KubernetesEmulator


def _configure(principal: Any, identity: MachineIdentity, k8s: KubernetesEmulator, **overrides: Any) -> Any:
    settings: dict[str, Any] = {
        "kubernetes_host": k8s.base_url,
        "ca_cert": k8s.ca_pem,
        "token_reviewer_jwt": k8s.add_reviewer(),
        "allowed_namespaces": "ci, apps",
        "allowed_names": "deployer,operator",
    }
    settings.update(overrides)
    return kubernetes_auth_configure(principal=principal, identity=identity, **settings)


def _login(identity: MachineIdentity, token: str) -> Any:
    return kubernetes_auth_login(identity_id=str(identity.public_id), jwt=token, ip="127.0.0.1")


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


def test_an_allowed_service_account_logs_in_and_reads_what_the_role_allows(
    cast: Any, robot: MachineIdentity, admin_principal: Any, k8s: KubernetesEmulator
) -> None:
    IdentityProjectMembership.objects.filter(identity=robot).update(builtin_role="member")
    secret_create(scope=cast.scope(cast.alice), environment="dev", path="/", item=SecretInput(key="DB", value="s3"))
    _configure(admin_principal, robot, k8s, access_token_ttl=120, access_token_max_ttl=240)
    reviewer = k8s.reviewer_tokens.copy().pop()
    token = k8s.add_service_account_token("ci", "deployer")
    issued = _login(robot, token)
    assert issued.expires_in == 120 and issued.max_ttl == 240 and issued.row.auth_method == "kubernetes-auth"

    [sent] = k8s.requests
    assert sent["path"] == "/apis/authentication.k8s.io/v1/tokenreviews"
    assert sent["authorization"] == f"Bearer {reviewer}"
    assert sent["body"] == {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.access_token}")
    value = client.get("/api/v1/projects/acme/secrets/DB/?environment=dev")
    assert value.status_code == 200 and value.json()["value"] == "s3"  # member: values
    assert client.get("/api/v1/projects/evil/secrets/?environment=dev").status_code == 404

    event = AuditEvent.objects.filter(action="identity.logged_in").get()
    assert event.metadata["method"] == "kubernetes-auth" and token not in str(event.metadata)


def test_namespaces_and_names_are_checked(
    robot: MachineIdentity, admin_principal: Any, k8s: KubernetesEmulator
) -> None:
    _configure(admin_principal, robot, k8s)
    assert _login(robot, k8s.add_service_account_token("apps", "operator"))
    _refused(robot, k8s.add_service_account_token("kube-system", "deployer"), 401, "namespace 'kube-system'")
    _refused(robot, k8s.add_service_account_token("ci", "default"), 401, "service account 'default'")
    _refused(robot, k8s.add_service_account_token("cii", "deployer"), 401, "namespace")  # exact, not prefix
    _configure(admin_principal, robot, k8s, allowed_namespaces="", allowed_names="")  # empty: any
    assert _login(robot, k8s.add_service_account_token("kube-system", "default"))
    failures = AuditEvent.objects.filter(action="identity.login_failed")
    assert failures.count() == 3 and all("401" in event.metadata["reason"] for event in failures)


def test_status_error_is_401_and_the_token_is_never_audited(
    robot: MachineIdentity, admin_principal: Any, k8s: KubernetesEmulator
) -> None:
    _configure(admin_principal, robot, k8s)
    unknown = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXRoYXQtaXMtbm90LXZhbGlk"
    refusal = _refused(robot, unknown, 401, "invalid bearer token")
    assert unknown not in refusal.message
    [event] = AuditEvent.objects.filter(action="identity.login_failed")
    assert "token lookup failed" in event.metadata["reason"] and unknown not in str(event.metadata)


def test_a_refused_reviewer_is_a_clear_502(
    robot: MachineIdentity, admin_principal: Any, k8s: KubernetesEmulator
) -> None:
    _configure(admin_principal, robot, k8s)
    token = k8s.add_service_account_token("ci", "deployer")
    k8s.refuse_reviewer = 403
    _refused(robot, token, 502, "refused the token reviewer \\(HTTP 403\\).*system:auth-delegator")
    k8s.refuse_reviewer = 401
    _refused(robot, token, 502, "refused the token reviewer \\(HTTP 401\\)")
    k8s.refuse_reviewer = None
    _configure(admin_principal, robot, k8s, token_reviewer_jwt="eyJ.unknown.reviewer")
    _refused(robot, token, 502, "reviewer")


def test_without_a_reviewer_the_token_reviews_itself(
    robot: MachineIdentity, admin_principal: Any, k8s: KubernetesEmulator
) -> None:
    _configure(admin_principal, robot, k8s, token_reviewer_jwt="")
    delegator = k8s.add_service_account_token("ci", "operator", auth_delegator=True)
    assert _login(robot, delegator)
    assert k8s.requests[-1]["authorization"] == f"Bearer {delegator}"
    plain = k8s.add_service_account_token("ci", "deployer")
    _refused(robot, plain, 401, "system:auth-delegator")


def test_the_allowed_audience_is_requested_and_checked(
    robot: MachineIdentity, admin_principal: Any, k8s: KubernetesEmulator
) -> None:
    _configure(admin_principal, robot, k8s, allowed_audience="strongroom")
    assert _login(robot, k8s.add_service_account_token("ci", "deployer", audiences=["strongroom", "vault"]))
    assert k8s.requests[-1]["body"]["spec"]["audiences"] == ["strongroom"]
    _refused(robot, k8s.add_service_account_token("ci", "deployer"), 401, "token audiences")
    k8s.audience_aware = False  # success without status.audiences: the audience is not confirmed
    _refused(robot, k8s.add_service_account_token("ci", "deployer", audiences=["strongroom"]), 401, "audience")


def test_tls_timeouts_and_unreachable_servers(
    robot: MachineIdentity, admin_principal: Any, k8s: KubernetesEmulator, monkeypatch: Any
) -> None:
    token = k8s.add_service_account_token("ci", "deployer")
    _refused(robot, token, 404, "no Kubernetes auth")
    _configure(admin_principal, robot, k8s, ca_cert="")  # self-signed, and no CA to trust it
    _refused(robot, token, 502, "could not be reached \\(SSLError\\)")
    _configure(admin_principal, robot, k8s, kubernetes_host="https://127.0.0.1:1")
    _refused(robot, token, 502, "could not be reached")
    _configure(admin_principal, robot, k8s)
    monkeypatch.setattr("secrets_app.identities.kubernetes_auth.HTTP_TIMEOUT_SECONDS", 0.3)
    k8s.delay = 1.0
    _refused(robot, token, 502, "in time")  # the same answer as unreachable (no port-scan oracle)


def test_the_reviewer_jwt_and_ca_are_sealed_and_write_only(
    robot: MachineIdentity, org_admin: Any, admin_principal: Any, k8s: KubernetesEmulator, api: Any, cast: Any
) -> None:
    url = f"/api/v1/identities/{robot.public_id}/kubernetes-auth/"
    reviewer = k8s.add_reviewer()
    admin = api(org_admin)
    body = {
        "kubernetesHost": k8s.base_url,
        "caCert": k8s.ca_pem,
        "tokenReviewerJwt": reviewer,
        "allowedNamespaces": "ci",
        "allowedNames": "deployer",
        "accessTokenTTL": 300,
    }
    saved = admin.put(url, body, format="json")
    assert saved.status_code == 200, saved.content
    answer = saved.json()
    assert answer["caCertConfigured"] and answer["tokenReviewerJwtConfigured"]
    assert reviewer not in saved.content.decode() and "BEGIN CERTIFICATE" not in saved.content.decode()
    config = KubernetesAuth.objects.get(identity=robot)
    assert reviewer.encode() not in bytes(config.token_reviewer_jwt_ciphertext)
    assert b"BEGIN CERTIFICATE" not in bytes(config.ca_cert_ciphertext)
    event = AuditEvent.objects.filter(action="identity.kubernetes_auth_configured").get()
    assert reviewer not in str(event.metadata) and event.metadata["token_reviewer_jwt"] == "set"

    # Omitted: kept. The login route works with what was stored.
    assert admin.put(url, {"kubernetesHost": k8s.base_url, "allowedNamespaces": "ci"}, format="json").status_code == 200
    token = k8s.add_service_account_token("ci", "deployer")
    login = APIClient().post(
        "/api/v1/auth/kubernetes-auth/login", {"identityId": str(robot.public_id), "jwt": token}, format="json"
    )
    assert login.status_code == 200 and login.json()["tokenType"] == "Bearer", login.content
    assert k8s.requests[-1]["authorization"] == f"Bearer {reviewer}"
    refused = APIClient().post(
        "/api/v1/auth/kubernetes-auth/login", {"identityId": str(robot.public_id), "jwt": "x.y.z"}, format="json"
    )
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"

    # "" clears; a plain org member may not even read the configuration; another org sees nothing.
    cleared = admin.put(url, {"kubernetesHost": k8s.base_url, "tokenReviewerJwt": ""}, format="json")
    assert cleared.json()["tokenReviewerJwtConfigured"] is False and cleared.json()["caCertConfigured"] is True
    assert api(cast.alice).get(url).status_code == 403
    assert api(cast.mallory).put(url, body, format="json").status_code == 404
    assert admin.put(url, {**body, "kubernetesHost": "http://k8s.example"}, format="json").status_code == 400
    assert admin.put(url, {**body, "caCert": "nope"}, format="json").status_code == 400
    assert admin.delete(url).status_code == 204 and admin.get(url).status_code == 404


def test_the_infisical_compatible_login_routes_use_these_services(
    robot: MachineIdentity, admin_principal: Any, k8s: KubernetesEmulator
) -> None:
    _configure(admin_principal, robot, k8s)
    token = k8s.add_service_account_token("ci", "operator")
    client = APIClient()
    url = "/compat/infisical/api/v1/auth/kubernetes-auth/login/"
    answer = client.post(url, {"identityId": str(robot.public_id), "jwt": token}, format="json")
    assert answer.status_code == 200, answer.content
    assert set(answer.json()) == {"accessToken", "expiresIn", "accessTokenMaxTTL", "tokenType"}
    refused = client.post(url, {"identityId": str(robot.public_id), "jwt": "x.y.z"}, format="json")
    assert refused.status_code == 401 and refused.json()["statusCode"] == 401
    other = k8s.add_service_account_token("kube-system", "operator")
    assert client.post(url, {"identityId": str(robot.public_id), "jwt": other}, format="json").status_code == 401


@pytest.mark.parametrize("reviewer", ["07401b.f395accd246ae52d", "static-token-0f9a3c5e7d1b"])
def test_an_opaque_reviewer_token_is_accepted_and_the_token_review_decides(
    robot: MachineIdentity, admin_principal: Any, k8s: KubernetesEmulator, reviewer: str
) -> None:
    # Bootstrap (id.secret) and static bearer tokens are not JWTs; the API server accepts them.
    k8s.reviewer_tokens.add(reviewer)
    _configure(admin_principal, robot, k8s, token_reviewer_jwt=reviewer)
    assert _login(robot, k8s.add_service_account_token("ci", "deployer"))
    assert k8s.requests[-1]["authorization"] == f"Bearer {reviewer}"
    with pytest.raises(ValidationFailed) as caught:
        _configure(admin_principal, robot, k8s, token_reviewer_jwt="two words")
    assert "tokenReviewerJwt" in caught.value.fields
