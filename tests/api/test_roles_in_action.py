"""What the cast's roles see through the API: dave (viewer) never receives a value; erin (dev-only
custom role) never sees prod; bob (member) cannot hand out admin."""

from __future__ import annotations

import json
from typing import Any

import pytest

from audit.models import AuditEvent
from tests.api.conftest import error_of, url


def _walk_for_value_keys(data: Any) -> list[str]:
    """Every ``value``/``comment`` key anywhere in a JSON document."""
    found: list[str] = []
    if isinstance(data, dict):
        found += [key for key in data if key in ("value", "comment")]
        for item in data.values():
            found += _walk_for_value_keys(item)
    elif isinstance(data, list):
        for item in data:
            found += _walk_for_value_keys(item)
    return found


class TestViewer:
    def test_it_lists_names_without_any_value_field(self, seeded: Any, api: Any) -> None:
        response = api(seeded.dave).get(url("secrets/"), {"environment": "dev", "recursive": "true"})

        assert response.status_code == 200
        assert [s["key"] for s in response.json()["secrets"]] == ["DB_PASSWORD", "API_KEY"]
        assert _walk_for_value_keys(response.json()) == []
        assert "dev-password" not in response.content.decode()

    def test_it_refuses_a_listing_with_values_and_records_the_refusal(self, seeded: Any, api: Any) -> None:
        response = api(seeded.dave).get(url("secrets/"), {"environment": "dev", "include_values": "true"})

        assert response.status_code == 403
        assert error_of(response)["code"] == "permission_denied"
        assert "dev-password" not in response.content.decode()
        denial = AuditEvent.objects.filter(action="permission.denied").latest("id")
        assert denial.actor_label == "dave@example.com" and denial.metadata["requested_action"] == "secrets.read_value"

    @pytest.mark.parametrize("params", [{}, {"version": "1"}, {"expand": "true"}, {"type": "shared"}])
    def test_it_refuses_a_single_value(self, seeded: Any, api: Any, params: dict[str, str]) -> None:
        response = api(seeded.dave).get(url("secrets/DB_PASSWORD/"), {"environment": "dev", **params})

        assert response.status_code == 403
        assert "dev-password" not in response.content.decode()

    def test_it_reads_metadata_only_when_asking_for_no_value(self, seeded: Any, api: Any) -> None:
        response = api(seeded.dave).get(url("secrets/DB_PASSWORD/"), {"environment": "dev", "include_value": "false"})

        assert response.status_code == 200
        assert response.json()["key"] == "DB_PASSWORD" and _walk_for_value_keys(response.json()) == []

    def test_it_never_finds_a_value_anywhere_a_viewer_can_reach(self, seeded: Any, api: Any) -> None:
        client = api(seeded.dave)
        bodies = [
            client.get(url(path), params).json()
            for path, params in [
                ("secrets/", {"environment": env, "include_imports": "true"}) for env in ("dev", "staging", "prod")
            ]
            + [
                ("secrets/DB_PASSWORD/versions/", {"environment": "dev"}),
                ("commits/", {"environment": "dev"}),
                ("folders/", {"environment": "dev"}),
                ("imports/", {"environment": "dev"}),
                ("", {}),
                ("environments/", {}),
                ("tags/", {}),
                ("members/", {}),
                ("roles/", {}),
            ]
        ]

        text = json.dumps(bodies)
        assert _walk_for_value_keys(bodies) == []
        assert not any(
            secret in text for secret in ("dev-password", "staging-password", "prod-password", "backend-key")
        )

    def test_it_refuses_writes(self, seeded: Any, api: Any) -> None:
        client = api(seeded.dave)

        assert (
            client.post(url("secrets/"), {"environment": "dev", "key": "X", "value": "1"}, format="json").status_code
            == 403
        )
        assert (
            client.patch(url("secrets/DB_PASSWORD/?environment=dev"), {"value": "1"}, format="json").status_code == 403
        )
        assert client.delete(url("secrets/DB_PASSWORD/?environment=dev")).status_code == 403


class TestDevOnlyRole:
    def test_it_lists_only_dev_among_environments(self, seeded: Any, api: Any) -> None:
        client = api(seeded.erin)

        environments = client.get(url("environments/")).json()["environments"]
        project = client.get(url()).json()
        listed = client.get("/api/v1/projects/").json()["projects"][0]

        assert [env["slug"] for env in environments] == ["dev"]
        assert [env["slug"] for env in project["environments"]] == ["dev"] and project["role"] == "dev-only"
        assert [env["slug"] for env in listed["environments"]] == ["dev"]

    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("get", "secrets/?environment=prod", None),
            ("get", "secrets/?environment=prod&include_values=true", None),
            ("get", "secrets/DB_PASSWORD/?environment=prod", None),
            ("get", "secrets/DB_PASSWORD/?environment=prod&include_value=false", None),
            ("get", "secrets/DB_PASSWORD/versions/?environment=prod", None),
            ("get", "folders/?environment=prod", None),
            ("get", "commits/?environment=prod", None),
            ("post", "secrets/", {"environment": "prod", "key": "X", "value": "1"}),
            ("post", "secrets/bulk/", {"environment": "prod", "secrets": [{"key": "X", "value": "1"}]}),
            ("patch", "secrets/DB_PASSWORD/?environment=prod", {"value": "1"}),
            ("delete", "secrets/DB_PASSWORD/?environment=prod", None),
            ("post", "secrets/DB_PASSWORD/rollback/", {"environment": "prod", "version": 1}),
            ("post", "folders/", {"environment": "prod", "name": "x"}),
        ],
    )
    def test_it_refuses_everything_in_prod(self, seeded: Any, api: Any, method: str, path: str, body: Any) -> None:
        client = api(seeded.erin)
        response = (
            getattr(client, method)(url(path), body, format="json") if body else getattr(client, method)(url(path))
        )

        assert response.status_code in (403, 404)
        assert "prod-password" not in response.content.decode()

    def test_it_works_in_dev(self, seeded: Any, api: Any) -> None:
        client = api(seeded.erin)

        assert client.get(url("secrets/DB_PASSWORD/"), {"environment": "dev"}).json()["value"] == "dev-password"
        assert (
            client.post(url("secrets/"), {"environment": "dev", "key": "E", "value": "1"}, format="json").status_code
            == 201
        )

    def test_it_sees_dev_audit_events_nowhere(self, seeded: Any, api: Any) -> None:
        assert api(seeded.erin).get("/api/v1/audit-events/").status_code == 403


class TestMember:
    def test_it_cannot_grant_admin(self, seeded: Any, api: Any) -> None:
        response = api(seeded.bob).post(
            url("members/"), {"email": "charlie@example.com", "role": "admin"}, format="json"
        )

        assert response.status_code == 403

    def test_it_reads_the_projects_audit_log(self, seeded: Any, api: Any) -> None:
        response = api(seeded.bob).get("/api/v1/audit-events/", {"project": "acme", "action": "secret.*"})

        assert response.status_code == 200
        assert {event["action"] for event in response.json()["results"]} == {"secret.created"}
        assert all(event["project"]["slug"] == "acme" for event in response.json()["results"])
