"""Projects, environments, folders, imports, tags, members and roles through the API."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEvent
from secrets_app.events import secret_changed
from secrets_app.models import Project
from tests.api.conftest import error_of, url


class TestProjects:
    def test_it_creates_a_project_in_the_callers_only_organization_with_default_environments(
        self, cast: Any, api: Any
    ) -> None:
        response = api(cast.charlie).post("/api/v1/projects/", {"slug": "billing", "name": "Billing"}, format="json")

        assert response.status_code == 201
        body = response.json()
        assert body["slug"] == "billing" and body["organization"] == "acme-org" and body["role"] == "admin"
        assert [env["slug"] for env in body["environments"]] == ["dev", "staging", "prod"]
        assert body["id"] == str(Project.objects.get(slug="billing").public_id)
        assert api(cast.charlie).get(f"/api/v1/projects/{body['id']}/").json()["slug"] == "billing"

    def test_it_asks_for_the_organization_when_the_caller_has_several(self, cast: Any, api: Any) -> None:
        from secrets_app.models import OrganizationMembership

        OrganizationMembership.objects.create(organization=cast.other_project.organization, user=cast.alice)
        client = api(cast.alice)

        ambiguous = client.post("/api/v1/projects/", {"slug": "x", "name": "X"}, format="json")
        chosen = client.post(
            "/api/v1/projects/",
            {"slug": "x", "name": "X", "organization": "evil-org", "environments": ["main"]},
            format="json",
        )

        assert ambiguous.status_code == 400
        assert list(error_of(ambiguous)["fields"]) == ["organization"]
        assert "acme-org" in error_of(ambiguous)["message"] and "evil-org" in error_of(ambiguous)["message"]
        assert chosen.status_code == 201 and chosen.json()["organization"] == "evil-org"
        assert [env["slug"] for env in chosen.json()["environments"]] == ["main"]

    def test_it_answers_409_for_a_taken_slug_and_400_for_a_bad_one(self, cast: Any, api: Any) -> None:
        taken = api(cast.bob).post("/api/v1/projects/", {"slug": "acme", "name": "Again"}, format="json")
        bad = api(cast.bob).post("/api/v1/projects/", {"slug": "Not A Slug", "name": "Bad"}, format="json")

        assert taken.status_code == 409 and list(error_of(taken)["fields"]) == ["slug"]
        assert bad.status_code == 400 and list(error_of(bad)["fields"]) == ["slug"]

    def test_it_renames_and_deletes_a_project_as_admin_only(self, cast: Any, api: Any) -> None:
        refused = api(cast.bob).patch(url(), {"name": "Bob's"}, format="json")
        renamed = api(cast.alice).patch(url(), {"name": "Acme renamed", "description": "d"}, format="json")
        refused_delete = api(cast.bob).delete(url())
        deleted = api(cast.alice).delete(url())

        assert refused.status_code == 403
        assert renamed.status_code == 200 and renamed.json()["name"] == "Acme renamed"
        assert renamed.json()["description"] == "d"
        assert refused_delete.status_code == 403
        assert deleted.status_code == 204
        assert api(cast.alice).get(url()).status_code == 404

    def test_it_lists_the_callers_projects_with_their_role(self, cast: Any, api: Any) -> None:
        roles = {
            who: [(p["slug"], p["role"]) for p in api(getattr(cast, who)).get("/api/v1/projects/").json()["projects"]]
            for who in ("alice", "bob", "dave", "erin", "mallory")
        }

        assert roles == {
            "alice": [("acme", "admin")],
            "bob": [("acme", "member")],
            "dave": [("acme", "viewer")],
            "erin": [("acme", "dev-only")],
            "mallory": [("evil", "admin")],
        }


class TestEnvironments:
    def test_it_creates_renames_reorders_and_deletes_environments(self, cast: Any, api: Any) -> None:
        client = api(cast.alice)

        created = client.post(url("environments/"), {"slug": "qa", "name": "QA"}, format="json")
        renamed = client.patch(url("environments/qa/"), {"slug": "test", "name": "Test"}, format="json")
        reordered = client.post(
            url("environments/reorder/"), {"order": ["test", "prod", "staging", "dev"]}, format="json"
        )
        deleted = client.delete(url("environments/test/"))

        assert created.status_code == 201 and created.json() == {
            "slug": "qa",
            "name": "QA",
            "position": 3,
            "revealMarksDue": False,
            "revealRotationHours": 24,
        }
        assert renamed.json() == {
            "slug": "test",
            "name": "Test",
            "position": 3,
            "revealMarksDue": False,
            "revealRotationHours": 24,
        }
        assert [e["slug"] for e in reordered.json()["environments"]] == ["test", "prod", "staging", "dev"]
        assert deleted.status_code == 204
        assert [e["slug"] for e in client.get(url("environments/")).json()["environments"]] == [
            "prod",
            "staging",
            "dev",
        ]

    def test_it_refuses_an_incomplete_order_naming_order(self, cast: Any, api: Any) -> None:
        response = api(cast.alice).post(url("environments/reorder/"), {"order": ["dev"]}, format="json")

        assert response.status_code == 400 and list(error_of(response)["fields"]) == ["order"]

    def test_it_refuses_environment_changes_to_members(self, cast: Any, api: Any) -> None:
        assert api(cast.bob).post(url("environments/"), {"slug": "qa"}, format="json").status_code == 403
        assert api(cast.bob).delete(url("environments/prod/")).status_code == 403

    def test_it_still_reaches_an_environment_slugged_reorder(self, cast: Any, api: Any) -> None:
        client = api(cast.alice)
        client.post(url("environments/"), {"slug": "reorder"}, format="json")

        assert (
            client.patch(url("environments/reorder/"), {"name": "Odd name"}, format="json").json()["name"] == "Odd name"
        )
        assert client.delete(url("environments/reorder/")).status_code == 204


class TestFolders:
    def test_it_creates_lists_renames_and_deletes_folders(self, seeded: Any, api: Any) -> None:
        client = api(seeded.bob)
        received: list[dict[str, Any]] = []

        def on_change(**kwargs: Any) -> None:
            received.append(kwargs)

        created = client.post(url("folders/"), {"environment": "dev", "path": "/backend", "name": "api"}, format="json")
        listed = client.get(url("folders/"), {"environment": "dev", "path": "/backend"})
        renamed = client.patch(url("folders/?environment=dev&path=/backend"), {"name": "server"}, format="json")
        moved_secret = client.get(url("secrets/API_KEY/"), {"environment": "dev", "path": "/server"})
        secret_changed.connect(on_change)
        try:
            with self._on_commit_immediately():
                deleted = client.delete(url("folders/?environment=dev&path=/server"))
        finally:
            secret_changed.disconnect(on_change)

        assert created.status_code == 201 and created.json()["path"] == "/backend/api"
        assert [(f["name"], f["path"], f["environment"]) for f in listed.json()["folders"]] == [
            ("api", "/backend/api", "dev")
        ]
        assert renamed.json()["path"] == "/server"
        assert moved_secret.json()["value"] == "backend-key"
        assert deleted.status_code == 204
        assert client.get(url("folders/"), {"environment": "dev"}).json()["folders"] == []
        assert len(received) == 1 and received[0]["folder_id"] is not None

    @staticmethod
    def _on_commit_immediately() -> Any:
        from django.test import TestCase

        return TestCase.captureOnCommitCallbacks(execute=True)

    def test_it_answers_409_for_an_existing_folder_and_400_for_a_bad_name(self, seeded: Any, api: Any) -> None:
        client = api(seeded.bob)

        exists = client.post(url("folders/"), {"environment": "dev", "name": "backend"}, format="json")
        bad = client.post(url("folders/"), {"environment": "dev", "name": "../etc"}, format="json")
        root = client.delete(url("folders/?environment=dev&path=/"))

        assert exists.status_code == 409 and list(error_of(exists)["fields"]) == ["name"]
        assert bad.status_code == 400 and list(error_of(bad)["fields"]) == ["name"]
        assert root.status_code == 400 and list(error_of(root)["fields"]) == ["path"]

    def test_it_shows_a_path_scoped_role_only_the_way_to_its_folder(self, seeded: Any, api: Any) -> None:
        from secrets_app.services.members import member_update, role_create

        scope = seeded.scope(seeded.alice)
        role_create(
            scope=scope, slug="backend-only", name="Backend", rules=[{"action": "secrets.*", "path": "/backend/**"}]
        )
        api(seeded.alice).post(url("folders/"), {"environment": "dev", "name": "frontend"}, format="json")
        membership = seeded.project.memberships.get(user=seeded.bob)
        member_update(scope=scope, membership_id=membership.pk, role="backend-only")

        root = api(seeded.bob).get(url("folders/"), {"environment": "dev"})
        frontend = api(seeded.bob).get(url("folders/"), {"environment": "dev", "path": "/frontend"})

        assert [f["name"] for f in root.json()["folders"]] == ["backend"]
        assert frontend.status_code == 403


class TestImports:
    def test_it_creates_lists_reorders_and_deletes_imports(self, seeded: Any, api: Any) -> None:
        client = api(seeded.bob)
        first = client.post(url("imports/"), {"environment": "dev", "sourceEnvironment": "staging"}, format="json")
        second = client.post(
            url("imports/"), {"environment": "dev", "sourceEnvironment": "dev", "sourcePath": "/backend"}, format="json"
        )

        listed = client.get(url("imports/"), {"environment": "dev"}).json()["imports"]
        reordered = client.post(
            url("imports/reorder/"),
            {"environment": "dev", "order": [second.json()["id"], first.json()["id"]]},
            format="json",
        )
        duplicate = client.post(url("imports/"), {"environment": "dev", "sourceEnvironment": "staging"}, format="json")
        deleted = client.delete(url(f"imports/{first.json()['id']}/"))

        assert first.status_code == 201 and first.json()["sourceEnvironment"] == "staging"
        assert [(i["sourceEnvironment"], i["sourcePath"], i["position"]) for i in listed] == [
            ("staging", "/", 0),
            ("dev", "/backend", 1),
        ]
        assert [i["sourcePath"] for i in reordered.json()["imports"]] == ["/backend", "/"]
        assert duplicate.status_code == 409
        assert deleted.status_code == 204
        assert len(client.get(url("imports/"), {"environment": "dev"}).json()["imports"]) == 1

    def test_it_refuses_imports_to_a_role_without_imports_read(self, seeded: Any, api: Any) -> None:
        assert api(seeded.erin).get(url("imports/"), {"environment": "dev"}).status_code == 403


class TestTags:
    def test_it_creates_lists_and_deletes_tags(self, seeded: Any, api: Any) -> None:
        created = api(seeded.bob).post(url("tags/"), {"slug": "pci", "name": "PCI", "color": "#f00"}, format="json")
        listed = api(seeded.dave).get(url("tags/")).json()
        refused = api(seeded.dave).delete(url("tags/pci/"))
        deleted = api(seeded.bob).delete(url("tags/pci/"))

        assert created.status_code == 201 and created.json() == {"slug": "pci", "name": "PCI", "color": "#f00"}
        assert listed == {"tags": [{"slug": "pci", "name": "PCI", "color": "#f00"}]}
        assert refused.status_code == 403
        assert deleted.status_code == 204 and api(seeded.bob).delete(url("tags/pci/")).status_code == 404

    def test_it_refuses_an_unknown_tag_on_a_secret_naming_tags(self, seeded: Any, api: Any) -> None:
        response = api(seeded.bob).patch(url("secrets/DB_PASSWORD/?environment=dev"), {"tags": ["nope"]}, format="json")

        assert response.status_code == 400 and list(error_of(response)["fields"]) == ["tags"]


class TestMembersAndRoles:
    def test_it_adds_changes_and_removes_members(self, seeded: Any, api: Any) -> None:
        client = api(seeded.alice)

        added = client.post(url("members/"), {"email": "charlie@example.com", "role": "viewer"}, format="json")
        member_id = added.json()["id"]
        charlie_sees = api(seeded.charlie).get(url("secrets/"), {"environment": "dev"}).status_code
        changed = client.patch(url(f"members/{member_id}/"), {"role": "dev-only"}, format="json")
        listed = {m["email"]: m["role"] for m in client.get(url("members/")).json()["members"]}
        removed = client.delete(url(f"members/{member_id}/"))

        assert added.status_code == 201 and added.json()["role"] == "viewer"
        assert charlie_sees == 200
        assert changed.json()["role"] == "dev-only"
        assert listed["charlie@example.com"] == "dev-only" and listed["alice@example.com"] == "admin"
        assert removed.status_code == 204
        assert api(seeded.charlie).get(url("secrets/"), {"environment": "dev"}).status_code == 404

    def test_it_refuses_unknown_people_duplicates_and_outsiders(self, seeded: Any, api: Any) -> None:
        client = api(seeded.alice)

        unknown = client.post(url("members/"), {"email": "nobody@example.com", "role": "viewer"}, format="json")
        outsider = client.post(url("members/"), {"email": "mallory@example.com", "role": "viewer"}, format="json")
        duplicate = client.post(url("members/"), {"email": "bob@example.com", "role": "viewer"}, format="json")
        bad_role = client.post(url("members/"), {"email": "charlie@example.com", "role": "god"}, format="json")

        assert unknown.status_code == outsider.status_code == 404
        assert duplicate.status_code == 409
        assert bad_role.status_code == 400 and list(error_of(bad_role)["fields"]) == ["role"]

    def test_it_lists_builtin_and_custom_roles_with_rules(self, seeded: Any, api: Any) -> None:
        roles = {role["slug"]: role for role in api(seeded.dave).get(url("roles/")).json()["roles"]}

        assert list(roles) == ["admin", "member", "viewer", "no-access", "dev-only"]
        assert roles["admin"]["builtin"] and roles["admin"]["rules"] == [
            {"effect": "allow", "action": "*", "environments": [], "path": "/**", "tags": []}
        ]
        assert not roles["dev-only"]["builtin"] and roles["dev-only"]["memberCount"] == 1
        assert {rule["action"] for rule in roles["dev-only"]["rules"]} == {"secrets.*", "folders.*"}
        assert all(rule["environments"] == ["dev"] for rule in roles["dev-only"]["rules"])

    @pytest.mark.parametrize("route", ["roles/", "roles/prod-reader/"])
    def test_it_creates_updates_and_deletes_custom_roles(self, seeded: Any, api: Any, route: str) -> None:
        client = api(seeded.alice)
        rules = [
            {"action": "secrets.read", "environments": ["prod"]},
            {"effect": "deny", "action": "secrets.read_value", "environments": ["prod"], "path": "/backend/**"},
        ]
        body = (
            {"slug": "prod-reader", "name": "Prod reader", "rules": rules}
            if route == "roles/"
            else {"name": "Prod reader", "rules": rules}
        )

        created = client.post(url(route), body, format="json")
        updated = client.patch(url("roles/prod-reader/"), {"rules": rules[:1]}, format="json")
        deleted = client.delete(url("roles/prod-reader/"))

        assert created.status_code == 201, created.content
        assert created.json()["slug"] == "prod-reader" and not created.json()["builtin"]
        assert [rule["effect"] for rule in created.json()["rules"]] == ["allow", "deny"]
        assert updated.json()["rules"] == [
            {"effect": "allow", "action": "secrets.read", "environments": ["prod"], "path": "/**", "tags": []}
        ]
        assert deleted.status_code == 204

    def test_it_names_the_bad_rule_field(self, seeded: Any, api: Any) -> None:
        response = api(seeded.alice).post(
            url("roles/"), {"slug": "bad", "rules": [{"action": "secrets.read"}, {"action": "nope.fly"}]}, format="json"
        )
        unknown_field = api(seeded.alice).post(
            url("roles/"), {"slug": "bad", "rules": [{"action": "*", "scope": "x"}]}, format="json"
        )
        mismatch = api(seeded.alice).post(url("roles/other/"), {"slug": "bad", "rules": []}, format="json")

        assert response.status_code == 400 and list(error_of(response)["fields"]) == ["rules[1].action"]
        assert unknown_field.status_code == 400 and list(error_of(unknown_field)["fields"]) == ["rules[0].scope"]
        assert mismatch.status_code == 400 and list(error_of(mismatch)["fields"]) == ["slug"]

    def test_it_refuses_deleting_a_role_in_use(self, seeded: Any, api: Any) -> None:
        assert api(seeded.alice).delete(url("roles/dev-only/")).status_code == 409

    def test_it_records_membership_changes(self, seeded: Any, api: Any) -> None:
        api(seeded.alice).post(url("members/"), {"email": "charlie@example.com", "role": "viewer"}, format="json")

        event = AuditEvent.objects.filter(action="member.added").latest("id")
        assert event.actor_label == "alice@example.com" and event.metadata["email"] == "charlie@example.com"
