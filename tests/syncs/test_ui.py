"""The sync pages: connections (credentials never shown again), create a sync, status with
polling that stops (286), history, drift, sync now, delete; members read, admins act, charlie and
mallory get 404."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.syncs.conftest import GOOD_PAT, delete_secret, make_connection, make_sync, put_secret, run_now
from tests.syncs.kv_support import CLIENT_ID, CLIENT_SECRET, TENANT, kv_fixture  # noqa: F401  (the kv fixture)

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_admin_connects_azure_devops_and_creates_a_sync(cast: Any, ado: Any) -> None:
    from syncs.models import AppConnection, SecretSync

    put_secret(cast, "DB_PASSWORD", "ui-canary-value")
    alice = login(cast.alice)
    page = alice.get("/org/acme-org/connections/")
    assert page.status_code == 200 and "No connections yet" in page.content.decode()

    saved = alice.post(
        "/org/acme-org/connections/",
        {"name": "ado", "kind": "azure_devops", "method": "pat", "organization_url": ado.org_url, "secret": GOOD_PAT},
        **HX,
    )
    assert saved.status_code == 200, saved.content.decode()[:2000]
    assert GOOD_PAT not in saved.content.decode()
    connection = AppConnection.objects.get()
    tested = alice.post(f"/org/acme-org/connections/{connection.public_id}/test/", **HX)
    assert "badge ok" in tested.content.decode() and GOOD_PAT not in tested.content.decode()

    listing = alice.get("/projects/acme/syncs/")
    assert "New sync to Azure DevOps" in listing.content.decode()
    created = alice.post(
        "/projects/acme/syncs/",
        {
            "name": "pipeline",
            "connection": str(connection.public_id),
            "environment": "dev",
            "path": "/",
            "project": "proj1",
            "group_name": "app-secrets",
            "key_name_template": "{{secretKey}}",
            "initial_behavior": "import_destination",
            "auto_sync": "on",
            "delete_on_source_removal": "on",
        },
        **HX,
    )
    assert created.status_code == 204, created.content.decode()[:3000]
    sync = SecretSync.objects.get()
    assert created["HX-Redirect"] == f"/projects/acme/syncs/{sync.public_id}/"

    detail = alice.get(created["HX-Redirect"]).content.decode()
    assert "Queued" in detail and 'hx-trigger="every 2s"' in detail and "Sync now" in detail
    run_now(sync)
    status = alice.get(f"/projects/acme/syncs/{sync.public_id}/?fragment=status", **HX)
    assert status.status_code == 286  # done: htmx stops polling
    body = status.content.decode()
    assert "Succeeded" in body and "ui-canary-value" not in body and "create 1" in body
    assert ado.values("app-secrets") == {"DB_PASSWORD": "ui-canary-value"}

    again = alice.post(f"/projects/acme/syncs/{sync.public_id}/run/", **HX)
    assert "Queued" in again.content.decode()
    drift = alice.post(f"/projects/acme/syncs/{sync.public_id}/drift/", **HX)
    assert "No drift found" in drift.content.decode()

    deleted = alice.post(f"/projects/acme/syncs/{sync.public_id}/delete/", {"remove_managed": "delete"}, **HX)
    assert deleted.status_code == 204 and not SecretSync.objects.exists()
    assert ado.group_by_name("app-secrets") is None  # this sync created it


def test_an_admin_connects_key_vault_and_creates_a_sync(cast: Any, kv: Any) -> None:
    from syncs.models import AppConnection, SecretSync

    put_secret(cast, "DB_PASSWORD", "kv-ui-canary")
    put_secret(cast, "API_KEY", "k-1")
    alice = login(cast.alice)
    page = alice.get("/org/acme-org/connections/").content.decode()
    assert "Azure Key Vault" in page and 'name="client_secret"' in page

    saved = alice.post(
        "/org/acme-org/connections/",
        {
            "name": "vault",
            "kind": "azure_key_vault",
            "tenant_id": TENANT,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "authority_host": kv.authority,
            "vault_url": kv.vault_url,
        },
        **HX,
    )
    assert saved.status_code == 200, saved.content.decode()[:2000]
    body = saved.content.decode()
    assert CLIENT_SECRET not in body and "reached" in body, body[:3000]
    connection = AppConnection.objects.get()
    assert connection.kind == "azure_key_vault" and connection.method == "client_secret"
    assert connection.config == {
        "tenant_id": TENANT,
        "client_id": CLIENT_ID,
        "authority_host": kv.authority,
        "vault_url": kv.vault_url,
    }
    tested = alice.post(f"/org/acme-org/connections/{connection.public_id}/test/", **HX)
    assert "badge ok" in tested.content.decode() and CLIENT_SECRET not in tested.content.decode()

    listing = alice.get("/projects/acme/syncs/").content.decode()
    assert "New sync to Azure Key Vault" in listing and 'value="azure_key_vault"' in listing
    created = alice.post(
        "/projects/acme/syncs/",
        {
            "kind": "azure_key_vault",
            "name": "to-vault",
            "connection": str(connection.public_id),
            "environment": "dev",
            "path": "/",
            "vault_url": kv.vault_url,
            "removal": "delete",
            "key_name_template": "{{secretKey}}",
            "initial_behavior": "import_destination",
            "auto_sync": "on",
            "delete_on_source_removal": "on",
        },
        **HX,
    )
    assert created.status_code == 204, created.content.decode()[:3000]
    sync = SecretSync.objects.get()
    assert sync.destination == {"vault_url": kv.vault_url} and sync.provider_options == {"removal": "delete"}
    assert created["HX-Redirect"] == f"/projects/acme/syncs/{sync.public_id}/"

    run_now(sync)
    status = alice.get(f"/projects/acme/syncs/{sync.public_id}/?fragment=status", **HX)
    assert status.status_code == 286 and "Succeeded" in status.content.decode()
    assert kv.values() == {"API-KEY": "k-1", "DB-PASSWORD": "kv-ui-canary"}

    delete_secret(cast, "API_KEY")
    run_now(sync)
    assert kv.values() == {"DB-PASSWORD": "kv-ui-canary"} and kv.get("API-KEY").deleted_at is not None

    for url in [
        "/org/acme-org/connections/",
        "/projects/acme/syncs/",
        f"/projects/acme/syncs/{sync.public_id}/",
        f"/projects/acme/syncs/{sync.public_id}/?fragment=status",
    ]:
        assert CLIENT_SECRET not in alice.get(url).content.decode(), url


def test_a_key_vault_sync_disables_removed_secrets_by_default(cast: Any, kv: Any) -> None:
    from tests.syncs.kv_support import make_kv_connection

    connection = make_kv_connection(cast, kv)
    put_secret(cast, "A", "1")
    alice = login(cast.alice)
    form = {
        "kind": "azure_key_vault",
        "name": "to-vault",
        "connection": str(connection.public_id),
        "environment": "dev",
        "path": "/",
        "vault_url": kv.vault_url,
        "removal": "disable",
        "key_name_template": "{{secretKey}}",
        "initial_behavior": "import_destination",
        "delete_on_source_removal": "on",
    }
    bad = alice.post("/projects/acme/syncs/", {**form, "vault_url": "http://example.com"}, **HX)
    assert bad.status_code == 422 and "https" in bad.content.decode()
    created = alice.post("/projects/acme/syncs/", form, **HX)
    assert created.status_code == 204, created.content.decode()[:3000]
    from syncs.models import SecretSync

    sync = SecretSync.objects.get()
    run_now(sync)
    delete_secret(cast, "A")
    run_now(sync)
    assert kv.values() == {} and not kv.get("A").current.enabled


def test_key_vault_connection_errors_stay_on_the_form_and_hide_the_secret(cast: Any) -> None:
    from syncs.models import AppConnection

    response = login(cast.alice).post(
        "/org/acme-org/connections/",
        {
            "name": "vault",
            "kind": "azure_key_vault",
            "tenant_id": TENANT,
            "client_id": CLIENT_ID,
            "client_secret": "typed-secret-xyz",
            "vault_url": "http://not-a-vault.example",
        },
        **HX,
    )
    body = response.content.decode()
    assert response.status_code == 422 and "typed-secret-xyz" not in body
    assert not AppConnection.objects.exists()


def test_a_non_admin_cannot_add_a_key_vault_connection_or_sync(cast: Any, kv: Any) -> None:
    from syncs.models import AppConnection, SecretSync
    from tests.syncs.kv_support import make_kv_connection

    connection = make_kv_connection(cast, kv)
    bob = login(cast.bob)
    refused = bob.post(
        "/org/acme-org/connections/",
        {
            "name": "mine",
            "kind": "azure_key_vault",
            "tenant_id": TENANT,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
        **HX,
    )
    assert refused.status_code == 404 and AppConnection.objects.count() == 1
    created = bob.post(
        "/projects/acme/syncs/",
        {
            "kind": "azure_key_vault",
            "name": "to-vault",
            "connection": str(connection.public_id),
            "environment": "dev",
            "path": "/",
            "vault_url": kv.vault_url,
            "removal": "disable",
            "key_name_template": "{{secretKey}}",
            "initial_behavior": "import_destination",
        },
        **HX,
    )
    assert created.status_code == 403 and not SecretSync.objects.exists()
    assert "New sync" not in bob.get("/projects/acme/syncs/").content.decode()


def test_form_errors_are_shown_on_the_form(cast: Any, ado: Any) -> None:
    connection = make_connection(cast, ado)
    response = login(cast.alice).post(
        "/projects/acme/syncs/",
        {
            "name": "x",
            "connection": str(connection.public_id),
            "environment": "dev",
            "path": "/",
            "project": "proj1",
            "group_name": "g",
            "key_name_template": "{{secretKey}}",
            "initial_behavior": "overwrite_destination",
        },
        **HX,
    )
    assert response.status_code == 422 and "confirm" in response.content.decode()


def test_drift_shows_and_offers_overwrite(cast: Any, ado: Any) -> None:
    put_secret(cast, "A", "1")
    sync = make_sync(cast, make_connection(cast, ado))
    run_now(sync)
    ado.edit_variable("app-secrets", "A", "edited", secret=True)
    page = login(cast.alice).post(f"/projects/acme/syncs/{sync.public_id}/drift/", **HX).content.decode()
    assert "Possibly changed" in page and "Overwrite destination" in page and "Adopt" not in page


def test_members_see_syncs_without_controls(cast: Any, ado: Any) -> None:
    sync = make_sync(cast, make_connection(cast, ado))
    bob = login(cast.bob)
    page = bob.get(f"/projects/acme/syncs/{sync.public_id}/").content.decode()
    assert sync.name in page and "Sync now" not in page and "Delete sync" not in page
    assert "New sync" not in bob.get("/projects/acme/syncs/").content.decode()
    assert bob.post(f"/projects/acme/syncs/{sync.public_id}/run/", **HX).status_code == 403
    assert bob.post(f"/projects/acme/syncs/{sync.public_id}/delete/", **HX).status_code == 403
    assert bob.get("/org/acme-org/connections/").status_code == 404


@pytest.mark.parametrize("who", ["charlie", "mallory"])
def test_charlie_and_mallory_get_404(cast: Any, ado: Any, who: str) -> None:
    connection = make_connection(cast, ado)
    sync = make_sync(cast, connection)
    client = login(getattr(cast, who))
    base = f"/projects/acme/syncs/{sync.public_id}/"
    for method, url in [
        ("get", "/projects/acme/syncs/"),
        ("post", "/projects/acme/syncs/"),
        ("get", base),
        ("post", base + "run/"),
        ("post", base + "drift/"),
        ("post", base + "delete/"),
        ("get", "/org/acme-org/connections/"),
        ("post", f"/org/acme-org/connections/{connection.public_id}/test/"),
        ("post", f"/org/acme-org/connections/{connection.public_id}/delete/"),
    ]:
        assert getattr(client, method)(url).status_code == 404, (method, url)
    from syncs.models import SecretSync

    assert SecretSync.objects.filter(pk=sync.pk).exists()


def test_anonymous_visitors_go_to_login(cast: Any) -> None:
    response = Client().get("/projects/acme/syncs/")
    assert response.status_code == 302 and "/login/" in response["Location"]
