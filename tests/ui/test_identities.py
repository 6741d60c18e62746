"""Machine identities in the web UI: org admins create them, give them project roles, attach
universal auth and create client secrets (shown once, never cached); everybody else is refused."""

from __future__ import annotations

import re
from typing import Any

import pytest
from rest_framework.test import APIClient

from secrets_app.models import ClientSecret, MachineIdentity
from tests.identities.universal_support import make_org_admin, make_robot
from tests.ui.conftest import HX, assert_csp_clean

PAGE = "/org/acme-org/identities/"


def _secret_in(html: str) -> str:
    match = re.search(r'id="new-client-secret">([^<]+)<', html)
    assert match, "no one-time client secret box"
    return match.group(1)


@pytest.mark.django_db
def test_it_creates_an_identity_gives_it_a_role_and_a_client_secret_shown_once(login: Any, cast: Any) -> None:
    ui = login(make_org_admin(cast))
    page = ui.get(PAGE)
    assert page.status_code == 200 and "No machine identities yet" in page.content.decode()
    assert_csp_clean(page)

    created = ui.post(PAGE, {"name": "azure-pipeline"}, **HX)
    identity = MachineIdentity.objects.get(name="azure-pipeline")
    detail = f"{PAGE}{identity.public_id}/"
    assert created.status_code == 204 and created["HX-Redirect"] == detail
    assert "Attach universal auth" in ui.get(detail).content.decode()

    added = ui.post(f"{detail}projects/", {"project": "acme", "role": "dev-only"}, **HX)
    assert added.status_code == 200 and "is now dev-only in Acme app" in added.content.decode()
    attached = ui.post(f"{detail}universal-auth/", {"attach": "1"}, **HX)
    assert "Client id" in attached.content.decode()

    made = ui.post(
        f"{detail}client-secrets/", {"description": "prod deploy", "ttl_seconds": 0, "num_uses_limit": 0}, **HX
    )
    assert made.status_code == 200 and made["Cache-Control"] == "no-store"
    secret = _secret_in(made.content.decode())
    assert secret not in ui.get(detail).content.decode()  # never shown again
    assert not ClientSecret.objects.filter(secret_hash=secret).exists()
    config = identity.universal_auth
    answer = APIClient().post(
        "/api/v1/auth/universal-auth/login", {"clientId": str(config.client_id), "clientSecret": secret}, format="json"
    )
    assert answer.status_code == 200


@pytest.mark.django_db
def test_it_saves_settings_revokes_secrets_and_tokens(login: Any, cast: Any) -> None:
    robot = make_robot(cast)
    ui = login(make_org_admin(cast))
    detail = f"{PAGE}{robot.identity.public_id}/"
    settings = {
        "access_token_ttl": 600,
        "access_token_max_ttl": 300,
        "access_token_num_uses_limit": 0,
        "lockout_enabled": "on",
        "lockout_threshold": 5,
        "lockout_duration_seconds": 600,
        "lockout_counter_reset_seconds": 60,
    }
    refused = ui.post(f"{detail}universal-auth/", settings, **HX)
    assert refused.status_code == 400 and "at least the access token TTL" in refused.content.decode()
    saved = ui.post(f"{detail}universal-auth/", {**settings, "access_token_max_ttl": 1200}, **HX)
    assert saved.status_code == 200 and "settings saved" in saved.content.decode()
    robot.config.refresh_from_db()
    assert robot.config.lockout_threshold == 5 and robot.config.access_token_max_ttl == 1200

    from tests.identities.universal_support import login as machine_login

    token = machine_login(robot).json()["accessToken"]
    revoked = ui.post(f"{detail}tokens/revoke/", **HX)
    assert "Revoked 1 access token" in revoked.content.decode()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/v1/projects/acme/secrets/?environment=dev").status_code == 401
    gone = ui.post(f"{detail}client-secrets/{robot.secret_row.pk}/revoke/", **HX)
    assert "revoked, with every token it issued" in gone.content.decode()
    assert machine_login(robot).status_code == 401

    deleted = ui.post(f"{detail}delete/", **HX)
    assert deleted.status_code == 204 and deleted["HX-Redirect"] == PAGE
    assert not MachineIdentity.objects.filter(pk=robot.identity.pk).exists()


@pytest.mark.django_db
def test_it_refuses_charlie_mallory_and_anonymous(login: Any, cast: Any) -> None:
    robot = make_robot(cast)
    detail = f"{PAGE}{robot.identity.public_id}/"
    urls = [PAGE, detail]
    posts = [
        PAGE,
        f"{detail}projects/",
        f"{detail}universal-auth/",
        f"{detail}client-secrets/",
        f"{detail}client-secrets/{robot.secret_row.pk}/revoke/",
        f"{detail}tokens/revoke/",
        f"{detail}delete/",
    ]
    for url in urls:
        assert login(cast.charlie).get(url).status_code == 403
        assert login(cast.mallory).get(url).status_code == 404
        assert login(None).get(url).status_code == 302
    for url in posts:
        assert login(cast.charlie).post(url, {"name": "x", "project": "acme", "role": "admin"}).status_code == 403
        assert login(cast.mallory).post(url, {"name": "x"}).status_code == 404
    assert MachineIdentity.objects.filter(pk=robot.identity.pk, is_active=True).exists()
    assert login(cast.bob).get("/projects/").content.decode().count("Identities") == 1  # the top bar link
