"""The secret panel: masked value, audited reveal, create / edit / delete / rollback through htmx."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from secrets_app.models import Secret
from tests.ui.conftest import DEV_VALUE, HX, PROD_VALUE, assert_no_values

PANEL = "/projects/acme/secrets/item/?environment=dev&path=/&key=DATABASE_URL"
REVEAL = "/projects/acme/secrets/value/?environment=dev&path=/&key=DATABASE_URL"


def _value_of(environment: str, key: str, path: str = "/") -> str:
    from secrets_app.selectors.secrets import current_plaintext

    secret = Secret.objects.get(environment__slug=environment, folder__path=path, key=key, deleted_at__isnull=True)
    return current_plaintext(secret)[0].decode()


@pytest.mark.django_db
def test_it_opens_the_panel_with_the_value_masked(login, seeded):
    response = login(seeded.alice).get(PANEL, **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "DATABASE_URL" in html and "••••••" in html and "Reveal" in html
    assert "Roll back" not in html  # only v1 so far
    assert_no_values(html)
    # The same URL without htmx is the whole project page with the panel open.
    page = login(seeded.alice).get(PANEL)
    assert b"<html" in page.content and b'id="secret-panel"' in page.content
    assert_no_values(page.content.decode())


@pytest.mark.django_db
def test_it_reveals_the_value_in_its_own_audited_no_store_response(login, seeded):
    before = AuditEvent.objects.filter(action="secret.value_read").count()
    response = login(seeded.bob).get(REVEAL, **HX)
    assert response.status_code == 200
    assert f'<pre class="value mono" id="secret-value-text">{DEV_VALUE}</pre>' in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert 'hx-history="false"' in response.content.decode()
    events = AuditEvent.objects.filter(action="secret.value_read")
    assert events.count() == before + 1
    event = events.order_by("-id").first()
    assert (event.actor_label, event.environment, event.resource_id) == ("bob@example.com", "dev", "DATABASE_URL")
    assert DEV_VALUE not in str(event.metadata)


@pytest.mark.django_db
def test_it_hides_the_value_again_without_reading_it(login, seeded):
    before = AuditEvent.objects.filter(action="secret.value_read").count()
    response = login(seeded.alice).get("/projects/acme/secrets/masked/?environment=dev&path=/&key=DATABASE_URL", **HX)
    assert response.status_code == 200 and "••••••" in response.content.decode()
    assert_no_values(response.content.decode())
    assert AuditEvent.objects.filter(action="secret.value_read").count() == before


@pytest.mark.django_db
def test_it_refuses_a_viewer_the_value_and_audits_the_refusal(login, seeded):
    dave = login(seeded.dave)
    response = dave.get(REVEAL, **HX)
    assert response.status_code == 403
    assert_no_values(response.content.decode())
    assert AuditEvent.objects.filter(
        action="permission.denied", actor_label="dave@example.com", outcome="deny"
    ).exists()
    panel = dave.get(PANEL, **HX).content.decode()
    assert "Reveal" not in panel and "cannot read values" in panel
    assert "Edit" not in panel and "Delete secret" not in panel
    for url in ("/projects/acme/", "/projects/acme/?path=/backend", "/projects/acme/history/?path=/", PANEL):
        assert_no_values(dave.get(url).content.decode())


@pytest.mark.django_db
def test_it_keeps_prod_out_of_reach_of_a_dev_only_role(login, seeded):
    erin = login(seeded.erin)
    assert erin.get(REVEAL, **HX).status_code == 200
    # Refused (403), or — where the environment itself is hidden from the role — not found (404).
    prod = erin.get("/projects/acme/secrets/value/?environment=prod&path=/&key=DATABASE_URL", **HX)
    assert prod.status_code in (403, 404) and PROD_VALUE not in prod.content.decode()
    panel = erin.get("/projects/acme/secrets/item/?environment=prod&path=/&key=DATABASE_URL", **HX)
    assert panel.status_code in (403, 404)
    assert AuditEvent.objects.filter(
        action="permission.denied", actor_label="erin@example.com", environment="prod"
    ).exists()


@pytest.mark.django_db
def test_it_creates_a_secret_and_updates_the_counters_out_of_band(login, seeded):
    response = login(seeded.bob).post(
        "/projects/acme/secrets/",
        {
            "key": "API_TOKEN",
            "environment": "staging",
            "value": "tok-Val-1",
            "comment": "for the API",
            "path": "/",
            "origin": "matrix",
        },
        **HX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="matrix"')
    assert 'id="add-secret" class="add-secret" hx-swap-oob="true"' in html
    assert 'id="env-list" hx-swap-oob="true"' in html
    assert "Added API_TOKEN to staging." in html
    assert "tok-Val-1" not in html
    assert _value_of("staging", "API_TOKEN") == "tok-Val-1"
    assert AuditEvent.objects.filter(action="secret.created", resource_id="API_TOKEN", environment="staging").exists()


@pytest.mark.django_db
def test_it_shows_create_errors_inline_and_keeps_what_was_typed(login, seeded):
    response = login(seeded.alice).post(
        "/projects/acme/secrets/",
        {"key": "BAD KEY", "environment": "dev", "value": "typed-Val-2", "path": "/", "origin": "matrix"},
        **HX,
    )
    assert response.status_code == 422
    assert response["HX-Retarget"] == "#add-secret" and response["HX-Reswap"] == "outerHTML"
    html = response.content.decode()
    assert "must not contain whitespace" in html and "field-error" in html
    assert "typed-Val-2" in html  # only the person's own input, in the still-open form
    duplicate = login(seeded.alice).post(
        "/projects/acme/secrets/", {"key": "DATABASE_URL", "environment": "dev", "value": "x", "path": "/"}, **HX
    )
    assert duplicate.status_code == 422 and b"already exists" in duplicate.content
    assert_no_values(duplicate.content.decode())


@pytest.mark.django_db
def test_it_adds_a_missing_key_from_its_cell(login, seeded):
    client = login(seeded.alice)
    form = client.get("/projects/acme/secrets/new/?environment=staging&path=/&key=REDIS_URL", **HX)
    assert form.status_code == 200 and b'value="REDIS_URL"' in form.content
    response = client.post(
        "/projects/acme/secrets/",
        {"key": "REDIS_URL", "environment": "staging", "value": "redis-Val-3", "path": "/", "origin": "panel"},
        **HX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="secret-panel"' in html and 'id="matrix" class="card matrix-card" hx-swap-oob="true"' in html
    assert "redis-Val-3" not in html


@pytest.mark.django_db
def test_it_edits_a_secret_to_a_new_version(login, seeded):
    response = login(seeded.bob).post(
        "/projects/acme/secrets/item/",
        {
            "environment": "dev",
            "path": "/",
            "key": "DATABASE_URL",
            "version": "1",
            "new_key": "DATABASE_URL",
            "value": "edited-Val-4",
            "comment": "",
            "owner_label": "payments-team",
            "purpose": "primary database",
            "expires_at": "2030-01-31",
        },
        **HX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "DATABASE_URL is at v2" in html and "payments-team" in html and "2030-01-31" in html
    assert "edited-Val-4" not in html
    assert 'id="matrix" class="card matrix-card" hx-swap-oob="true"' in html
    assert _value_of("dev", "DATABASE_URL") == "edited-Val-4"
    assert AuditEvent.objects.filter(action="secret.updated", resource_id="DATABASE_URL").exists()


@pytest.mark.django_db
def test_it_keeps_the_value_when_the_edit_leaves_it_empty(login, seeded):
    response = login(seeded.alice).post(
        "/projects/acme/secrets/item/",
        {
            "environment": "dev",
            "path": "/",
            "key": "DATABASE_URL",
            "version": "1",
            "new_key": "DATABASE_URL",
            "purpose": "db",
        },
        **HX,
    )
    assert response.status_code == 200
    assert _value_of("dev", "DATABASE_URL") == DEV_VALUE
    assert Secret.objects.get(environment__slug="dev", key="DATABASE_URL").purpose == "db"


@pytest.mark.django_db
def test_it_refuses_a_stale_edit(login, seeded):
    from secrets_app.services.secrets import SecretInput, secret_update

    secret_update(
        scope=seeded.scope(seeded.alice),
        environment="dev",
        path="/",
        key="DATABASE_URL",
        item=SecretInput(key="DATABASE_URL", value="newer"),
    )
    response = login(seeded.bob).post(
        "/projects/acme/secrets/item/",
        {
            "environment": "dev",
            "path": "/",
            "key": "DATABASE_URL",
            "version": "1",
            "new_key": "DATABASE_URL",
            "value": "older-edit",
        },
        **HX,
    )
    assert response.status_code == 422
    assert b"is at version 2, not 1" in response.content
    assert _value_of("dev", "DATABASE_URL") == "newer"


@pytest.mark.django_db
def test_it_refuses_edits_by_a_viewer(login, seeded):
    response = login(seeded.dave).post(
        "/projects/acme/secrets/item/",
        {
            "environment": "dev",
            "path": "/",
            "key": "DATABASE_URL",
            "version": "1",
            "new_key": "DATABASE_URL",
            "value": "x",
        },
        **HX,
    )
    assert response.status_code == 403
    assert response["HX-Reswap"] == "none" and "strongroom:error" in response["HX-Trigger"]
    assert _value_of("dev", "DATABASE_URL") == DEV_VALUE


@pytest.mark.django_db
def test_it_deletes_a_secret_and_brings_it_back_from_the_folder_history(login, seeded):
    client = login(seeded.alice)
    deleted = client.delete("/projects/acme/secrets/item/?environment=dev&path=/&key=REDIS_URL", **HX)
    assert deleted.status_code == 200
    assert b"Deleted REDIS_URL from dev." in deleted.content
    assert not Secret.objects.filter(environment__slug="dev", key="REDIS_URL", deleted_at__isnull=True).exists()
    assert AuditEvent.objects.filter(action="secret.deleted", resource_id="REDIS_URL").exists()

    history = client.get("/projects/acme/history/?environment=dev&path=/", **HX)
    assert history.status_code == 200
    html = history.content.decode()
    assert "delete REDIS_URL" in html and "create REDIS_URL" in html
    from secrets_app.models import FolderCommit

    before_delete = FolderCommit.objects.filter(
        folder__environment__slug="dev", folder__path="/", message="create DEV_ONLY"
    ).get()
    rolled = client.post(
        "/projects/acme/history/rollback/", {"environment": "dev", "path": "/", "commit": str(before_delete.pk)}, **HX
    )
    assert rolled.status_code == 200
    assert b"back to #" in rolled.content and b'hx-swap-oob="true"' in rolled.content
    assert _value_of("dev", "REDIS_URL")
    assert AuditEvent.objects.filter(action="folder.rolled_back").exists()


@pytest.mark.django_db
def test_it_rolls_a_secret_back_to_an_earlier_version(login, seeded):
    from secrets_app.services.secrets import SecretInput, secret_update

    secret_update(
        scope=seeded.scope(seeded.alice),
        environment="prod",
        path="/",
        key="DATABASE_URL",
        item=SecretInput(key="DATABASE_URL", value="v2-Val"),
    )
    client = login(seeded.bob)
    panel = client.get("/projects/acme/secrets/item/?environment=prod&path=/&key=DATABASE_URL", **HX).content.decode()
    assert "Roll back to v1" in panel
    response = client.post(
        "/projects/acme/secrets/rollback/",
        {"environment": "prod", "path": "/", "key": "DATABASE_URL", "version": "1"},
        **HX,
    )
    assert response.status_code == 200
    assert b"now v3" in response.content
    assert _value_of("prod", "DATABASE_URL") == PROD_VALUE
    assert_no_values(response.content.decode())
    revealed = client.get("/projects/acme/secrets/value/?environment=prod&path=/&key=DATABASE_URL", **HX)
    assert PROD_VALUE in revealed.content.decode()


@pytest.mark.django_db
def test_it_refuses_rollbacks_by_a_viewer(login, seeded):
    response = login(seeded.dave).post(
        "/projects/acme/secrets/rollback/",
        {"environment": "dev", "path": "/", "key": "DATABASE_URL", "version": "1"},
        **HX,
    )
    assert response.status_code == 403
    history = login(seeded.dave).get("/projects/acme/history/?environment=dev&path=/", **HX).content.decode()
    assert "Roll back here" not in history
