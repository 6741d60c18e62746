"""The compat adapter's wire behaviour (Django test client): error bodies, auth answers, trailing
slashes, GET bodies, boolean strictness, ETags, shapes, isolation and value hiding."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
import time_machine
from django.test import Client

from secrets_app.services.folders import folder_create, import_create
from secrets_app.services.secrets import SecretInput, secret_create
from tests.compat.conftest import BASE, login

JWT_RE = re.compile(r"^[A-Za-z0-9-_]+\.[A-Za-z0-9-_]+\.[A-Za-z0-9-_]*$")


@pytest.fixture
def seeded(cast: Any) -> Any:
    scope = cast.scope(cast.alice)
    secret_create(scope=scope, environment="dev", path="/", item=SecretInput(key="DB_HOST", value="db.internal"))
    secret_create(scope=scope, environment="dev", path="/", item=SecretInput(key="DB_URL", value="pg://${DB_HOST}/app"))
    folder_create(scope=scope, environment="dev", path="/", name="shared")
    secret_create(scope=scope, environment="dev", path="/shared", item=SecretInput(key="SHARED_KEY", value="s1"))
    secret_create(scope=scope, environment="dev", path="/shared", item=SecretInput(key="DB_HOST", value="shadowed"))
    import_create(scope=scope, environment="dev", path="/", source_environment="dev", source_path="/shared")
    return cast


@pytest.fixture
def member(seeded: Any, machine: Any) -> Any:
    return machine(seeded.project, "ci-member", "member")


def _auth(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def _error(response: Any, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) >= {"reqId", "statusCode", "message", "error"}
    assert body["statusCode"] == status and body["error"] == error and body["reqId"].startswith("req-")
    return body


def test_login_answers_the_four_fields_with_and_without_trailing_slash(member: Any) -> None:
    client = Client()
    for suffix in ("", "/"):
        response = client.post(
            f"{BASE}/api/v1/auth/universal-auth/login{suffix}",
            {"clientId": member.client_id, "clientSecret": member.client_secret, "organizationSlug": "x"},
            content_type="application/json",
            HTTP_AUTHORIZATION="Bearer stale.token.here",  # the Node SDK re-sends an old token
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"accessToken", "expiresIn", "accessTokenMaxTTL", "tokenType"}
        assert body["tokenType"] == "Bearer" and JWT_RE.match(body["accessToken"])
        assert isinstance(body["expiresIn"], int) and isinstance(body["accessTokenMaxTTL"], int)
    wrong = client.post(
        f"{BASE}/api/v1/auth/universal-auth/login",
        {"clientId": member.client_id, "clientSecret": "nope"},
        content_type="application/json",
    )
    _error(wrong, 401, "UnauthorizedError")
    missing = client.post(f"{BASE}/api/v1/auth/universal-auth/login", {}, content_type="application/json")
    body = _error(missing, 422, "ValidationFailure")
    assert isinstance(body["message"], list) and body["message"][0]["path"] == ["clientId"]


def test_token_missing_expired_and_garbage(member: Any) -> None:
    client = Client()
    url = f"{BASE}/api/v3/secrets/raw?workspaceSlug=acme&environment=dev"
    assert _error(client.get(url), 401, "UnauthorizedError")["message"] == "Token missing"
    assert _error(client.get(url, HTTP_AUTHORIZATION=""), 401, "UnauthorizedError")["message"] == "Token missing"
    _error(client.get(url, **_auth("a.b.c")), 403, "TokenError")
    start = datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False) as clock:
        token = login(client, member)
        assert client.get(url, **_auth(token)).status_code == 200
        clock.move_to(start + datetime.timedelta(hours=2))  # default TTL is one hour
        body = _error(client.get(url, **_auth(token)), 403, "TokenError")
        assert body["message"] == "Your token has expired. Please re-authenticate."


def test_renew_and_revoke(member: Any) -> None:
    client = Client()
    token = login(client, member)
    renewed = client.post(f"{BASE}/api/v1/auth/token/renew/", {"accessToken": token}, content_type="application/json")
    assert renewed.status_code == 200 and set(renewed.json()) == {
        "accessToken",
        "expiresIn",
        "accessTokenMaxTTL",
        "tokenType",
    }
    revoked = client.post(f"{BASE}/api/v1/auth/token/revoke", {"accessToken": token}, content_type="application/json")
    assert revoked.json() == {"message": "Successfully revoked access token"}
    url = f"{BASE}/api/v3/secrets/raw?workspaceSlug=acme&environment=dev"
    _error(client.get(url, **_auth(token)), 401, "UnauthorizedError")


def test_list_shape_imports_expansion_get_bodies_and_etag(member: Any, seeded: Any) -> None:
    client = Client()
    headers = _auth(login(client, member))
    project_id = str(seeded.project.public_id)
    url = (
        f"{BASE}/api/v3/secrets/raw?workspaceId={project_id}&workspaceSlug=&environment=dev&secretPath=/"
        "&expandSecretReferences=true&include_imports=true&recursive=false&viewSecretValue=true&unknownThing=1"
    )
    # A JSON body on GET (the CLI and the Rust SDK send one) is ignored.
    response = client.generic("GET", url, b'{"environment":"prod"}', content_type="application/json", **headers)
    assert response.status_code == 200, response.content
    body = response.json()
    secrets = {item["secretKey"]: item for item in body["secrets"]}
    assert set(secrets) == {"DB_HOST", "DB_URL"}
    db_url = secrets["DB_URL"]
    assert db_url["secretValue"] == "pg://db.internal/app"  # expanded server-side
    for field in ("id", "_id", "workspace", "environment", "version", "type", "secretKey", "secretValue"):
        assert field in db_url
    assert db_url["workspace"] == project_id and db_url["environment"] == "dev" and db_url["type"] == "shared"
    assert db_url["secretComment"] == "" and db_url["tags"] == [] and db_url["secretPath"] == "/"
    assert db_url["id"] == db_url["_id"] and isinstance(db_url["version"], int)
    assert db_url["createdAt"].endswith("Z") and db_url["secretValueHidden"] is False
    [imported] = body["imports"]
    assert imported["secretPath"] == "/shared" and imported["environment"] == "dev" and imported["folderId"]
    assert [item["secretKey"] for item in imported["secrets"]] == ["SHARED_KEY"]  # local DB_HOST wins
    assert "createdAt" not in imported["secrets"][0]

    etag = response["ETag"]
    again = client.get(url, HTTP_IF_NONE_MATCH=etag, **headers)
    assert again.status_code == 304 and again.content == b""
    # camelCase includeImports (the Node SDK on get, the CLI on v4) is the same flag.
    v4 = client.get(
        f"{BASE}/api/v4/secrets/?projectId={project_id}&environment=dev&includeImports=false"
        "&recursive=true&expandSecretReferences=false&includePersonalOverrides=true",
        **headers,
    )
    assert v4.status_code == 200 and v4.json()["imports"] == []
    paths = sorted((item["secretPath"], item["secretKey"]) for item in v4.json()["secrets"])
    assert ("/shared", "SHARED_KEY") in paths
    assert {item["secretValue"] for item in v4.json()["secrets"] if item["secretKey"] == "DB_URL"} == {
        "pg://${DB_HOST}/app"
    }
    one = client.get(
        f"{BASE}/api/v3/secrets/raw/SHARED_KEY?secretName=SHARED_KEY&workspaceId={project_id}&environment=dev"
        "&includeImports=true&type=shared",
        **headers,
    )
    assert one.status_code == 200 and one.json()["secret"]["secretValue"] == "s1"


def test_booleans_are_strict_on_secrets_and_lenient_on_v2_folders(member: Any) -> None:
    client = Client()
    headers = _auth(login(client, member))
    bad = client.get(f"{BASE}/api/v3/secrets/raw?workspaceSlug=acme&environment=dev&include_imports=True", **headers)
    body = _error(bad, 422, "ValidationFailure")
    assert body["message"][0]["path"] == ["include_imports"]
    bad = client.get(f"{BASE}/api/v4/secrets?projectId=acme&environment=dev&recursive=1", **headers)
    _error(bad, 422, "ValidationFailure")
    folders = client.get(f"{BASE}/api/v2/folders?projectId=acme&environment=dev&path=/&recursive=False", **headers)
    assert folders.status_code == 200 and [f["name"] for f in folders.json()["folders"]] == ["shared"]


def test_not_found_answers(member: Any) -> None:
    client = Client()
    headers = _auth(login(client, member))
    missing_path = client.get(
        f"{BASE}/api/v3/secrets/raw?workspaceSlug=acme&environment=dev&secretPath=/nowhere", **headers
    )
    _error(missing_path, 404, "SecretPathNotFound")
    _error(client.get(f"{BASE}/api/v3/secrets/raw?workspaceSlug=acme&environment=qa", **headers), 404, "NotFound")
    _error(client.get(f"{BASE}/api/v3/secrets/raw/NOPE?workspaceSlug=acme&environment=dev", **headers), 404, "NotFound")
    assert _error(client.get(f"{BASE}/api/v3/secrets/raw?environment=dev", **headers), 400, "BadRequest")[
        "message"
    ] == ("Missing project id or environment")


def test_write_routes_v3_v4_and_batch(member: Any, seeded: Any) -> None:
    client = Client()
    headers = _auth(login(client, member))
    project_id = str(seeded.project.public_id)
    base = {"workspaceId": project_id, "environment": "dev", "secretPath": "/", "type": "shared", "extra": True}
    created = client.post(
        f"{BASE}/api/v3/secrets/raw/NEW_ONE", {**base, "secretValue": "v1"}, content_type="application/json", **headers
    )
    assert created.status_code == 200, created.content
    assert created.json()["secret"]["secretValue"] == "v1" and created.json()["secret"]["version"] == 1
    duplicate = client.post(
        f"{BASE}/api/v3/secrets/raw/NEW_ONE", {**base, "secretValue": "v1"}, content_type="application/json", **headers
    )
    assert _error(duplicate, 400, "BadRequest")["message"] == "Secret already exists"
    updated = client.patch(
        f"{BASE}/api/v4/secrets/NEW_ONE/",
        {"projectId": project_id, "environment": "dev", "secretValue": "v2", "newSecretName": "RENAMED"},
        content_type="application/json",
        **headers,
    )
    assert updated.status_code == 200 and updated.json()["secret"]["secretKey"] == "RENAMED"
    assert updated.json()["secret"]["version"] == 2
    batch = client.post(
        f"{BASE}/api/v3/secrets/batch/raw",
        {**base, "secrets": [{"secretKey": "B1", "secretValue": "1"}, {"secretKey": "B2", "secretValue": "2"}]},
        content_type="application/json",
        **headers,
    )
    assert batch.status_code == 200 and [s["secretKey"] for s in batch.json()["secrets"]] == ["B1", "B2"]
    patched = client.patch(
        f"{BASE}/api/v4/secrets/batch",
        {"projectId": project_id, "environment": "dev", "secrets": [{"secretKey": "B1", "secretValue": "11"}]},
        content_type="application/json",
        **headers,
    )
    assert patched.status_code == 200 and patched.json()["secrets"][0]["secretValue"] == "11"
    gone = client.delete(
        f"{BASE}/api/v4/secrets/batch",
        {"projectId": project_id, "environment": "dev", "secrets": [{"secretKey": "B1"}, {"secretKey": "B2"}]},
        content_type="application/json",
        **headers,
    )
    assert gone.status_code == 200 and len(gone.json()["secrets"]) == 2
    deleted = client.delete(
        f"{BASE}/api/v3/secrets/raw/RENAMED", base, content_type="application/json", **headers
    )  # JSON body on DELETE
    assert deleted.status_code == 200 and deleted.json()["secret"]["secretKey"] == "RENAMED"
    listing = client.get(f"{BASE}/api/v3/secrets/raw?workspaceId={project_id}&environment=dev", **headers)
    assert {s["secretKey"] for s in listing.json()["secrets"]} == {"DB_HOST", "DB_URL"}


def test_folders_imports_projects_and_tags(member: Any, seeded: Any, machine: Any) -> None:
    client = Client()
    headers = _auth(login(client, member))
    project_id = str(seeded.project.public_id)
    # v1 as the CLI sends it: `directory`, not `path`
    made = client.post(
        f"{BASE}/api/v1/folders",
        {"workspaceId": project_id, "environment": "dev", "name": "api", "directory": "/shared"},
        content_type="application/json",
        **headers,
    )
    assert made.status_code == 200 and made.json()["folder"]["path"] == "/shared/api"
    listed = client.get(f"{BASE}/api/v1/folders?workspaceId={project_id}&environment=dev&directory=/shared", **headers)
    assert [f["name"] for f in listed.json()["folders"]] == ["api"]
    folder_id = made.json()["folder"]["id"]
    by_id = client.get(f"{BASE}/api/v2/folders/{folder_id}", **headers).json()["folder"]
    assert (
        by_id["environment"]["envSlug"] == "dev" and by_id["projectId"] == project_id and by_id["path"] == "/shared/api"
    )
    removed = client.delete(
        f"{BASE}/api/v1/folders/api",
        {"workspaceId": project_id, "environment": "dev", "directory": "/shared"},
        content_type="application/json",
        **headers,
    )
    assert removed.status_code == 200
    imports = client.get(f"{BASE}/api/v2/secret-imports?projectId={project_id}&environment=dev&path=/", **headers)
    [item] = imports.json()["secretImports"]
    assert item["importPath"] == "/shared" and item["importEnv"]["slug"] == "dev"
    created = client.post(
        f"{BASE}/api/v2/secret-imports",
        {"projectId": project_id, "environment": "staging", "path": "/", "import": {"environment": "dev", "path": "/"}},
        content_type="application/json",
        **headers,
    )
    assert created.status_code == 200, created.content
    import_id = created.json()["secretImport"]["id"]
    deleted = client.delete(
        f"{BASE}/api/v2/secret-imports/{import_id}",
        {"projectId": project_id, "environment": "staging", "path": "/"},
        content_type="application/json",
        **headers,
    )
    assert deleted.status_code == 200

    for url in (f"{BASE}/api/v2/workspace/acme", f"{BASE}/api/v1/projects/slug/acme"):
        project = client.get(url, **headers).json()
        assert project["id"] == project_id and project["slug"] == "acme"
        assert [env["slug"] for env in project["environments"]] == ["dev", "staging", "prod"]
    assert client.get(f"{BASE}/api/v1/workspace/{project_id}", **headers).json()["workspace"]["slug"] == "acme"
    _error(client.get(f"{BASE}/api/v1/projects/{project_id}/tags/slug/db", **headers), 404, "NotFound")
    admin = machine(seeded.project, "ci-admin", "admin")
    admin_headers = _auth(login(client, admin))
    tag = client.post(
        f"{BASE}/api/v1/projects/{project_id}/tags",
        {"slug": "db", "color": "#fff"},
        content_type="application/json",
        **admin_headers,
    )
    assert tag.status_code == 200, tag.content
    found = client.get(f"{BASE}/api/v1/projects/{project_id}/tags/slug/db", **headers).json()["tag"]
    assert found["slug"] == "db"
    tagged = client.post(
        f"{BASE}/api/v3/secrets/raw/TAGGED",
        {"workspaceId": project_id, "environment": "dev", "secretValue": "x", "tagIds": [found["id"]]},
        content_type="application/json",
        **headers,
    )
    assert tagged.status_code == 200 and tagged.json()["secret"]["tags"][0]["slug"] == "db"
    only_tagged = client.get(
        f"{BASE}/api/v3/secrets/raw?workspaceId={project_id}&environment=dev&tagSlugs=db", **headers
    ).json()
    assert [s["secretKey"] for s in only_tagged["secrets"]] == ["TAGGED"]


def test_isolation_and_viewer_gets_no_values(seeded: Any, machine: Any) -> None:
    client = Client()
    outsider = machine(seeded.project, "acme-only", "member")
    headers = _auth(login(client, outsider))
    evil = seeded.other_project
    for url in (
        f"{BASE}/api/v3/secrets/raw?workspaceSlug=evil&environment=dev",
        f"{BASE}/api/v3/secrets/raw?workspaceId={evil.public_id}&environment=dev",
        f"{BASE}/api/v4/secrets/X?projectId={evil.public_id}&environment=dev",
        f"{BASE}/api/v2/workspace/evil",
        f"{BASE}/api/v1/projects/slug/evil",
        f"{BASE}/api/v2/folders?projectId={evil.public_id}&environment=dev",
    ):
        assert client.get(url, **headers).status_code in (403, 404), url
    written = client.post(
        f"{BASE}/api/v3/secrets/raw/PLANTED",
        {"workspaceId": str(evil.public_id), "environment": "dev", "secretValue": "x"},
        content_type="application/json",
        **headers,
    )
    assert written.status_code in (403, 404)

    nobody = machine(seeded.project, "no-membership", None)
    _error(
        client.get(f"{BASE}/api/v3/secrets/raw?workspaceSlug=acme&environment=dev", **_auth(login(client, nobody))),
        404,
        "NotFound",
    )

    viewer = machine(seeded.project, "ci-viewer", "viewer")
    viewer_headers = _auth(login(client, viewer))
    listing = client.get(
        f"{BASE}/api/v3/secrets/raw?workspaceSlug=acme&environment=dev&include_imports=true", **viewer_headers
    )
    assert listing.status_code == 200
    items = listing.json()["secrets"] + [s for i in listing.json()["imports"] for s in i["secrets"]]
    assert items and all(s["secretValue"] == "<hidden-by-infisical>" and s["secretValueHidden"] for s in items)
    assert "db.internal" not in listing.content.decode()
    one = client.get(f"{BASE}/api/v3/secrets/raw/DB_HOST?workspaceSlug=acme&environment=dev", **viewer_headers)
    assert one.status_code == 200 and one.json()["secret"]["secretValue"] == "<hidden-by-infisical>"
    refused = client.post(
        f"{BASE}/api/v3/secrets/raw/NEW",
        {"workspaceId": str(seeded.project.public_id), "environment": "dev", "secretValue": "x"},
        content_type="application/json",
        **viewer_headers,
    )
    body = _error(refused, 403, "PermissionDenied")
    assert "details" in body
