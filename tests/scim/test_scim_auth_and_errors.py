"""Who may speak SCIM to an organization, and how bad input is answered (RFC 7644 section 3.12)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.scim.conftest import ScimClient, scim_error


@pytest.mark.parametrize("token", [None, "srs_not-a-real-token", "srp_a-personal-token-shape"])
def test_it_refuses_requests_without_a_valid_token_with_401(cast: Any, scim_token: str, token: str | None) -> None:
    response = ScimClient(token).get("/Users")

    scim_error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_refuses_a_revoked_token_and_a_personal_token(cast: Any, org_admin: Any, token_for: Any) -> None:
    from secrets_app.principals import Principal
    from secrets_app.services.scim_tokens import scim_token_create, scim_token_revoke

    token, raw = scim_token_create(principal=Principal.for_user(org_admin), organization=cast.organization, name="x")
    assert ScimClient(raw).get("/Users").status_code == 200
    scim_token_revoke(principal=Principal.for_user(org_admin), organization=cast.organization, token_id=token.pk)

    scim_error(ScimClient(raw).get("/Users"), 401)
    scim_error(ScimClient(token_for(org_admin)).get("/Users"), 401)


def test_it_keeps_another_organizations_token_out_of_acme(cast: Any, scim: ScimClient) -> None:
    acme_user = scim.post("/Users", {"userName": "ada@example.com"}).json()["id"]
    acme_group = scim.post("/Groups", {"displayName": "Ops"}).json()["id"]
    evil = ScimClient(_evil_token(cast))

    scim_error(evil.get(f"/Users/{acme_user}"), 404)
    scim_error(
        evil.patch(f"/Users/{acme_user}", {"Operations": [{"op": "replace", "path": "active", "value": False}]}), 404
    )
    scim_error(evil.delete(f"/Groups/{acme_group}"), 404)
    assert evil.get('/Users?filter=userName eq "ada@example.com"').json()["totalResults"] == 0
    assert evil.get('/Users?filter=userName eq "alice@example.com"').json()["totalResults"] == 0
    assert scim.get(f"/Users/{acme_user}").json()["active"] is True


def _evil_token(cast: Any) -> str:
    from secrets_app.models import Organization
    from secrets_app.principals import Principal
    from secrets_app.services.scim_tokens import scim_token_create

    evil = Organization.objects.get(slug="evil-org")
    return scim_token_create(principal=Principal.for_user(cast.mallory), organization=evil, name="x")[1]


def test_it_lets_only_org_admins_create_scim_tokens(cast: Any) -> None:
    from secrets_app.errors import PermissionDenied
    from secrets_app.principals import Principal
    from secrets_app.services.scim_tokens import scim_token_create

    with pytest.raises(PermissionDenied):
        scim_token_create(principal=Principal.for_user(cast.bob), organization=cast.organization, name="x")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "scim_type"),
    [
        ("post", "/Users", {"name": {"givenName": "x"}}, 400, "invalidValue"),
        ("post", "/Users", {"userName": "not-an-email"}, 400, "invalidValue"),
        ("post", "/Users", {"userName": "bob@example.com"}, 409, "uniqueness"),
        ("post", "/Users", {"userName": "ada@example.com", "active": "maybe"}, 400, "invalidValue"),
        ("get", '/Users?filter=userName co "ada"', None, 400, "invalidFilter"),
        ("get", '/Users?filter=title eq "x"', None, 400, "invalidFilter"),
        ("post", "/Groups", {"displayName": ""}, 400, "invalidValue"),
        ("post", "/Groups", {"displayName": "x", "members": [{"value": "nobody"}]}, 400, "invalidValue"),
    ],
)
def test_it_answers_bad_input_with_a_scim_error(
    cast: Any, scim: ScimClient, method: str, path: str, body: Any, status: int, scim_type: str
) -> None:
    response = scim.get(path) if body is None else getattr(scim, method)(path, body)

    assert scim_error(response, status)["scimType"] == scim_type


def test_it_answers_bad_patches_with_a_scim_error(cast: Any, scim: ScimClient) -> None:
    user_id = scim.post("/Users", {"userName": "ada@example.com"}).json()["id"]
    group_id = scim.post("/Groups", {"displayName": "Ops"}).json()["id"]

    assert scim_error(scim.patch(f"/Users/{user_id}", {"Operations": []}), 400)["scimType"] == "invalidSyntax"
    assert scim_error(scim.patch(f"/Users/{user_id}", {"Operations": [{"op": "Move"}]}), 400)["scimType"] == (
        "invalidSyntax"
    )
    bad_active = {"Operations": [{"op": "Replace", "path": "active", "value": "nope"}]}
    assert scim_error(scim.patch(f"/Users/{user_id}", bad_active), 400)["scimType"] == "invalidValue"
    bad_path = {"Operations": [{"op": "Add", "path": "owners", "value": []}]}
    assert scim_error(scim.patch(f"/Groups/{group_id}", bad_path), 400)["scimType"] == "invalidPath"
    raw = scim.client.post(
        "/scim/v2/Users", data=b"{not json", content_type="application/scim+json", headers=scim.headers
    )
    assert scim_error(raw, 400)["scimType"] == "invalidSyntax"
    scim_error(scim.get("/Users/00000000-0000-4000-8000-000000000000"), 404)


def test_it_describes_itself(cast: Any, scim: ScimClient) -> None:
    config = scim.get("/ServiceProviderConfig").json()
    assert config["patch"]["supported"] is True and config["bulk"]["supported"] is False
    assert {r["id"] for r in scim.get("/ResourceTypes").json()["Resources"]} == {"User", "Group"}
    assert len(scim.get("/Schemas").json()["Resources"]) == 2
