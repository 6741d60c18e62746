"""Infisical's dynamic secret and lease routes (Django test client against the machine's PostgreSQL):
shapes, TTL strings and Infisical's 400/422 words, DELETE with a JSON body, and who may call what —
anonymous 401, outsiders and strangers 404, viewers and members refused what they may not do."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from dynamic.models import Lease, LeaseStatus
from tests.compat.conftest import BASE, login
from tests.dynamic.conftest import DbTarget, allow_local, dyn_settings, pg_login, pg_role_exists  # noqa: F401
from tests.support.dynamic_targets import private_pg_target

DS = f"{BASE}/api/v1/dynamic-secrets"
PG_CREATION = (
    "CREATE USER \"{{username}}\" WITH ENCRYPTED PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';\n"
    'GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO "{{username}}";'
)  # Infisical's UI defaults (reference §1.7)
PG_REVOCATION = 'REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA public FROM "{{username}}";\nDROP ROLE "{{username}}";'
PG_RENEW = "ALTER ROLE \"{{username}}\" VALID UNTIL '{{expiration}}';"


def infisical_inputs(target: DbTarget) -> dict[str, Any]:
    return {
        "client": "postgres",
        "host": target.host,
        "port": target.port,
        "database": target.database,
        "username": target.username,
        "password": target.password,
        "creationStatement": PG_CREATION,
        "revocationStatement": PG_REVOCATION,
        "renewStatement": PG_RENEW,
        "sslEnabled": False,
    }


def _auth(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def _json(client: Client, method: str, url: str, body: dict[str, Any], token: str) -> Any:
    return client.generic(method, url, json.dumps(body), content_type="application/json", **_auth(token))


def _error(response: Any, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["statusCode"] == status and body["error"] == error and body["reqId"].startswith("req-")
    return body


@pytest.fixture(scope="module")
def pg_target() -> Iterator[DbTarget]:
    with private_pg_target() as target:
        yield target


PLACE = {"projectSlug": "acme", "environmentSlug": "dev", "path": "/"}
QUERY = "projectSlug=acme&environmentSlug=dev&path=/"


@pytest.fixture
def admin_token(cast: Any, machine: Any) -> str:
    return login(Client(), machine(cast.project, "ds-admin", "admin"))


@pytest.fixture
def member_token(cast: Any, machine: Any) -> str:
    return login(Client(), machine(cast.project, "ds-member", "member"))


@pytest.fixture
def defined(cast: Any, allow_local: None, pg_target: DbTarget, dyn_settings: Any, admin_token: str) -> Any:  # noqa: F811
    response = _json(
        Client(),
        "POST",
        DS,
        {**PLACE, "name": "pg", "provider": {"type": "sql-database", "inputs": infisical_inputs(pg_target)},
         "defaultTTL": "1h", "maxTTL": "2h"},
        admin_token,
    )  # fmt: skip
    assert response.status_code == 200, response.content
    return response.json()["dynamicSecret"]


def test_it_defines_reads_lists_and_updates_in_infisicals_shape(
    defined: Any,
    admin_token: str,
    pg_target: DbTarget,  # noqa: F811
) -> None:
    client = Client()
    assert set(defined) >= {"id", "name", "version", "type", "defaultTTL", "maxTTL", "folderId", "status",
                            "statusDetails", "createdAt", "updatedAt", "usernameTemplate", "metadata", "inputs"}  # fmt: skip
    assert (defined["type"], defined["defaultTTL"], defined["maxTTL"], defined["status"]) == (
        "sql-database",
        "1h",
        "2h",
        None,
    )
    assert defined["inputs"]["client"] == "postgres" and defined["inputs"]["host"] == "127.0.0.1"
    assert "password" not in defined["inputs"]  # write-only here (Infisical returns it)

    got = client.get(f"{DS}/pg?{QUERY}", **_auth(admin_token))
    assert got.status_code == 200 and got.json()["dynamicSecret"]["id"] == defined["id"]
    assert pg_target.password not in got.content.decode()
    listed = client.get(f"{DS}?{QUERY}", **_auth(admin_token)).json()["dynamicSecrets"]
    assert [item["name"] for item in listed] == ["pg"] and "inputs" not in listed[0]

    patched = _json(
        client, "PATCH", f"{DS}/PG", {**PLACE, "data": {"defaultTTL": "30m", "newName": "pg-app"}}, admin_token
    )
    assert patched.status_code == 200, patched.content
    assert (patched.json()["dynamicSecret"]["name"], patched.json()["dynamicSecret"]["defaultTTL"]) == ("pg-app", "30m")
    assert patched.json()["dynamicSecret"]["version"] == defined["version"] + 1

    deleted = _json(client, "DELETE", f"{DS}/pg-app", {**PLACE, "isForced": False}, admin_token)
    assert deleted.status_code == 200 and deleted.json()["dynamicSecret"]["id"] == defined["id"]
    _error(client.get(f"{DS}/pg-app?{QUERY}", **_auth(admin_token)), 404, "NotFound")


def test_it_leases_renews_and_revokes_with_infisicals_ttl_rules(
    defined: Any,
    member_token: str,
    pg_target: DbTarget,  # noqa: F811
) -> None:
    client = Client()
    leases = f"{DS}/leases"
    too_long = _json(client, "POST", leases, {**PLACE, "dynamicSecretName": "PG", "ttl": "3h"}, member_token)
    assert _error(too_long, 400, "BadRequest")["message"] == "TTL cannot be larger than max TTL"
    too_short = _json(client, "POST", leases, {**PLACE, "dynamicSecretName": "pg", "ttl": "30s"}, member_token)
    issues = _error(too_short, 422, "ValidationFailure")["message"]
    assert issues[0]["path"] == ["ttl"] and issues[0]["message"] == "TTL must be a greater than 1min"

    created = _json(client, "POST", leases, {**PLACE, "dynamicSecretName": "pg", "ttl": "1h"}, member_token)
    assert created.status_code == 200, created.content
    assert created["Cache-Control"] == "no-store"
    body = created.json()
    assert set(body) == {"lease", "dynamicSecret", "data"} and set(body["data"]) == {"DB_USERNAME", "DB_PASSWORD"}
    lease = body["lease"]
    assert set(lease) == {"id", "version", "externalEntityId", "expireAt", "status", "statusDetails",
                          "dynamicSecretId", "createdAt", "updatedAt", "config"}  # fmt: skip
    assert (lease["externalEntityId"], lease["dynamicSecretId"], lease["status"], lease["version"]) == (
        body["data"]["DB_USERNAME"], defined["id"], None, 1,
    )  # fmt: skip
    with pg_login(pg_target, body["data"]["DB_USERNAME"], body["data"]["DB_PASSWORD"]) as conn:
        assert conn.execute("SELECT label FROM items").fetchone() == ("first",)

    url = f"{leases}/{lease['id']}"
    got = client.get(f"{url}?{QUERY}", **_auth(member_token)).json()["lease"]
    assert got["id"] == lease["id"] and got["dynamicSecret"]["name"] == "pg"
    assert body["data"]["DB_PASSWORD"] not in json.dumps(got)
    _error(client.get(f"{url}?projectSlug=acme&environmentSlug=prod&path=/", **_auth(member_token)), 404, "NotFound")

    renewed = _json(client, "POST", f"{url}/renew", {**PLACE, "ttl": "30m"}, member_token)
    assert renewed.status_code == 200, renewed.content
    old, new = (datetime.datetime.fromisoformat(x.replace("Z", "+00:00")) for x in (lease["expireAt"], renewed.json()["lease"]["expireAt"]))  # fmt: skip
    assert (
        new - old == datetime.timedelta(minutes=30) and renewed.json()["lease"]["version"] == 2
    )  # from the old expiry
    over = _json(client, "POST", f"{url}/renew", {**PLACE, "ttl": "1h"}, member_token)
    assert (
        _error(over, 400, "BadRequest")["message"]
        == "The requested renewal would exceed the maximum allowed lease duration"
    )

    revoked = _json(client, "DELETE", url, {**PLACE, "isForced": False}, member_token)  # DELETE with a JSON body
    assert revoked.status_code == 200, revoked.content
    assert revoked.json()["lease"]["id"] == lease["id"] and revoked.json()["lease"]["status"] is None
    assert not pg_role_exists(lease["externalEntityId"])
    assert Lease.objects.get(public_id=lease["id"]).status == LeaseStatus.REVOKED
    _error(client.get(f"{url}?{QUERY}", **_auth(member_token)), 404, "NotFound")  # gone, as in Infisical
    _error(_json(client, "DELETE", url, PLACE, member_token), 404, "NotFound")


def test_a_lease_taken_with_a_pipeline_oidc_token_is_bound_to_its_run_and_ends_with_it(
    defined: Any,
    cast: Any,
    settings: Any,
    pg_target: DbTarget,  # noqa: F811
) -> None:
    from rest_framework.test import APIClient

    from tests.dynamic.test_ado_runs import PAT, PROJECT_ID, pipeline_login, post_hook, run_hook, run_state_event
    from tests.emulators.azure_devops import AzureDevOpsEmulator
    from tests.emulators.oidc_issuer import OidcIssuer

    settings.STRONGROOM_SYNC_ALLOWED_HOSTS = ["127.0.0.1"]
    issuer = OidcIssuer(tls=False)
    try:
        with AzureDevOpsEmulator(pats=(PAT,)) as ado:
            from secrets_app.principals import Principal
            from syncs.services.connections import connection_create

            connection = connection_create(
                principal=Principal.for_user(cast.alice), organization=cast.organization, kind="azure_devops",
                method="pat", name="ado", credentials={"token": PAT}, config={"organization_url": ado.org_url},
            )  # fmt: skip
            hook = run_hook(cast, connection)
            build = ado.add_build()
            _robot, access = pipeline_login(cast, issuer, build)

            # Exactly what infisicalsdk sends: no run fields.
            leased = _json(Client(), "POST", f"{DS}/leases", {**PLACE, "dynamicSecretName": "pg"}, access)
            assert leased.status_code == 200, leased.content
            lease = Lease.objects.get(public_id=leased.json()["lease"]["id"])
            assert (lease.ado_build_id, lease.ado_project_id, lease.ado_bound_by) == (build, PROJECT_ID, "oidc")
            username = leased.json()["data"]["DB_USERNAME"]
            assert pg_role_exists(username)

            assert post_hook(APIClient(), hook, run_state_event(build)).json()["revoked"] == 1
            assert not pg_role_exists(username)
            assert Lease.objects.get(pk=lease.pk).status == LeaseStatus.REVOKED
    finally:
        issuer.stop()


def test_it_refuses_forced_revocation_and_definitions_to_members_and_leases_to_viewers(
    defined: Any,
    cast: Any,
    machine: Any,
    member_token: str,
    pg_target: DbTarget,  # noqa: F811
) -> None:
    client = Client()
    created = _json(client, "POST", f"{DS}/leases", {**PLACE, "dynamicSecretName": "pg"}, member_token).json()
    url = f"{DS}/leases/{created['lease']['id']}"
    _error(_json(client, "DELETE", url, {**PLACE, "isForced": True}, member_token), 403, "PermissionDenied")
    inputs = infisical_inputs(pg_target)
    body = {**PLACE, "name": "mine", "provider": {"type": "sql-database", "inputs": inputs}, "defaultTTL": "1h"}
    _error(_json(client, "POST", DS, body, member_token), 403, "PermissionDenied")
    _error(_json(client, "DELETE", f"{DS}/pg", PLACE, member_token), 403, "PermissionDenied")
    unsupported = {**body, "provider": {"type": "mongo-db", "inputs": {}}}
    assert "not supported" in _error(_json(client, "POST", DS, unsupported, member_token), 400, "BadRequest")["message"]

    viewer = login(client, machine(cast.project, "ds-viewer", "viewer"))
    _error(_json(client, "POST", f"{DS}/leases", {**PLACE, "dynamicSecretName": "pg"}, viewer), 403, "PermissionDenied")
    _error(client.get(f"{url}?{QUERY}", **_auth(viewer)), 403, "PermissionDenied")
    assert _json(client, "DELETE", url, PLACE, member_token).status_code == 200


# --- every route: anonymous 401, a stranger (no membership) and another organization's project 404 ---

LEASE_ID = "00000000-0000-4000-8000-000000000009"
ROUTES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("get", "api/v1/dynamic-secrets/?$", f"{DS}?{QUERY}", None),
    ("post", "api/v1/dynamic-secrets/?$", DS, {**PLACE, "name": "x", "provider": {"type": "sql-database", "inputs": {"client": "postgres"}}, "defaultTTL": "1h"}),
    ("post", "api/v1/dynamic-secrets/leases/?$", f"{DS}/leases", {**PLACE, "dynamicSecretName": "pg"}),
    ("get", "api/v1/dynamic-secrets/leases/(?P<lease_id>[^/]+)/?$", f"{DS}/leases/{LEASE_ID}?{QUERY}", None),
    ("delete", "api/v1/dynamic-secrets/leases/(?P<lease_id>[^/]+)/?$", f"{DS}/leases/{LEASE_ID}", {**PLACE, "isForced": False}),
    ("post", "api/v1/dynamic-secrets/leases/(?P<lease_id>[^/]+)/renew/?$", f"{DS}/leases/{LEASE_ID}/renew", PLACE),
    ("get", "api/v1/dynamic-secrets/(?P<name>[^/]+)/?$", f"{DS}/pg?{QUERY}", None),
    ("patch", "api/v1/dynamic-secrets/(?P<name>[^/]+)/?$", f"{DS}/pg", {**PLACE, "data": {"defaultTTL": "1h"}}),
    ("delete", "api/v1/dynamic-secrets/(?P<name>[^/]+)/?$", f"{DS}/pg", {**PLACE, "isForced": False}),
    ("get", "api/v1/dynamic-secrets/(?P<name>[^/]+)/leases/?$", f"{DS}/pg/leases?{QUERY}", None),
]  # fmt: skip


def test_it_covers_every_compat_dynamic_secret_route() -> None:
    found: set[tuple[str, str]] = set()

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif (
                isinstance(pattern, URLPattern)
                and prefix.startswith("compat/")
                and "dynamic-secrets" in str(pattern.pattern)
            ):
                view = pattern.callback.view_class  # type: ignore[attr-defined]
                for method in ("get", "post", "patch", "put", "delete"):
                    if hasattr(view, method):
                        found.add((method, (prefix + str(pattern.pattern)).removeprefix("compat/infisical/^")))

    walk(get_resolver().url_patterns, "")
    assert found == {(method, pattern) for method, pattern, _, _ in ROUTES}


@pytest.mark.parametrize(("method", "pattern", "url", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_it_refuses_every_route_to_anonymous_strangers_and_outsiders(
    cast: Any, machine: Any, method: str, pattern: str, url: str, body: Any
) -> None:
    client = Client()
    send = (lambda token: _json(client, method.upper(), url, body, token)) if body is not None else (
        lambda token: client.get(url, **_auth(token))
    )  # fmt: skip

    anonymous = client.generic(method.upper(), url, json.dumps(body or {}), content_type="application/json")
    assert _error(anonymous, 401, "UnauthorizedError")["message"] == "Token missing"
    stranger = login(client, machine(cast.project, "no-membership", None))
    _error(send(stranger), 404, "NotFound")
    outsider = login(client, machine(cast.other_project, "evil-admin", "admin"))  # admin of evil, not of acme
    _error(send(outsider), 404, "NotFound")
