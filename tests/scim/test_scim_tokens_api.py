"""Org admins manage their organization's SCIM tokens over the API: shown once, listed without the
secret, revoked at once; nobody else reaches them."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEvent
from tests.api.conftest import error_of
from tests.scim.conftest import ScimClient

TOKENS = "/api/v1/organizations/acme-org/scim-tokens/"


def test_it_shows_a_new_token_once_and_revokes_it(cast: Any, org_admin: Any, api: Any) -> None:
    admin = api(org_admin)

    created = admin.post(TOKENS, {"name": "Entra ID provisioning"}, format="json")

    assert created.status_code == 201, created.content
    body = created.json()
    assert body["token"].startswith("srs_") and body["tenantUrl"].endswith("/scim/v2/")
    assert body["createdBy"] == org_admin.email
    listed = admin.get(TOKENS).json()["tokens"]
    assert [t["name"] for t in listed] == ["Entra ID provisioning"] and "token" not in listed[0]
    assert body["token"] not in str(listed) and body["token"] not in str(
        list(AuditEvent.objects.values_list("metadata", flat=True))
    )
    assert ScimClient(body["token"]).get("/Users").status_code == 200

    assert admin.delete(f"{TOKENS}{body['id']}/").status_code == 204

    assert ScimClient(body["token"]).get("/Users").status_code == 401
    assert admin.get(TOKENS).json()["tokens"][0]["revokedAt"] is not None
    actions = AuditEvent.objects.filter(action__startswith="scim.").values_list("action", "actor_label")
    assert list(actions.order_by("id")) == [
        ("scim.token_created", org_admin.email),
        ("scim.token_revoked", org_admin.email),
    ]


@pytest.mark.parametrize(("who", "status"), [("bob", 403), ("charlie", 403), ("mallory", 404)])
def test_it_refuses_everyone_but_org_admins(cast: Any, org_admin: Any, api: Any, who: str, status: int) -> None:
    token_id = api(org_admin).post(TOKENS, {"name": "entra"}, format="json").json()["id"]
    caller = api(getattr(cast, who))

    for response in (
        caller.get(TOKENS),
        caller.post(TOKENS, {"name": "mine"}, format="json"),
        caller.delete(f"{TOKENS}{token_id}/"),
    ):
        assert response.status_code == status, response.content
        error_of(response)
    assert api(org_admin).get(TOKENS).json()["tokens"][0]["revokedAt"] is None


def test_it_does_not_revoke_another_organizations_token(cast: Any, org_admin: Any, api: Any) -> None:
    evil = api(cast.mallory).post("/api/v1/organizations/evil-org/scim-tokens/", {"name": "x"}, format="json").json()

    assert api(org_admin).delete(f"{TOKENS}{evil['id']}/").status_code == 404
    assert ScimClient(evil["token"]).get("/Users").status_code == 200
