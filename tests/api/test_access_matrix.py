"""Who may call what: every route refuses anonymous callers (401), people outside the project get
404 for project-scoped routes (as if it did not exist), and every route is in the table below."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import URLPattern, URLResolver

from tests.api.conftest import error_of

# (method, route pattern, concrete path under /api/v1/, body). Bodies are valid enough to get past
# parsing, so a 404 proves the project check, not a validation error.
P = "projects/acme/"
IDENTITY = "00000000-0000-4000-8000-000000000000"
IDN = f"identities/{IDENTITY}/"
ENV = {"environment": "dev", "path": "/"}
PROJECT_ROUTES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("get", "projects/<str:project>/", P, None),
    ("patch", "projects/<str:project>/", P, {"name": "x"}),
    ("delete", "projects/<str:project>/", P, None),
    ("get", "projects/<str:project>/environments/", P + "environments/", None),
    ("post", "projects/<str:project>/environments/", P + "environments/", {"slug": "qa"}),
    ("post", "projects/<str:project>/environments/reorder/", P + "environments/reorder/", {"order": ["dev"]}),
    # reorder/ and bulk/ shadow an environment or secret bearing that name; they still reach it.
    ("patch", "projects/<str:project>/environments/reorder/", P + "environments/reorder/", {"name": "x"}),
    ("delete", "projects/<str:project>/environments/reorder/", P + "environments/reorder/", None),
    ("patch", "projects/<str:project>/environments/<str:environment>/", P + "environments/dev/", {"name": "x"}),
    ("delete", "projects/<str:project>/environments/<str:environment>/", P + "environments/dev/", None),
    ("get", "projects/<str:project>/folders/", P + "folders/?environment=dev&path=/", None),
    ("post", "projects/<str:project>/folders/", P + "folders/", {**ENV, "name": "x"}),
    ("patch", "projects/<str:project>/folders/", P + "folders/?environment=dev&path=/backend", {"name": "x"}),
    ("delete", "projects/<str:project>/folders/", P + "folders/?environment=dev&path=/backend", None),
    ("get", "projects/<str:project>/secrets/", P + "secrets/?environment=dev", None),
    ("post", "projects/<str:project>/secrets/", P + "secrets/", {**ENV, "key": "K", "value": "v"}),
    (
        "post",
        "projects/<str:project>/secrets/bulk/",
        P + "secrets/bulk/",
        {**ENV, "secrets": [{"key": "K", "value": "v"}]},
    ),
    ("get", "projects/<str:project>/secrets/bulk/", P + "secrets/bulk/?environment=dev", None),
    ("patch", "projects/<str:project>/secrets/bulk/", P + "secrets/bulk/?environment=dev", {"value": "v"}),
    ("delete", "projects/<str:project>/secrets/bulk/", P + "secrets/bulk/?environment=dev", None),
    ("get", "projects/<str:project>/secrets/<str:key>/", P + "secrets/DB_PASSWORD/?environment=dev", None),
    ("patch", "projects/<str:project>/secrets/<str:key>/", P + "secrets/DB_PASSWORD/?environment=dev", {"value": "v"}),
    ("delete", "projects/<str:project>/secrets/<str:key>/", P + "secrets/DB_PASSWORD/?environment=dev", None),
    (
        "get",
        "projects/<str:project>/secrets/<str:key>/versions/",
        P + "secrets/DB_PASSWORD/versions/?environment=dev",
        None,
    ),
    (
        "post",
        "projects/<str:project>/secrets/<str:key>/rollback/",
        P + "secrets/DB_PASSWORD/rollback/",
        {**ENV, "version": 1},
    ),
    (
        "put",
        "projects/<str:project>/secrets/<str:key>/rotation-policy/",
        P + "secrets/DB_PASSWORD/rotation-policy/?environment=dev",
        {"intervalDays": 30},
    ),
    (
        "delete",
        "projects/<str:project>/secrets/<str:key>/rotation-policy/",
        P + "secrets/DB_PASSWORD/rotation-policy/?environment=dev",
        None,
    ),
    ("get", "projects/<str:project>/secrets-due/", P + "secrets-due/", None),
    ("get", "projects/<str:project>/commits/", P + "commits/?environment=dev", None),
    ("post", "projects/<str:project>/commits/<int:id>/rollback/", P + "commits/1/rollback/", ENV),
    ("get", "projects/<str:project>/imports/", P + "imports/?environment=dev", None),
    ("post", "projects/<str:project>/imports/", P + "imports/", {**ENV, "sourceEnvironment": "staging"}),
    ("post", "projects/<str:project>/imports/reorder/", P + "imports/reorder/", {**ENV, "order": []}),
    ("delete", "projects/<str:project>/imports/<int:id>/", P + "imports/1/", None),
    ("get", "projects/<str:project>/tags/", P + "tags/", None),
    ("post", "projects/<str:project>/tags/", P + "tags/", {"slug": "pci"}),
    ("delete", "projects/<str:project>/tags/<str:slug>/", P + "tags/pci/", None),
    ("get", "projects/<str:project>/members/", P + "members/", None),
    ("post", "projects/<str:project>/members/", P + "members/", {"email": "charlie@example.com", "role": "admin"}),
    ("patch", "projects/<str:project>/members/<int:id>/", P + "members/1/", {"role": "admin"}),
    ("delete", "projects/<str:project>/members/<int:id>/", P + "members/1/", None),
    ("get", "projects/<str:project>/roles/", P + "roles/", None),
    ("post", "projects/<str:project>/roles/", P + "roles/", {"slug": "r", "rules": []}),
    ("post", "projects/<str:project>/roles/<str:slug>/", P + "roles/r/", {"rules": []}),
    ("patch", "projects/<str:project>/roles/<str:slug>/", P + "roles/dev-only/", {"name": "x"}),
    ("delete", "projects/<str:project>/roles/<str:slug>/", P + "roles/dev-only/", None),
    ("get", "projects/<str:project>/identities/", P + "identities/", None),
    ("post", "projects/<str:project>/identities/", P + "identities/", {"identityId": IDENTITY, "role": "viewer"}),
    ("patch", "projects/<str:project>/identities/<str:identity_id>/", P + f"identities/{IDENTITY}/", {"role": "admin"}),
    ("delete", "projects/<str:project>/identities/<str:identity_id>/", P + f"identities/{IDENTITY}/", None),
    ("get", "projects/<str:project>/groups/", P + "groups/", None),
    ("post", "projects/<str:project>/groups/", P + "groups/", {"groupId": "ops", "role": "viewer"}),
    ("patch", "projects/<str:project>/groups/<str:group>/", P + "groups/ops/", {"role": "admin"}),
    ("delete", "projects/<str:project>/groups/<str:group>/", P + "groups/ops/", None),
]
GLOBAL_ROUTES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("get", "projects/", "projects/", None),
    ("post", "projects/", "projects/", {"slug": "new", "name": "New"}),
    ("get", "audit-events/", "audit-events/", None),
    ("get", "audit-events/export/", "audit-events/export/?format=jsonl", None),
    ("get", "organizations/<str:organization>/audit-events/", "organizations/acme-org/audit-events/", None),
    (
        "get",
        "organizations/<str:organization>/audit-events/export/",
        "organizations/acme-org/audit-events/export/?format=csv",
        None,
    ),
    ("get", "organizations/<str:organization>/audit-settings/", "organizations/acme-org/audit-settings/", None),
    (
        "patch",
        "organizations/<str:organization>/audit-settings/",
        "organizations/acme-org/audit-settings/",
        {"retentionDays": 400},
    ),
    ("get", "tokens/", "tokens/", None),
    ("post", "tokens/", "tokens/", {"name": "ci"}),
    ("delete", "tokens/<int:id>/", "tokens/1/", None),
    ("get", "me/", "me/", None),
    ("post", "me/password/", "me/password/", {"currentPassword": "x", "newPassword": "y"}),
    ("get", "organizations/<str:organization>/people/", "organizations/acme-org/people/", None),
    ("post", "organizations/<str:organization>/people/", "organizations/acme-org/people/", {"email": "n@example.com"}),
    (
        "patch",
        "organizations/<str:organization>/people/<int:id>/",
        "organizations/acme-org/people/1/",
        {"role": "admin"},
    ),
    (
        "post",
        "organizations/<str:organization>/people/<int:id>/deactivate/",
        "organizations/acme-org/people/1/deactivate/",
        {},
    ),
    (
        "post",
        "organizations/<str:organization>/people/<int:id>/unlock/",
        "organizations/acme-org/people/1/unlock/",
        {},
    ),
    ("get", "organizations/<str:organization>/invitations/", "organizations/acme-org/invitations/", None),
    (
        "post",
        "organizations/<str:organization>/invitations/",
        "organizations/acme-org/invitations/",
        {"email": "n@example.com"},
    ),
    (
        "delete",
        "organizations/<str:organization>/invitations/<uuid:invitation>/",
        f"organizations/acme-org/invitations/{IDENTITY}/",
        None,
    ),
    (
        "post",
        "organizations/<str:organization>/invitations/<uuid:invitation>/resend/",
        f"organizations/acme-org/invitations/{IDENTITY}/resend/",
        {},
    ),
    ("get", "organizations/<str:organization>/sso/", "organizations/acme-org/sso/", None),
    (
        "put",
        "organizations/<str:organization>/sso/",
        "organizations/acme-org/sso/",
        {"issuer": "https://x.test", "clientId": "x"},
    ),
    ("delete", "organizations/<str:organization>/sso/", "organizations/acme-org/sso/", None),
    ("get", "organizations/<str:organization>/identities/", "organizations/acme-org/identities/", None),
    ("get", "organizations/<str:organization>/scim-tokens/", "organizations/acme-org/scim-tokens/", None),
    ("post", "organizations/<str:organization>/scim-tokens/", "organizations/acme-org/scim-tokens/", {"name": "x"}),
    ("delete", "organizations/<str:organization>/scim-tokens/<int:id>/", "organizations/acme-org/scim-tokens/1/", None),
    ("post", "organizations/<str:organization>/identities/", "organizations/acme-org/identities/", {"name": "x"}),
    ("get", "organizations/<str:organization>/groups/", "organizations/acme-org/groups/", None),
    ("post", "organizations/<str:organization>/groups/", "organizations/acme-org/groups/", {"slug": "ops"}),
    ("get", "organizations/<str:organization>/groups/<str:group>/", "organizations/acme-org/groups/ops/", None),
    (
        "patch",
        "organizations/<str:organization>/groups/<str:group>/",
        "organizations/acme-org/groups/ops/",
        {"name": "x"},
    ),
    ("delete", "organizations/<str:organization>/groups/<str:group>/", "organizations/acme-org/groups/ops/", None),
    (
        "post",
        "organizations/<str:organization>/groups/<str:group>/members/",
        "organizations/acme-org/groups/ops/members/",
        {"email": "charlie@example.com"},
    ),
    (
        "delete",
        "organizations/<str:organization>/groups/<str:group>/members/<int:user_id>/",
        "organizations/acme-org/groups/ops/members/1/",
        None,
    ),
    ("get", "identities/<str:identity>/", IDN, None),
    ("patch", "identities/<str:identity>/", IDN, {"name": "x"}),
    ("delete", "identities/<str:identity>/", IDN, None),
    ("get", "identities/<str:identity>/universal-auth/", IDN + "universal-auth/", None),
    ("put", "identities/<str:identity>/universal-auth/", IDN + "universal-auth/", {}),
    ("patch", "identities/<str:identity>/universal-auth/", IDN + "universal-auth/", {}),
    ("delete", "identities/<str:identity>/universal-auth/", IDN + "universal-auth/", None),
    ("get", "identities/<str:identity>/universal-auth/client-secrets/", IDN + "universal-auth/client-secrets/", None),
    ("post", "identities/<str:identity>/universal-auth/client-secrets/", IDN + "universal-auth/client-secrets/", {}),
    (
        "post",
        "identities/<str:identity>/universal-auth/client-secrets/<int:secret_id>/revoke/",
        IDN + "universal-auth/client-secrets/1/revoke/",
        {},
    ),
    ("post", "identities/<str:identity>/tokens/revoke/", IDN + "tokens/revoke/", {}),
    ("get", "identities/<str:identity>/jwt-auth/", IDN + "jwt-auth/", None),
    ("put", "identities/<str:identity>/jwt-auth/", IDN + "jwt-auth/", {}),
    ("delete", "identities/<str:identity>/jwt-auth/", IDN + "jwt-auth/", None),
    ("get", "identities/<str:identity>/oidc-auth/", IDN + "oidc-auth/", None),
    ("put", "identities/<str:identity>/oidc-auth/", IDN + "oidc-auth/", {}),
    ("delete", "identities/<str:identity>/oidc-auth/", IDN + "oidc-auth/", None),
    ("get", "identities/<str:identity>/kubernetes-auth/", IDN + "kubernetes-auth/", None),
    ("put", "identities/<str:identity>/kubernetes-auth/", IDN + "kubernetes-auth/", {}),
    ("delete", "identities/<str:identity>/kubernetes-auth/", IDN + "kubernetes-auth/", None),
]
ALL_ROUTES = PROJECT_ROUTES + GLOBAL_ROUTES
# Machine login routes take no authentication (rate limited per IP instead): tests/identities/.
PUBLIC_ROUTES = [
    ("post", "auth/universal-auth/login"),
    ("post", "auth/token/renew"),
    ("post", "auth/token/revoke"),
    ("post", "auth/jwt-auth/login"),
    ("post", "auth/oidc-auth/login"),
    ("post", "auth/kubernetes-auth/login"),
]


def _call(client: Any, method: str, path: str, body: dict[str, Any] | None) -> Any:
    return (
        getattr(client, method)(f"/api/v1/{path}", body, format="json")
        if body is not None
        else getattr(client, method)(f"/api/v1/{path}")
    )


def _refused_to_outsiders(seeded: Any, api: Any, method: str, path: str, body: Any, *, charlie: int) -> None:
    """Anonymous: 401. charlie (a member of acme-org): *charlie* — 403 where he is refused an
    organization's setting, 404 where the project is not his. mallory (another organization): 404."""
    anonymous = _call(api(), method, path, body)
    refused = _call(api(seeded.charlie), method, path, body)
    mallory = _call(api(seeded.mallory), method, path, body)

    assert anonymous.status_code == 401
    code = "permission_denied" if charlie == 403 else "not_found"
    assert refused.status_code == charlie and error_of(refused)["code"] == code, refused.content
    assert mallory.status_code == 404 and error_of(mallory)["code"] == "not_found", mallory.content


def _v1_routes() -> set[tuple[str, str]]:
    """(method, pattern) of every route under /api/v1/, from the URLconf itself."""
    from secrets_app.api import urls

    found: set[tuple[str, str]] = set()

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                view = pattern.callback.view_class  # type: ignore[attr-defined]
                for method in ("get", "post", "patch", "put", "delete"):
                    if hasattr(view, method):
                        found.add((method, prefix + str(pattern.pattern)))

    walk(urls.v1_routes, "")
    return found


def test_it_covers_every_route_in_the_access_table() -> None:
    assert _v1_routes() == {(method, pattern) for method, pattern, _, _ in ALL_ROUTES} | set(PUBLIC_ROUTES)


@pytest.mark.parametrize(("method", "pattern"), PUBLIC_ROUTES)
def test_it_serves_machine_login_routes_without_authentication(db: None, api: Any, method: str, pattern: str) -> None:
    response = _call(api(), method, pattern, {})

    assert response.status_code == 400  # parsed (no credentials given), not refused as unauthenticated
    assert error_of(response)["code"] == "validation_error"


@pytest.mark.parametrize(
    ("method", "pattern", "path", "body"), ALL_ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ALL_ROUTES]
)
def test_it_refuses_anonymous_callers_with_401(
    seeded: Any, api: Any, method: str, pattern: str, path: str, body: Any
) -> None:
    response = _call(api(), method, path, body)

    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "pattern", "path", "body"), ALL_ROUTES[:3], ids=["get", "patch", "delete"])
def test_it_refuses_an_unknown_or_revoked_token_with_401(
    seeded: Any, api: Any, method: str, pattern: str, path: str, body: Any
) -> None:
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer srp_not-a-real-token")

    response = _call(client, method, path, body)

    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


@pytest.mark.parametrize("who", ["charlie", "mallory"])
@pytest.mark.parametrize(
    ("method", "pattern", "path", "body"), PROJECT_ROUTES, ids=[f"{m} {p}" for m, p, _, _ in PROJECT_ROUTES]
)
def test_it_answers_404_to_people_outside_the_project(
    seeded: Any, api: Any, who: str, method: str, pattern: str, path: str, body: Any
) -> None:
    response = _call(api(getattr(seeded, who)), method, path, body)

    assert response.status_code == 404, response.content
    assert error_of(response)["code"] == "not_found"


@pytest.mark.parametrize("who", ["charlie", "mallory"])
def test_it_answers_404_by_project_id_too(seeded: Any, api: Any, who: str) -> None:
    response = api(getattr(seeded, who)).get(f"/api/v1/projects/{seeded.project.public_id}/secrets/?environment=dev")

    assert response.status_code == 404


def test_it_lets_outsiders_see_only_their_own_projects_tokens_and_identity(seeded: Any, api: Any) -> None:
    charlie, mallory = api(seeded.charlie), api(seeded.mallory)

    assert charlie.get("/api/v1/projects/").json() == {"projects": []}
    assert [p["slug"] for p in mallory.get("/api/v1/projects/").json()["projects"]] == ["evil"]
    assert charlie.get("/api/v1/me/").json()["email"] == "charlie@example.com"
    alice_token = api(seeded.alice).get("/api/v1/tokens/").json()["tokens"][0]["id"]
    assert charlie.delete(f"/api/v1/tokens/{alice_token}/").status_code == 404
    assert api(seeded.alice).get("/api/v1/tokens/").json()["tokens"][0]["revokedAt"] is None


def test_it_refuses_charlie_the_audit_log_and_mallory_acmes_events(seeded: Any, api: Any) -> None:
    assert api(seeded.charlie).get("/api/v1/audit-events/").status_code == 403
    assert api(seeded.mallory).get("/api/v1/audit-events/?project=acme").status_code == 404
    events = api(seeded.mallory).get("/api/v1/audit-events/?limit=500").json()["results"]
    assert events and all(event["project"] is None or event["project"]["slug"] == "evil" for event in events)
    assert not any("alice@example.com" == event["actor"]["label"] for event in events)


def test_it_does_not_let_mallory_create_a_project_in_acmes_organization(seeded: Any, api: Any) -> None:
    response = api(seeded.mallory).post(
        "/api/v1/projects/", {"slug": "x", "name": "X", "organization": "acme-org"}, format="json"
    )

    assert response.status_code == 404
    assert error_of(response)["fields"] == {"organization": ["not found"]}


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_it_refuses_the_sso_configuration_to_charlie_and_mallory(seeded: Any, api: Any, method: str) -> None:
    body = {"issuer": "https://idp.example.com", "clientId": "x", "clientSecret": "y", "allowedDomains": ["x.test"]}
    path = "organizations/acme-org/sso/"

    charlie = _call(api(seeded.charlie), method, path, body if method == "put" else None)
    mallory = _call(api(seeded.mallory), method, path, body if method == "put" else None)

    assert charlie.status_code == 403 and error_of(charlie)["code"] == "permission_denied"
    assert mallory.status_code == 404


# --- routes served outside secrets_app's URLconf (config/urls.py), org-admin only -----------------
NOTIFICATION_CHANNEL = "00000000-0000-4000-8000-000000000001"
NOTIFICATION_ROUTES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("get", "notification-channels/", "notification-channels/", None),
    ("post", "notification-channels/", "notification-channels/", {"kind": "email", "name": "x", "config": {"addresses": ["a@example.com"]}}),
    ("get", "notification-channels/<str:channel>/", f"notification-channels/{NOTIFICATION_CHANNEL}/", None),
    ("patch", "notification-channels/<str:channel>/", f"notification-channels/{NOTIFICATION_CHANNEL}/", {"name": "x"}),
    ("delete", "notification-channels/<str:channel>/", f"notification-channels/{NOTIFICATION_CHANNEL}/", None),
    ("post", "notification-channels/<str:channel>/test/", f"notification-channels/{NOTIFICATION_CHANNEL}/test/", {}),
    ("get", "notification-deliveries/", "notification-deliveries/?status=failed", None),
]  # fmt: skip


def test_it_covers_every_notification_route() -> None:
    from django.urls import get_resolver

    found: set[tuple[str, str]] = set()

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and prefix.startswith("api/v1/notification-"):
                view = pattern.callback.view_class  # type: ignore[attr-defined]
                for method in ("get", "post", "patch", "put", "delete"):
                    if hasattr(view, method):
                        found.add((method, (prefix + str(pattern.pattern)).removeprefix("api/v1/")))

    walk(get_resolver().url_patterns, "")
    assert found == {(method, pattern) for method, pattern, _, _ in NOTIFICATION_ROUTES}


@pytest.mark.parametrize(
    ("method", "pattern", "path", "body"), NOTIFICATION_ROUTES, ids=[f"{m} {p}" for m, p, _, _ in NOTIFICATION_ROUTES]
)
def test_it_refuses_notification_routes_to_anonymous_and_non_admins(
    seeded: Any, api: Any, method: str, pattern: str, path: str, body: Any
) -> None:
    anonymous = _call(api(), method, path, body)
    charlie = _call(api(seeded.charlie), method, path, body)

    assert anonymous.status_code == 401
    # Lists and creation: 403 (charlie administers no organization); a channel: 404, as if missing.
    assert charlie.status_code == (404 if "<str:channel>" in pattern else 403), charlie.content


# --- audit streams (config/urls.py): org admins only; charlie is a member of acme-org (403),
# mallory belongs to another organization (404, as if acme-org did not exist) -----------------------
AUDIT_STREAM = "00000000-0000-4000-8000-000000000002"
AS = "organizations/<str:organization>/audit-streams/"
AS_PATH = "organizations/acme-org/audit-streams/"
AUDIT_STREAM_ROUTES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("get", AS, AS_PATH, None),
    ("post", AS, AS_PATH, {"kind": "webhook", "name": "x", "config": {"url": "https://siem.example.com/"}}),
    ("get", AS + "<str:stream>/", f"{AS_PATH}{AUDIT_STREAM}/", None),
    ("patch", AS + "<str:stream>/", f"{AS_PATH}{AUDIT_STREAM}/", {"name": "x"}),
    ("delete", AS + "<str:stream>/", f"{AS_PATH}{AUDIT_STREAM}/", None),
    ("post", AS + "<str:stream>/test/", f"{AS_PATH}{AUDIT_STREAM}/test/", {}),
    ("post", AS + "<str:stream>/pause/", f"{AS_PATH}{AUDIT_STREAM}/pause/", {}),
    ("post", AS + "<str:stream>/resume/", f"{AS_PATH}{AUDIT_STREAM}/resume/", {}),
    ("post", AS + "<str:stream>/replay/", f"{AS_PATH}{AUDIT_STREAM}/replay/", {"fromEventId": 1}),
    ("get", AS + "<str:stream>/parked/", f"{AS_PATH}{AUDIT_STREAM}/parked/", None),
]  # fmt: skip
AUDIT_STREAM_KIND_ROUTES = [("get", "audit-stream-kinds/", "audit-stream-kinds/", None)]


def test_it_covers_every_audit_stream_route() -> None:
    from tests.audit.streams.management.routes import audit_stream_api_routes

    assert audit_stream_api_routes() == {
        (method, pattern) for method, pattern, _, _ in AUDIT_STREAM_ROUTES + AUDIT_STREAM_KIND_ROUTES
    }


@pytest.mark.parametrize(
    ("method", "pattern", "path", "body"), AUDIT_STREAM_ROUTES, ids=[f"{m} {p}" for m, p, _, _ in AUDIT_STREAM_ROUTES]
)
def test_it_refuses_audit_stream_routes_to_anonymous_members_and_outsiders(
    seeded: Any, api: Any, method: str, pattern: str, path: str, body: Any
) -> None:
    _refused_to_outsiders(seeded, api, method, path, body, charlie=403)


def test_it_lists_audit_stream_kinds_to_any_signed_in_caller_only(seeded: Any, api: Any) -> None:
    assert api().get("/api/v1/audit-stream-kinds/").status_code == 401
    assert api(seeded.charlie).get("/api/v1/audit-stream-kinds/").status_code == 200


# --- dynamic secrets and leases (config/urls.py): charlie and mallory do not see the project (404);
# the target allowlist is for org admins: charlie (a member of acme-org) 403, mallory 404 ------------
DYNAMIC_SECRET = "00000000-0000-4000-8000-000000000003"
LEASE = "00000000-0000-4000-8000-000000000004"
DS = "projects/<str:project>/dynamic-secrets/"
LS = "projects/<str:project>/leases/"
DYNAMIC_ROUTES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("get", DS, P + "dynamic-secrets/?environment=dev&path=/", None),
    ("post", DS, P + "dynamic-secrets/", {**ENV, "name": "db", "provider": "postgresql", "config": {}, "credentials": {}}),
    ("get", DS + "<str:secret>/", f"{P}dynamic-secrets/{DYNAMIC_SECRET}/", None),
    ("patch", DS + "<str:secret>/", f"{P}dynamic-secrets/{DYNAMIC_SECRET}/", {"defaultTTL": "1h"}),
    ("delete", DS + "<str:secret>/", f"{P}dynamic-secrets/{DYNAMIC_SECRET}/", None),
    ("get", DS + "<str:secret>/leases/", f"{P}dynamic-secrets/{DYNAMIC_SECRET}/leases/", None),
    ("post", DS + "<str:secret>/leases/", f"{P}dynamic-secrets/{DYNAMIC_SECRET}/leases/", {}),
    ("get", LS, P + "leases/", None),
    ("get", LS + "<str:lease>/", f"{P}leases/{LEASE}/", None),
    ("post", LS + "<str:lease>/renew/", f"{P}leases/{LEASE}/renew/", {}),
    ("post", LS + "<str:lease>/revoke/", f"{P}leases/{LEASE}/revoke/", {}),
    ("post", LS + "<str:lease>/force-revoke/", f"{P}leases/{LEASE}/force-revoke/", {}),
]  # fmt: skip
DT = "organizations/<str:organization>/dynamic-secret-targets/"
DYNAMIC_TARGET_ROUTES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("get", DT, "organizations/acme-org/dynamic-secret-targets/", None),
    ("put", DT, "organizations/acme-org/dynamic-secret-targets/", {"entries": ["10.0.0.0/8"]}),
]


def test_it_covers_every_dynamic_secret_route() -> None:
    from tests.dynamic.routes import dynamic_api_routes

    assert dynamic_api_routes() == {
        (method, pattern) for method, pattern, _, _ in DYNAMIC_ROUTES + DYNAMIC_TARGET_ROUTES
    }


@pytest.mark.parametrize(
    ("method", "pattern", "path", "body"), DYNAMIC_ROUTES, ids=[f"{m} {p}" for m, p, _, _ in DYNAMIC_ROUTES]
)
def test_it_refuses_dynamic_secret_routes_to_anonymous_and_outsiders(
    seeded: Any, api: Any, method: str, pattern: str, path: str, body: Any
) -> None:
    _refused_to_outsiders(seeded, api, method, path, body, charlie=404)


@pytest.mark.parametrize(
    ("method", "pattern", "path", "body"), DYNAMIC_TARGET_ROUTES, ids=[m for m, _, _, _ in DYNAMIC_TARGET_ROUTES]
)
def test_it_refuses_the_dynamic_target_allowlist_to_anonymous_members_and_outsiders(
    seeded: Any, api: Any, method: str, pattern: str, path: str, body: Any
) -> None:
    _refused_to_outsiders(seeded, api, method, path, body, charlie=403)


# --- run-scoped leases (config/urls.py): the Azure DevOps run hook is configured by org admins
# (charlie, a member of acme-org: 403; mallory: 404); its receiver takes the hook's own Basic
# credentials only — a Strongroom token, anyone's, is no way in (401) ------------------------------
RUN_HOOK = "00000000-0000-4000-8000-000000000005"
RH = "organizations/<str:organization>/ado-run-hooks/"
ADO_RUN_HOOK_ROUTES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("get", RH, "organizations/acme-org/ado-run-hooks/", None),
    ("post", RH, "organizations/acme-org/ado-run-hooks/", {"connection": RUN_HOOK, "accountId": RUN_HOOK}),
    ("get", RH + "<str:hook>/", f"organizations/acme-org/ado-run-hooks/{RUN_HOOK}/", None),
    ("delete", RH + "<str:hook>/", f"organizations/acme-org/ado-run-hooks/{RUN_HOOK}/", None),
]
ADO_HOOK_RECEIVER = ("post", "hooks/azure-devops/<str:hook>/run-state", f"hooks/azure-devops/{RUN_HOOK}/run-state")


def test_it_covers_every_run_hook_route() -> None:
    from tests.dynamic.routes import ado_run_api_routes

    assert ado_run_api_routes() == {(method, pattern) for method, pattern, _, _ in ADO_RUN_HOOK_ROUTES} | {
        ADO_HOOK_RECEIVER[:2]
    }


@pytest.mark.parametrize(
    ("method", "pattern", "path", "body"), ADO_RUN_HOOK_ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ADO_RUN_HOOK_ROUTES]
)
def test_it_refuses_the_run_hook_configuration_to_anonymous_members_and_outsiders(
    seeded: Any, api: Any, method: str, pattern: str, path: str, body: Any
) -> None:
    _refused_to_outsiders(seeded, api, method, path, body, charlie=403)


def test_it_refuses_the_run_hook_receiver_to_strongroom_tokens_and_anonymous_callers(seeded: Any, api: Any) -> None:
    method, _, path = ADO_HOOK_RECEIVER
    for caller in (api(), api(seeded.charlie), api(seeded.mallory), api(seeded.alice)):
        response = _call(caller, method, path, {"eventType": "ms.vss-pipelines.run-state-changed-event"})
        assert response.status_code == 401 and error_of(response)["code"] == "unauthorized", response.content


# --- rotations (config/urls.py): charlie and mallory do not see the project (404) ---------------
ROTATION = "00000000-0000-4000-8000-000000000006"
RT = "projects/<str:project>/rotations/"
ROTATION_ROUTES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("get", RT, P + "rotations/", None),
    ("post", RT, P + "rotations/", {**ENV, "name": "db", "kind": "postgresql", "config": {}, "credentials": {},
                                    "usernames": ["a", "b"], "secretsMapping": {}}),
    ("get", RT + "<str:rotation>/", f"{P}rotations/{ROTATION}/", None),
    ("patch", RT + "<str:rotation>/", f"{P}rotations/{ROTATION}/", {"intervalDays": 7}),
    ("delete", RT + "<str:rotation>/", f"{P}rotations/{ROTATION}/", None),
    ("post", RT + "<str:rotation>/rotate/", f"{P}rotations/{ROTATION}/rotate/", {}),
    ("post", RT + "<str:rotation>/pause/", f"{P}rotations/{ROTATION}/pause/", {}),
    ("post", RT + "<str:rotation>/resume/", f"{P}rotations/{ROTATION}/resume/", {}),
    ("get", RT + "<str:rotation>/attempts/", f"{P}rotations/{ROTATION}/attempts/", None),
]  # fmt: skip


def test_it_covers_every_rotation_route() -> None:
    from tests.rotation.routes import rotation_api_routes

    assert rotation_api_routes() == {(method, pattern) for method, pattern, _, _ in ROTATION_ROUTES}


@pytest.mark.parametrize(
    ("method", "pattern", "path", "body"), ROTATION_ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROTATION_ROUTES]
)
def test_it_refuses_rotation_routes_to_anonymous_and_outsiders(
    seeded: Any, api: Any, method: str, pattern: str, path: str, body: Any
) -> None:
    _refused_to_outsiders(seeded, api, method, path, body, charlie=404)


# --- Infisical's Secret Rotation v2 routes (rotation/compat/, the same selectors and services): the
# compat error shape; anonymous 401, charlie and mallory 404 (the project, or the rotation id, is
# invisible to them) -------------------------------------------------------------------------------
CR = "compat/infisical/^api/v2/secret-rotations"
CR_TYPE = CR + "/(?P<kind_type>[^/]+)"
ROTATION_COMPAT_ROUTES: list[tuple[str, str, str]] = [
    ("get", CR + "/?$", "api/v2/secret-rotations?projectId=acme"),
    ("get", CR_TYPE + "/?$", "api/v2/secret-rotations/postgres-credentials?projectId=acme"),
    ("get", CR_TYPE + "/rotation-name/(?P<name>[^/]+)/?$",
     "api/v2/secret-rotations/postgres-credentials/rotation-name/db?projectId=acme&environment=dev&secretPath=/"),
    ("get", CR_TYPE + "/(?P<rotation_id>[^/]+)/?$", f"api/v2/secret-rotations/postgres-credentials/{ROTATION}"),
    ("post", CR_TYPE + "/(?P<rotation_id>[^/]+)/rotate-secrets/?$",
     f"api/v2/secret-rotations/postgres-credentials/{ROTATION}/rotate-secrets"),
]  # fmt: skip


def test_it_covers_every_compat_rotation_route() -> None:
    from tests.rotation.routes import rotation_compat_routes

    assert rotation_compat_routes() == {(method, pattern) for method, pattern, _ in ROTATION_COMPAT_ROUTES}


@pytest.mark.parametrize(
    ("method", "pattern", "path"), ROTATION_COMPAT_ROUTES, ids=[f"{m} {p}" for m, p, _ in ROTATION_COMPAT_ROUTES]
)
def test_it_refuses_compat_rotation_routes_to_anonymous_and_outsiders(
    seeded: Any, api: Any, method: str, pattern: str, path: str
) -> None:
    from rotation.models import Rotation
    from secrets_app.models import Folder

    folder = Folder.objects.get(project=seeded.project, environment__slug="dev", path="/")
    Rotation.objects.create(
        public_id=ROTATION, project=seeded.project, environment=folder.environment, folder=folder, name="db",
        kind="postgresql", usernames=["a", "b"], secrets_mapping={"username": "U", "password": "P"},
    )  # fmt: skip
    url = f"/compat/infisical/{path}"
    anonymous = getattr(api(), method)(url)
    charlie = getattr(api(seeded.charlie), method)(url)
    mallory = getattr(api(seeded.mallory), method)(url)
    alice = getattr(api(seeded.alice), method)(url)

    assert anonymous.status_code == 401 and anonymous.json()["error"] == "UnauthorizedError"
    for outsider in (charlie, mallory):
        assert outsider.status_code == 404, outsider.content
        assert outsider.json()["statusCode"] == 404 and outsider.json()["error"] == "NotFound"
    assert alice.status_code == 200, alice.content  # the route and the rotation exist: the 404s are the refusal


# Governance: quarantine, leak flags and the policy (governance/api/urls.py, mounted beside /api/v1/).
G = P + "governance/"
GOVERNANCE_QUARANTINE_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("get", G + "quarantine-candidates/", None),
    ("get", G + "quarantines/", None),
    ("post", G + "quarantines/", {"secrets": [1]}),
    ("post", G + "quarantines/1/restore/", None),
    ("post", G + "quarantines/1/delete/", None),
    ("get", G + "policy/", None),
    ("patch", G + "policy/", {"staleAfterDays": 30}),
    ("get", G + "leak-flags/", None),
    ("post", G + "leak-flags/", {"secret": 1, "reason": "pasted in a ticket"}),
    ("post", G + "leak-flags/1/clear/", {}),
]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    GOVERNANCE_QUARANTINE_ROUTES,
    ids=[f"{m} {p}" for m, p, _ in GOVERNANCE_QUARANTINE_ROUTES],
)
def test_it_refuses_quarantine_and_leak_routes_to_outsiders(
    seeded: Any, api: Any, method: str, path: str, body: Any
) -> None:
    _refused_to_outsiders(seeded, api, method, path, body, charlie=404)


# Governance dashboard (governance/api/views_dashboard.py): a project's figures, risks, top consumers
# and a secret's consumers are 404 to charlie and mallory; the organization's answer charlie (a
# member of acme-org) with nothing he may not read, and are 404 to mallory (another organization).
GO = "organizations/acme-org/governance/"
GOVERNANCE_DASHBOARD_PROJECT_ROUTES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("get", "projects/<str:project>/governance/dashboard/", G + "dashboard/", None),
    ("get", "projects/<str:project>/governance/risks/", G + "risks/", None),
    ("get", "projects/<str:project>/governance/top-consumers/", G + "top-consumers/", None),
    ("get", "projects/<str:project>/governance/secrets/<str:secret>/consumers/", G + "secrets/1/consumers/", None),
]
GOVERNANCE_DASHBOARD_ORG_ROUTES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("get", "organizations/<str:organization>/governance/dashboard/", GO + "dashboard/", None),
    ("get", "organizations/<str:organization>/governance/risks/", GO + "risks/", None),
    ("get", "organizations/<str:organization>/governance/top-consumers/", GO + "top-consumers/", None),
]


def test_it_covers_every_governance_dashboard_route() -> None:
    from governance.api import urls, views_dashboard

    served = {
        ("get", str(pattern.pattern))
        for pattern in urls.urlpatterns
        if isinstance(pattern, URLPattern) and pattern.callback.__module__ == views_dashboard.__name__
    }
    listed = {(m, p) for m, p, _, _ in GOVERNANCE_DASHBOARD_PROJECT_ROUTES + GOVERNANCE_DASHBOARD_ORG_ROUTES}
    assert served == listed


@pytest.mark.parametrize(
    ("method", "pattern", "path", "body"),
    GOVERNANCE_DASHBOARD_PROJECT_ROUTES,
    ids=[p for _, p, _, _ in GOVERNANCE_DASHBOARD_PROJECT_ROUTES],
)
def test_it_refuses_the_governance_dashboard_of_a_project_to_outsiders(
    seeded: Any, api: Any, method: str, pattern: str, path: str, body: Any
) -> None:
    _refused_to_outsiders(seeded, api, method, path, body, charlie=404)


@pytest.mark.parametrize(
    ("method", "pattern", "path", "body"),
    GOVERNANCE_DASHBOARD_ORG_ROUTES,
    ids=[p for _, p, _, _ in GOVERNANCE_DASHBOARD_ORG_ROUTES],
)
def test_it_shows_charlie_an_empty_organization_dashboard_and_mallory_none(
    seeded: Any, api: Any, method: str, pattern: str, path: str, body: Any
) -> None:
    assert _call(api(), method, path, body).status_code == 401
    mallory = _call(api(seeded.mallory), method, path, body)
    assert mallory.status_code == 404 and error_of(mallory)["code"] == "not_found"
    charlie = _call(api(seeded.charlie), method, path, body)
    assert charlie.status_code == 200, charlie.content
    answer = charlie.json()
    assert answer.get("projects", []) == [] and answer.get("results", []) == [] and answer.get("count", 0) == 0


# Governance: environment parity and least-privilege proposals (governance/api/views_parity.py,
# views_least_privilege.py): 404 to charlie and mallory.
LP_IDENTITY = "00000000-0000-4000-8000-000000000007"
GOVERNANCE_ACCESS_ROUTES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("get", "projects/<str:project>/governance/parity/", G + "parity/?from=staging&to=prod", None),
    ("get", "projects/<str:project>/governance/least-privilege/", G + "least-privilege/", None),
    ("get", "projects/<str:project>/governance/least-privilege/<str:identity>/", f"{G}least-privilege/{LP_IDENTITY}/", None),
    ("post", "projects/<str:project>/governance/least-privilege/<str:identity>/apply/", f"{G}least-privilege/{LP_IDENTITY}/apply/", {}),
]  # fmt: skip


def test_it_covers_every_parity_and_least_privilege_route() -> None:
    from governance.api import urls, views_least_privilege, views_parity

    modules = {views_parity.__name__, views_least_privilege.__name__}
    served = {
        (method, str(pattern.pattern))
        for pattern in urls.urlpatterns
        if isinstance(pattern, URLPattern) and pattern.callback.__module__ in modules
        for method in ("get", "post")
        if hasattr(pattern.callback.view_class, method)  # type: ignore[attr-defined]
    }
    assert served == {(m, p) for m, p, _, _ in GOVERNANCE_ACCESS_ROUTES}


@pytest.mark.parametrize(
    ("method", "pattern", "path", "body"),
    GOVERNANCE_ACCESS_ROUTES,
    ids=[f"{m} {p}" for m, p, _, _ in GOVERNANCE_ACCESS_ROUTES],
)
def test_it_refuses_parity_and_least_privilege_routes_to_outsiders(
    seeded: Any, api: Any, method: str, pattern: str, path: str, body: Any
) -> None:
    _refused_to_outsiders(seeded, api, method, path, body, charlie=404)


# Governance: pipeline gates (governance/api/views_gate.py). Configured by organization admins
# (charlie, a member of acme-org: 403; mallory: 404); the Azure DevOps check takes the gate's Basic
# credentials only (a Strongroom token, anyone's, is no way in: 401); a script step's evaluation is
# for the gate's own identity or an admin (charlie and mallory: 404).
PIPELINE_GATE = "00000000-0000-4000-8000-000000000008"
PG = "organizations/<str:organization>/governance/pipeline-gates/"
PGA = "organizations/acme-org/governance/pipeline-gates/"
PIPELINE_GATE_BODY = {
    "name": "g",
    "adoOrganization": "acme",
    "adoProjectId": PIPELINE_GATE,
    "adoDefinitionId": 7,
    "project": "acme",
    "environment": "prod",
    "identity": "ci",
}
PIPELINE_GATE_ROUTES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("get", PG, PGA, None),
    ("post", PG, PGA, PIPELINE_GATE_BODY),
    ("get", PG + "<str:gate>/", f"{PGA}{PIPELINE_GATE}/", None),
    ("patch", PG + "<str:gate>/", f"{PGA}{PIPELINE_GATE}/", {"enabled": False}),
    ("delete", PG + "<str:gate>/", f"{PGA}{PIPELINE_GATE}/", None),
    ("get", PG + "<str:gate>/decisions/", f"{PGA}{PIPELINE_GATE}/decisions/", None),
]  # fmt: skip
PIPELINE_GATE_CHECK = ("post", "governance/ado-gates/<str:gate>/check", f"governance/ado-gates/{PIPELINE_GATE}/check")
PIPELINE_GATE_EVALUATE = (
    "post", "governance/pipeline-gates/<str:gate>/evaluate", f"governance/pipeline-gates/{PIPELINE_GATE}/evaluate",
)  # fmt: skip


def test_it_covers_every_pipeline_gate_route() -> None:
    from governance.api import urls, views_gate

    served = {
        (method, str(pattern.pattern))
        for pattern in urls.urlpatterns
        if isinstance(pattern, URLPattern) and pattern.callback.__module__ == views_gate.__name__
        for method in ("get", "post", "patch", "delete")
        if hasattr(pattern.callback.view_class, method)  # type: ignore[attr-defined]
    }
    listed = {(m, p) for m, p, _, _ in PIPELINE_GATE_ROUTES} | {PIPELINE_GATE_CHECK[:2], PIPELINE_GATE_EVALUATE[:2]}
    assert served == listed


@pytest.mark.parametrize(
    ("method", "pattern", "path", "body"), PIPELINE_GATE_ROUTES, ids=[f"{m} {p}" for m, p, _, _ in PIPELINE_GATE_ROUTES]
)
def test_it_refuses_the_pipeline_gate_configuration_to_members_and_outsiders(
    seeded: Any, api: Any, method: str, pattern: str, path: str, body: Any
) -> None:
    _refused_to_outsiders(seeded, api, method, path, body, charlie=403)


def test_it_refuses_the_gate_check_to_strongroom_tokens_and_anonymous_callers(seeded: Any, api: Any) -> None:
    method, _, path = PIPELINE_GATE_CHECK
    for caller in (api(), api(seeded.charlie), api(seeded.mallory), api(seeded.alice)):
        response = _call(caller, method, path, {"buildId": "1"})
        assert response.status_code == 401 and error_of(response)["code"] == "unauthorized", response.content


def test_it_refuses_the_gate_evaluation_to_outsiders(seeded: Any, api: Any) -> None:
    method, _, path = PIPELINE_GATE_EVALUATE
    _refused_to_outsiders(seeded, api, method, path, {}, charlie=404)


# Estate: the Azure DevOps estate of an organization (estate/api/, under organizations/<org>/estate/).
# Organization admins only: charlie (a member of acme-org, not an admin) 403, mallory 404.
EA = "organizations/<str:organization>/estate/"
EAA = "organizations/acme-org/estate/"
ESTATE_SCAN = "00000000-0000-4000-8000-000000000009"
ESTATE_ROUTES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("get", EA + "scans/", EAA + "scans/", None),
    ("post", EA + "scans/", EAA + "scans/", {"connection": "ado"}),
    ("get", EA + "scans/<uuid:scan>/", f"{EAA}scans/{ESTATE_SCAN}/", None),
    ("post", EA + "scans/<uuid:scan>/cancel/", f"{EAA}scans/{ESTATE_SCAN}/cancel/", {}),
    ("get", EA + "summary/", EAA + "summary/", None),
    ("get", EA + "resources/", EAA + "resources/?kind=variable_group", None),
    ("get", EA + "resources/<int:resource>/", EAA + "resources/1/", None),
    ("get", EA + "findings/", EAA + "findings/?severity=high", None),
    ("get", EA + "resources/<int:resource>/import-suggestion/", EAA + "resources/1/import-suggestion/", None),
    ("get", EA + "imports/", EAA + "imports/", None),
    ("post", EA + "imports/", EAA + "imports/", {"resource": 1, "project": "acme", "environment": "dev", "path": "/"}),
    ("get", EA + "imports/<uuid:import_id>/", f"{EAA}imports/{ESTATE_SCAN}/", None),
    ("post", EA + "imports/<uuid:import_id>/preview/", f"{EAA}imports/{ESTATE_SCAN}/preview/", {}),
    ("post", EA + "imports/<uuid:import_id>/apply/", f"{EAA}imports/{ESTATE_SCAN}/apply/", {}),
    ("post", EA + "imports/<uuid:import_id>/values/", f"{EAA}imports/{ESTATE_SCAN}/values/", {"values": {"X": "v"}}),
    ("post", EA + "imports/<uuid:import_id>/convert-to-sync/", f"{EAA}imports/{ESTATE_SCAN}/convert-to-sync/", {"confirm": True}),
]  # fmt: skip


def test_it_covers_every_estate_route() -> None:
    from tests.estate.routes import estate_api_routes

    assert estate_api_routes() == {(m, p) for m, p, _, _ in ESTATE_ROUTES}


@pytest.mark.parametrize(
    ("method", "pattern", "path", "body"), ESTATE_ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ESTATE_ROUTES]
)
def test_it_refuses_the_estate_to_members_and_outsiders(
    seeded: Any, api: Any, method: str, pattern: str, path: str, body: Any
) -> None:
    _refused_to_outsiders(seeded, api, method, path, body, charlie=403)
