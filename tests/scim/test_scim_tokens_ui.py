"""The org admin's SCIM page: create a token (shown once), see it listed by prefix, revoke it."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client

from tests.scim.conftest import ScimClient

PAGE = "/org/acme-org/scim/"


def _as(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_lets_an_org_admin_create_and_revoke_a_scim_token(cast: Any, org_admin: Any) -> None:
    admin = _as(org_admin)
    assert "/scim/v2/" in admin.get(PAGE).content.decode()

    created = admin.post(PAGE, {"name": "Entra ID"}, headers={"HX-Request": "true"})

    assert created.status_code == 200 and created["Cache-Control"] == "no-store"
    raw = re.search(r'id="new-scim-token">(srs_[^<]+)<', created.content.decode()).group(1)  # type: ignore[union-attr]
    assert ScimClient(raw).get("/Users").status_code == 200
    listing = admin.get(PAGE).content.decode()
    assert "Entra ID" in listing and raw not in listing and raw[:8] in listing

    token_id = cast.organization.scim_tokens.get().pk
    revoked = admin.post(f"{PAGE}{token_id}/revoke/", headers={"HX-Request": "true"})

    assert revoked.status_code == 200 and "revoked" in revoked.content.decode()
    assert ScimClient(raw).get("/Users").status_code == 401


def test_it_refuses_the_page_to_members_and_outsiders(cast: Any, org_admin: Any) -> None:
    assert _as(cast.bob).get(PAGE).status_code == 403
    assert _as(cast.bob).post(PAGE, {"name": "mine"}).status_code == 403
    assert _as(cast.mallory).get(PAGE).status_code == 404
    assert Client().get(PAGE).status_code == 302  # to the sign-in page
    assert not cast.organization.scim_tokens.exists()


def test_it_links_the_scim_page_from_people_for_org_admins_only(cast: Any, org_admin: Any) -> None:
    assert PAGE in _as(org_admin).get("/org/acme-org/people/").content.decode()
    assert PAGE not in _as(cast.bob).get("/org/acme-org/people/").content.decode()
