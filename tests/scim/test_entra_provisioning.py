"""The request sequence Microsoft Entra ID's provisioning service sends (bodies as Entra sends
them, capitalised ops and string booleans included), then what the person notices."""

from __future__ import annotations

from typing import Any

from django.test import Client

from audit.models import AuditEvent
from tests.scim.conftest import ScimClient

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_SCHEMAS = [
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
]
ENTRA_OBJECT_ID = "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"
ENTRA_GROUP_ID = "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"


def _entra_user(user_name: str) -> dict[str, Any]:
    return {
        "schemas": USER_SCHEMAS,
        "externalId": ENTRA_OBJECT_ID,
        "userName": user_name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Grace Hopper", "familyName": "Hopper", "givenName": "Grace"},
        "roles": [],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Platform"},
    }


def test_it_provisions_then_deprovisions_a_person_the_way_entra_does(cast: Any, scim: ScimClient) -> None:
    from secrets_app.models import Group, GroupMembership, GroupSource
    from secrets_app.services.personal_tokens import personal_token_create

    # 1. Entra looks the person up by userName before creating them.
    lookup = scim.get('/Users?filter=userName+eq+"Grace.Hopper@example.com"')
    assert lookup.status_code == 200
    assert lookup.json()["totalResults"] == 0 and lookup.json()["Resources"] == []

    # 2. Create.
    created = scim.post("/Users", _entra_user("Grace.Hopper@example.com"))
    assert created.status_code == 201, created.content
    user = created.json()
    assert user["userName"] == "grace.hopper@example.com" and user["active"] is True
    assert user["externalId"] == ENTRA_OBJECT_ID and user["name"]["givenName"] == "Grace"
    assert created["Location"].endswith(f"/scim/v2/Users/{user['id']}")

    # Found by either filter from now on (userName compares case-insensitively).
    assert scim.get('/Users?filter=userName eq "GRACE.hopper@example.com"').json()["Resources"][0]["id"] == user["id"]
    assert scim.get(f'/Users?filter=externalId eq "{ENTRA_OBJECT_ID}"').json()["totalResults"] == 1

    # 3. Group lookup (members excluded, as Entra asks), create, add the member.
    assert (
        scim.get('/Groups?excludedAttributes=members&filter=displayName eq "Platform Team"').json()["totalResults"] == 0
    )
    group_response = scim.post(
        "/Groups",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "externalId": ENTRA_GROUP_ID,
            "displayName": "Platform Team",
            "meta": {"resourceType": "Group"},
        },
    )
    assert group_response.status_code == 201, group_response.content
    group_id = group_response.json()["id"]
    added = scim.patch(
        f"/Groups/{group_id}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "Add", "path": "members", "value": [{"value": user["id"]}]}]},
    )
    assert added.status_code == 200, added.content
    assert [m["value"] for m in scim.get(f"/Groups/{group_id}").json()["members"]] == [user["id"]]
    group = Group.objects.get(public_id=group_id)
    assert (group.source, group.external_id, group.organization_id) == (
        GroupSource.SCIM,
        ENTRA_GROUP_ID,
        cast.organization.pk,
    )
    person = group.memberships.get().user
    assert group.memberships.get().source == GroupSource.SCIM

    # The person works: a browser session and a personal API token.
    browser = Client()
    browser.force_login(person)
    assert browser.get("/account/").status_code == 200
    raw_token = personal_token_create(user=person, name="laptop")[1]
    assert Client().get("/api/v1/me/", headers={"Authorization": f"Bearer {raw_token}"}).status_code == 200

    # 4. The directory says they left.
    deactivated = scim.patch(
        f"/Users/{user['id']}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]},
    )
    assert deactivated.status_code == 200, deactivated.content
    assert deactivated.json()["active"] is False

    # Their very next requests fail: the session is gone, the token refused, no group holds them.
    page = browser.get("/account/")
    assert page.status_code == 302 and "/login/" in page["Location"]
    assert Client().get("/api/v1/me/", headers={"Authorization": f"Bearer {raw_token}"}).status_code == 401
    assert not GroupMembership.objects.filter(user=person).exists()
    assert scim.get(f"/Groups/{group_id}").json()["members"] == []

    # Audited as the directory's doing.
    events = AuditEvent.objects.filter(actor_id="scim").order_by("id")
    assert list(events.values_list("action", flat=True)) == [
        "user.provisioned",
        "group.created",
        "group.member_added",
        "user.deprovisioned",
    ]
    assert {event.actor_type for event in events} == {"system"}


def test_it_restores_sign_in_on_reactivation_but_not_the_old_tokens(cast: Any, scim: ScimClient) -> None:
    from secrets_app.models import PersonalAccessToken
    from secrets_app.services.personal_tokens import personal_token_create

    user = scim.post("/Users", _entra_user("ada@example.com")).json()
    person = cast.organization.memberships.get(user__username="ada@example.com").user
    raw_token = personal_token_create(user=person, name="laptop")[1]
    scim.patch(
        f"/Users/{user['id']}", {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
    )

    back = scim.patch(
        f"/Users/{user['id']}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "True"}]},
    )

    assert back.json()["active"] is True
    browser = Client()
    browser.force_login(person)
    assert browser.get("/account/").status_code == 200
    assert Client().get("/api/v1/me/", headers={"Authorization": f"Bearer {raw_token}"}).status_code == 401
    assert PersonalAccessToken.objects.get(user=person).revoked_at is not None


def test_it_removes_members_by_filter_path_renames_replaces_and_deletes(cast: Any, scim: ScimClient) -> None:
    from secrets_app.models import Group

    ada = scim.post("/Users", _entra_user("ada@example.com") | {"externalId": "ada"}).json()["id"]
    bea = scim.post("/Users", _entra_user("bea@example.com") | {"externalId": "bea"}).json()["id"]
    group_id = scim.post("/Groups", {"displayName": "Ops", "members": [{"value": ada}, {"value": bea}]}).json()["id"]

    scim.patch(
        f"/Groups/{group_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "Remove", "path": f'members[value eq "{ada}"]'},
                {"op": "Replace", "path": "displayName", "value": "Operations"},
            ],
        },
    )
    body = scim.get(f"/Groups/{group_id}").json()
    assert body["displayName"] == "Operations" and [m["value"] for m in body["members"]] == [bea]
    assert scim.get('/Groups?filter=displayName eq "operations"').json()["totalResults"] == 1

    replaced = scim.put(f"/Groups/{group_id}", {"displayName": "Operations", "members": [{"value": ada}]})
    assert [m["value"] for m in replaced.json()["members"]] == [ada]

    assert scim.delete(f"/Groups/{group_id}").status_code == 204
    assert scim.get(f"/Groups/{group_id}").status_code == 404
    assert not Group.objects.filter(public_id=group_id).exists()


def test_it_deactivates_on_delete_and_forgets_the_id(cast: Any, scim: ScimClient) -> None:
    user_id = scim.post("/Users", _entra_user("ada@example.com")).json()["id"]

    assert scim.delete(f"/Users/{user_id}").status_code == 204

    assert scim.get(f"/Users/{user_id}").status_code == 404
    assert not cast.organization.memberships.get(user__username="ada@example.com").user.is_active


def test_it_finds_people_added_before_provisioning_and_replaces_them_with_put(cast: Any, scim: ScimClient) -> None:
    found = scim.get('/Users?filter=userName eq "bob@example.com"').json()
    assert found["totalResults"] == 1
    bob = found["Resources"][0]

    updated = scim.put(
        f"/Users/{bob['id']}",
        {"userName": "bob@example.com", "externalId": "entra-bob", "name": {"givenName": "Bob"}, "active": True},
    )

    assert updated.status_code == 200
    assert updated.json()["externalId"] == "entra-bob" and updated.json()["name"]["givenName"] == "Bob"
    listed = scim.get("/Users?startIndex=1&count=2").json()
    assert listed["totalResults"] == 5 and listed["itemsPerPage"] == 2  # alice, bob, charlie, dave, erin
