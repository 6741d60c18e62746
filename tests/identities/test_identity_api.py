"""The native identity API: org admins manage identities and credentials, project managers give
them roles, everybody else is refused; client secrets and tokens are never stored or logged."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.apps import apps
from django.core.cache import cache

from audit.models import AuditEvent
from tests.identities.universal_support import bearer, login, make_org_admin, make_robot

ORG = "/api/v1/organizations/acme-org/identities/"


@pytest.fixture
def admin(api: Any, cast: Any) -> Any:
    return api(make_org_admin(cast))


def test_it_creates_configures_and_deletes_an_identity(admin: Any, cast: Any) -> None:
    created = admin.post(ORG, {"name": "ci-pipeline"}, format="json")
    assert created.status_code == 201
    identity = created.json()["id"]
    base = f"/api/v1/identities/{identity}/"
    assert admin.post(ORG, {"name": "ci-pipeline"}, format="json").status_code == 409

    attached = admin.put(base + "universal-auth/", {"accessTokenTTL": 600, "accessTokenMaxTTL": 1200}, format="json")
    assert attached.status_code == 201 and attached.json()["lockoutThreshold"] == 3
    lowered = admin.patch(base + "universal-auth/", {"accessTokenMaxTTL": 300}, format="json")
    assert lowered.status_code == 400 and "accessTokenMaxTTL" in lowered.json()["error"]["fields"]
    too_long = admin.patch(base + "universal-auth/", {"accessTokenMaxTTL": 31 * 86400}, format="json")
    assert too_long.status_code == 400
    bad_cidr = admin.patch(base + "universal-auth/", {"clientSecretTrustedIps": ["nope"]}, format="json")
    assert bad_cidr.status_code == 400
    assert admin.get(base + "universal-auth/").json()["accessTokenMaxTTL"] == 1200

    secret = admin.post(
        base + "universal-auth/client-secrets/", {"description": "azure pipeline", "numUsesLimit": 5}, format="json"
    )
    assert secret.status_code == 201 and len(secret.json()["clientSecret"]) == 64
    assert (
        admin.post(base + "universal-auth/client-secrets/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k-1").status_code
        == 400
    )  # a credential response is never stored for replay
    listed = admin.get(base + "universal-auth/client-secrets/").json()["clientSecrets"]
    assert [s["description"] for s in listed] == ["azure pipeline"]
    assert not {"clientSecret", "secretHash", "hash", "secret_hash"} & set(listed[0])
    assert listed[0]["clientSecretPrefix"] == secret.json()["clientSecret"][:4]

    added = admin.post("/api/v1/projects/acme/identities/", {"identityId": identity, "role": "dev-only"}, format="json")
    assert added.status_code == 201 and added.json()["role"] == "dev-only"  # custom roles too
    changed = admin.patch(f"/api/v1/projects/acme/identities/{identity}/", {"role": "member"}, format="json")
    assert changed.status_code == 200 and changed.json()["role"] == "member"
    assert admin.get(base).json()["projects"] == [
        {"project": "acme", "projectId": str(cast.project.public_id), "role": "member"}
    ]
    assert admin.get(ORG).json()["identities"][0]["authMethods"] == ["universal-auth"]
    assert admin.delete(f"/api/v1/projects/acme/identities/{identity}/").status_code == 204

    assert admin.delete(base).status_code == 204
    assert admin.get(base).status_code == 404
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "identity.created",
        "identity.universal_auth_attached",
        "identity.client_secret_created",
        "identity.membership_added",
        "identity.membership_role_changed",
        "identity.membership_removed",
        "identity.deleted",
    } <= actions


def test_it_lets_only_admins_grant_admin_and_only_managers_grant_roles(api: Any, cast: Any) -> None:
    robot = make_robot(cast)
    from secrets_app.models import ProjectMembership

    ProjectMembership.objects.filter(project=cast.project, user=cast.bob).update(builtin_role="admin")
    url = "/api/v1/projects/acme/identities/"
    other = make_robot(cast)
    other.identity.project_memberships.all().delete()
    assert (
        api(cast.dave)
        .post(url, {"identityId": str(other.identity.public_id), "role": "viewer"}, format="json")
        .status_code
        == 403
    )
    assert (
        api(cast.bob)
        .post(url, {"identityId": str(other.identity.public_id), "role": "admin"}, format="json")
        .status_code
        == 201
    )
    assert (
        api(cast.erin).patch(f"{url}{robot.identity.public_id}/", {"role": "admin"}, format="json").status_code == 403
    )
    mallory_robot = (
        api(cast.mallory)
        .post("/api/v1/organizations/evil-org/identities/", {"name": "evil-bot"}, format="json")
        .json()["id"]
    )
    refused = api(cast.bob).post(url, {"identityId": mallory_robot, "role": "viewer"}, format="json")
    assert refused.status_code == 404  # an identity of another organization


def _identity_endpoints(identity: str, secret_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    base = f"/api/v1/identities/{identity}/"
    return [
        ("get", ORG, {}),
        ("post", ORG, {"name": "x"}),
        ("get", base, {}),
        ("patch", base, {"name": "renamed"}),
        ("delete", base, {}),
        ("get", base + "universal-auth/", {}),
        ("put", base + "universal-auth/", {"accessTokenTTL": 60}),
        ("patch", base + "universal-auth/", {"accessTokenTTL": 60}),
        ("delete", base + "universal-auth/", {}),
        ("get", base + "universal-auth/client-secrets/", {}),
        ("post", base + "universal-auth/client-secrets/", {}),
        ("post", base + f"universal-auth/client-secrets/{secret_id}/revoke/", {}),
        ("post", base + "tokens/revoke/", {}),
    ]


def test_it_refuses_charlie_mallory_and_machine_tokens_on_every_identity_endpoint(api: Any, cast: Any) -> None:
    robot = make_robot(cast, role="admin")
    token = login(robot).json()["accessToken"]
    identity = str(robot.identity.public_id)
    callers = {
        "charlie": (api(cast.charlie), {403}),
        "mallory": (api(cast.mallory), {404}),
        "robot": (bearer(token), {403}),
    }
    for name, (client, expected) in callers.items():
        for method, url, body in _identity_endpoints(identity, robot.secret_row.pk):
            answer = getattr(client, method)(url, body, format="json")
            if name == "mallory" and url == ORG:
                expected_here = {404}
            else:
                expected_here = expected
            assert answer.status_code in expected_here, (name, method, url, answer.status_code)
        for method, url, body in [
            ("get", "/api/v1/projects/acme/identities/", {}),
            ("post", "/api/v1/projects/acme/identities/", {"identityId": identity, "role": "viewer"}),
            ("patch", f"/api/v1/projects/acme/identities/{identity}/", {"role": "viewer"}),
            ("delete", f"/api/v1/projects/acme/identities/{identity}/", {}),
        ]:
            answer = getattr(client, method)(url, body, format="json")
            if name == "robot":  # an admin there: it may list, never change its own role
                assert answer.status_code == (200 if method == "get" else 403), (name, method, url)
            else:
                assert answer.status_code == 404, (name, method, url)  # the project is invisible to them
    assert login(robot).status_code == 200  # nothing was changed by the refused calls
    assert AuditEvent.objects.filter(action="permission.denied", actor_label="charlie@example.com").exists()


def _every_stored_value() -> str:
    """Every row of every table (the audit log included), as text."""
    chunks = []
    for model in apps.get_models():
        for row in model.objects.all().values_list():
            chunks.append(repr(row))
    return "\n".join(chunks)


def test_it_never_stores_or_logs_client_secrets_or_tokens(admin: Any, cast: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    identity = admin.post(ORG, {"name": "canary-bot"}, format="json").json()["id"]
    base = f"/api/v1/identities/{identity}/"
    admin.put(base + "universal-auth/", {}, format="json")
    admin.post("/api/v1/projects/acme/identities/", {"identityId": identity, "role": "viewer"}, format="json")
    created = admin.post(base + "universal-auth/client-secrets/", {"description": "canary"}, format="json").json()
    client_secret, client_id = created["clientSecret"], created["clientId"]
    body = {"clientId": client_id, "clientSecret": client_secret}
    from rest_framework.test import APIClient

    token = APIClient().post("/api/v1/auth/universal-auth/login", body, format="json").json()["accessToken"]
    bearer(token).get("/api/v1/projects/acme/secrets/?environment=dev")
    APIClient().post("/api/v1/auth/token/renew", {"accessToken": token}, format="json")
    APIClient().post(
        "/api/v1/auth/universal-auth/login", {**body, "clientSecret": client_secret[:-1] + "x"}, format="json"
    )
    APIClient().post("/api/v1/auth/token/revoke", {"accessToken": token}, format="json")
    later = [admin.get(base + "universal-auth/client-secrets/"), admin.get(base), admin.get(base + "universal-auth/")]

    stored = _every_stored_value()
    signature = token.split(".")[2]
    for canary in (client_secret, token, signature, client_secret[4:]):
        assert canary not in stored
        assert canary not in caplog.text
        assert all(canary not in answer.content.decode() for answer in later)
    redis_values = _cache_dump()
    assert client_secret not in redis_values and signature not in redis_values


def _cache_dump() -> str:
    client = getattr(cache, "_cache", None)
    if client is None or not hasattr(client, "get_client"):
        return ""  # the file cache: nothing shared to inspect
    redis = client.get_client(write=False)
    return "\n".join(repr((key, redis.get(key))) for key in redis.scan_iter("*") if redis.type(key) == b"string")
