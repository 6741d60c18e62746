"""The native API for connections and syncs: write-only credentials, the permission matrix
(charlie and mallory get 404 everywhere), the one error shape, and the schema."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.syncs.conftest import GOOD_PAT, make_connection, make_sync, put_secret, run_now

pytestmark = pytest.mark.django_db

SYNCS = "/api/v1/projects/acme/syncs/"
CONNECTIONS = "/api/v1/connections/"


def _create_connection(api: Any, user: Any, ado: Any, token: str = GOOD_PAT) -> Any:
    return api(user).post(
        CONNECTIONS,
        {
            "kind": "azure_devops",
            "method": "pat",
            "name": "ado",
            "credentials": {"token": token},
            "config": {"organization_url": ado.org_url},
        },
        format="json",
    )


def test_connection_credentials_are_write_only(cast: Any, api: Any, ado: Any) -> None:
    from audit.models import AuditEvent
    from syncs.models import AppConnection

    created = _create_connection(api, cast.alice, ado)
    assert created.status_code == 201, created.content
    assert created.json()["lastTestStatus"] == "ok"  # tested at once
    listed = api(cast.alice).get(CONNECTIONS)
    detail = api(cast.alice).get(f"{CONNECTIONS}{created.json()['id']}/")
    for response in (created, listed, detail):
        assert GOOD_PAT not in response.content.decode()
        assert "credentials" not in response.content.decode()
    stored = AppConnection.objects.get()
    assert GOOD_PAT.encode() not in bytes(stored.credentials_ciphertext)
    assert GOOD_PAT not in json.dumps(list(AuditEvent.objects.values("metadata")), default=str)


def test_connection_test_reports_ok_and_failure(cast: Any, api: Any, ado: Any) -> None:
    good = _create_connection(api, cast.alice, ado).json()["id"]
    response = api(cast.alice).post(f"{CONNECTIONS}{good}/test/")
    assert response.status_code == 200 and response.json()["ok"] is True

    bad = api(cast.alice).patch(
        f"{CONNECTIONS}{good}/",
        {"credentials": {"token": "wrong-pat-value"}, "config": {"organization_url": ado.org_url}},
        format="json",
    )
    assert bad.status_code == 200
    response = api(cast.alice).post(f"{CONNECTIONS}{good}/test/")
    body = response.json()
    assert body["ok"] is False and "401" in body["message"] and "wrong-pat-value" not in body["message"]
    assert api(cast.alice).get(f"{CONNECTIONS}{good}/").json()["lastTestStatus"] == "failed"


def test_private_destinations_are_refused(cast: Any, api: Any, settings: Any) -> None:
    settings.STRONGROOM_SYNC_ALLOWED_HOSTS = []
    for url in ("http://127.0.0.1:1/acme", "https://169.254.169.254/x", "https://localhost./x", "file:///etc/passwd"):
        response = api(cast.alice).post(
            CONNECTIONS,
            {
                "kind": "azure_devops",
                "method": "pat",
                "name": "x",
                "credentials": {"token": "t"},
                "config": {"organization_url": url},
            },
            format="json",
        )
        assert response.status_code == 400, url
        assert response.json()["error"]["code"] == "validation_error"


def test_a_sync_is_created_run_and_read_through_the_api(cast: Any, api: Any, ado: Any) -> None:
    put_secret(cast, "A", "1")
    connection = _create_connection(api, cast.alice, ado).json()["id"]
    response = api(cast.alice).post(
        SYNCS,
        {
            "name": "pipeline",
            "environment": "dev",
            "path": "/",
            "connection": connection,
            "destination": {"project": "proj1", "group_name": "app-secrets"},
            "initialBehavior": "overwrite_destination",
            "confirmOverwrite": True,
            "keyNameTemplate": "APP_{{secretKey}}",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "queued" and body["owner"] == cast.alice.email
    from syncs.models import SecretSync

    run_now(SecretSync.objects.get())
    detail = api(cast.alice).get(f"{SYNCS}{body['id']}/").json()
    assert detail["status"] == "succeeded" and detail["lastSuccessAt"] and detail["managedKeys"] == 1
    runs = api(cast.bob).get(f"{SYNCS}{body['id']}/runs/").json()["runs"]
    assert runs[0]["status"] == "succeeded" and runs[0]["counts"]["create"] == 1
    assert ado.values("app-secrets") == {"APP_A": "1"}
    triggered = api(cast.alice).post(f"{SYNCS}{body['id']}/run/", {}, format="json")
    assert triggered.status_code == 202 and triggered.json()["queued"] is True
    drift = api(cast.alice).post(f"{SYNCS}{body['id']}/drift/")
    assert drift.status_code == 200 and drift.json()["items"] == []
    deleted = api(cast.alice).delete(f"{SYNCS}{body['id']}/?removeManaged=true")
    assert deleted.status_code == 200 and deleted.json()["removed"] == ["APP_A"]


def test_overwrite_needs_confirmation_and_bad_templates_are_refused(cast: Any, api: Any, ado: Any) -> None:
    connection = _create_connection(api, cast.alice, ado).json()["id"]
    base = {
        "name": "s",
        "environment": "dev",
        "connection": connection,
        "destination": {"project": "proj1", "group_name": "g"},
    }
    response = api(cast.alice).post(SYNCS, base, format="json")
    assert response.status_code == 400 and "confirmOverwrite" in response.json()["error"]["fields"]
    response = api(cast.alice).post(
        SYNCS, {**base, "initialBehavior": "import_destination", "keyNameTemplate": "STATIC"}, format="json"
    )
    assert response.status_code == 400 and "keyNameTemplate" in response.json()["error"]["fields"]
    response = api(cast.alice).post(
        SYNCS, {**base, "initialBehavior": "import_destination", "createdBy": 1}, format="json"
    )
    assert response.status_code == 400


@pytest.fixture
def existing(cast: Any, ado: Any) -> Any:
    put_secret(cast, "A", "1")
    connection = make_connection(cast, ado)
    sync = make_sync(cast, connection)
    return connection, sync


def test_members_read_syncs_but_only_admins_change_them(cast: Any, api: Any, existing: Any) -> None:
    from audit.models import AuditEvent

    connection, sync = existing
    assert api(cast.bob).get(SYNCS).status_code == 200
    assert api(cast.bob).get(f"{SYNCS}{sync.public_id}/").status_code == 200
    assert api(cast.bob).post(f"{SYNCS}{sync.public_id}/run/", {}, format="json").status_code == 403
    assert api(cast.bob).delete(f"{SYNCS}{sync.public_id}/").status_code == 403
    assert api(cast.bob).patch(f"{SYNCS}{sync.public_id}/", {"name": "x"}, format="json").status_code == 403
    assert (
        api(cast.bob)
        .post(
            SYNCS,
            {"name": "b", "environment": "dev", "connection": str(connection.public_id), "destination": {}},
            format="json",
        )
        .status_code
        == 403
    )
    # Viewers and dev-only see no syncs; no one but admins can see connections.
    assert api(cast.dave).get(SYNCS).status_code == 403
    assert api(cast.bob).get(f"{CONNECTIONS}{connection.public_id}/").status_code == 404
    assert AuditEvent.objects.filter(action="permission.denied", actor_label=cast.bob.email).exists()


@pytest.mark.parametrize("who", ["charlie", "mallory"])
def test_charlie_and_mallory_are_refused_everywhere(cast: Any, api: Any, existing: Any, who: str) -> None:
    connection, sync = existing
    client = api(getattr(cast, who))
    sync_url = f"{SYNCS}{sync.public_id}/"
    connection_url = f"{CONNECTIONS}{connection.public_id}/"
    for method, url, body in [
        ("get", SYNCS, None),
        (
            "post",
            SYNCS,
            {"name": "x", "environment": "dev", "connection": str(connection.public_id), "destination": {}},
        ),
        ("get", sync_url, None),
        ("patch", sync_url, {"name": "x"}),
        ("delete", sync_url + "?removeManaged=true", None),
        ("post", sync_url + "run/", {}),
        ("get", sync_url + "runs/", None),
        ("get", sync_url + "drift/", None),
        ("post", sync_url + "drift/", None),
        ("post", sync_url + "drift/adopt/", {"name": "A"}),
        ("get", connection_url, None),
        ("patch", connection_url, {"name": "mine"}),
        ("delete", connection_url, None),
        ("post", connection_url + "test/", None),
    ]:
        response = (
            getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)
        )
        assert response.status_code == 404, (method, url, response.status_code)
    assert client.get(CONNECTIONS).json()["connections"] == []
    response = client.post(
        CONNECTIONS,
        {
            "organization": "acme-org",
            "kind": "azure_devops",
            "method": "pat",
            "name": "x",
            "credentials": {"token": "t"},
            "config": {},
        },
        format="json",
    )
    assert response.status_code == 404
    sync.refresh_from_db()
    assert sync.name == "to-app-secrets"


def test_anonymous_callers_are_refused(api: Any, existing: Any, cast: Any) -> None:
    assert api().get(SYNCS).status_code == 401
    assert api().get(CONNECTIONS).status_code == 401


def test_a_connection_in_use_cannot_be_deleted(cast: Any, api: Any, existing: Any) -> None:
    connection, _ = existing
    response = api(cast.alice).delete(f"{CONNECTIONS}{connection.public_id}/")
    assert response.status_code == 409


def test_the_schema_documents_syncs_and_connections(api: Any, cast: Any) -> None:
    schema = api(cast.alice).get("/api/schema/?format=json").json()
    assert "/api/v1/projects/{project}/syncs/" in schema["paths"]
    assert "/api/v1/connections/{connection}/test/" in schema["paths"]
    connection = json.dumps(schema["components"]["schemas"]["Connection"])
    assert "credentials" not in connection
