"""The sync pages: connections (credentials never shown again), create a sync, status with
polling that stops (286), history, drift, sync now, delete; members read, admins act, charlie and
mallory get 404."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.syncs.conftest import GOOD_PAT, make_connection, make_sync, put_secret, run_now

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
