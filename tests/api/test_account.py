"""The caller's own things: who am I, personal tokens, and the audit log they may read."""

from __future__ import annotations

from typing import Any

from audit.models import AuditEvent
from tests.api.conftest import error_of, url


def test_it_says_who_the_caller_is(cast: Any, api: Any) -> None:
    response = api(cast.mallory).get("/api/v1/me/")

    assert response.json() | {"id": 0} == {
        "id": 0,
        "email": "mallory@example.com",
        "username": "mallory@example.com",
        "organizations": [{"slug": "evil-org", "name": "Evil", "role": "admin"}],
    }


def test_it_creates_a_token_shown_once_that_works_and_can_be_revoked(cast: Any, api: Any) -> None:
    from rest_framework.test import APIClient

    created = api(cast.bob).post("/api/v1/tokens/", {"name": "ci", "expiresInDays": 30}, format="json")
    token = created.json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    works = client.get("/api/v1/me/")
    listed = client.get("/api/v1/tokens/").json()["tokens"]
    revoked = client.delete(f"/api/v1/tokens/{created.json()['id']}/")
    after = client.get("/api/v1/me/")

    assert created.status_code == 201 and token.startswith("srp_") and created.json()["prefix"] == token[:8]
    assert created.json()["expiresAt"] is not None
    assert works.json()["email"] == "bob@example.com"
    assert {t["name"] for t in listed} == {"ci", "test"} and all("token" not in t for t in listed)
    assert token not in str(listed)
    assert revoked.status_code == 204
    assert after.status_code == 401
    assert token not in str(list(AuditEvent.objects.values()))


def test_it_names_a_bad_token_expiry(cast: Any, api: Any) -> None:
    response = api(cast.bob).post("/api/v1/tokens/", {"name": "ci", "expiresInDays": 0}, format="json")

    assert response.status_code == 400 and list(error_of(response)["fields"]) == ["expiresInDays"]


class TestAuditEvents:
    def test_it_pages_the_admins_events_newest_first(self, seeded: Any, api: Any) -> None:
        client = api(seeded.alice)

        first = client.get("/api/v1/audit-events/", {"limit": 2}).json()
        second = client.get("/api/v1/audit-events/", {"limit": 2, "offset": 2}).json()

        assert len(first["results"]) == 2 and first["next"] and first["previous"] is None
        assert first["count"] >= 10
        ids = [event["id"] for event in first["results"] + second["results"]]
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4

    def test_it_filters_by_action_actor_outcome_environment_and_time(self, seeded: Any, api: Any) -> None:
        api(seeded.dave).get(url("secrets/"), {"environment": "prod", "include_values": "true"})
        client = api(seeded.alice)

        denied = client.get("/api/v1/audit-events/", {"project": "acme", "outcome": "deny"}).json()["results"]
        by_actor = client.get("/api/v1/audit-events/", {"actor": "dave@"}).json()["results"]
        created_in_prod = client.get(
            "/api/v1/audit-events/", {"action": "secret.created", "environment": "prod"}
        ).json()
        future = client.get("/api/v1/audit-events/", {"since": "2999-01-01T00:00:00Z"}).json()

        assert [(e["action"], e["actor"]["label"], e["environment"]) for e in denied] == [
            ("permission.denied", "dave@example.com", "prod")
        ]
        assert {e["actor"]["label"] for e in by_actor} == {"dave@example.com"}
        assert [e["resourceId"] for e in created_in_prod["results"]] == ["DB_PASSWORD"]
        assert created_in_prod["results"][0]["project"] == {"id": str(seeded.project.public_id), "slug": "acme"}
        assert future == {"count": 0, "next": None, "previous": None, "results": []}

    def test_it_records_each_read_of_the_log(self, seeded: Any, api: Any) -> None:
        api(seeded.bob).get("/api/v1/audit-events/", {"project": "acme", "action": "secret.*"})

        event = AuditEvent.objects.filter(action="audit.log_read").latest("id")
        assert event.actor_label == "bob@example.com" and event.project_id == seeded.project.pk
        assert event.metadata["filters"] == {"action": "secret.*"}

    def test_it_refuses_a_viewer_and_a_bad_filter(self, seeded: Any, api: Any) -> None:
        viewer = api(seeded.dave).get("/api/v1/audit-events/", {"project": "acme"})
        bad_outcome = api(seeded.alice).get("/api/v1/audit-events/", {"outcome": "maybe"})
        bad_since = api(seeded.alice).get("/api/v1/audit-events/", {"since": "yesterday"})
        bad_limit = api(seeded.alice).get("/api/v1/audit-events/", {"limit": "0"})

        assert viewer.status_code == 403
        assert bad_outcome.status_code == 400 and list(error_of(bad_outcome)["fields"]) == ["outcome"]
        assert bad_since.status_code == 400 and list(error_of(bad_since)["fields"]) == ["since"]
        assert bad_limit.status_code == 400 and list(error_of(bad_limit)["fields"]) == ["limit"]

    def test_it_lets_an_org_admin_read_organization_events_of_every_project(self, seeded: Any, api: Any) -> None:
        events = api(seeded.mallory).get("/api/v1/audit-events/", {"limit": 500}).json()["results"]

        actions = {event["action"] for event in events}
        assert "organization.created" in actions or "user.created" in actions
        assert "project.created" in actions


def test_an_offset_past_what_the_database_takes_is_a_400_naming_it(seeded: Any, api: Any) -> None:
    # PostgreSQL refuses an OFFSET beyond a bigint: without a bound this was a 500.
    client = api(seeded.alice)
    for route in ("/api/v1/audit-events/", url("governance/risks/"), url("change-requests/")):
        response = client.get(route, {"offset": 10**20})
        assert response.status_code == 400, (route, response.content)
        assert list(error_of(response)["fields"]) == ["offset"]
