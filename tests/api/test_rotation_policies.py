"""Rotation policies over the API: PUT/DELETE secrets/{key}/rotation-policy/ and GET secrets-due/."""

from __future__ import annotations

import pytest

from secrets_app.models import Environment, Secret

URL = "/api/v1/projects/acme/secrets/DB_PASSWORD/rotation-policy/?environment=prod"
DUE = "/api/v1/projects/acme/secrets-due/"


@pytest.mark.django_db
def test_it_sets_and_clears_the_policy_and_lists_due_secrets(seeded, api):
    alice = api(seeded.alice)
    response = alice.put(URL, {"intervalDays": 1, "ownerId": seeded.bob.pk}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "key": "DB_PASSWORD",
        "environment": "prod",
        "path": "/",
        "intervalDays": 1,
        "ownerId": seeded.bob.pk,
        "markedDueAt": None,
    }
    [entry] = alice.get(DUE).json()["secrets"]  # due within a day: "due soon"
    assert (entry["key"], entry["environment"], entry["status"], entry["owner"]) == (
        "DB_PASSWORD",
        "prod",
        "due_soon",
        seeded.bob.get_username(),
    )
    assert "value" not in entry
    assert alice.delete(URL).status_code == 204
    assert alice.get(DUE).json() == {"secrets": []}


@pytest.mark.django_db
def test_it_refuses_viewers_outsiders_and_unknown_fields(seeded, api):
    assert api(seeded.dave).put(URL, {"intervalDays": 30}, format="json").status_code == 403
    assert api(seeded.charlie).put(URL, {"intervalDays": 30}, format="json").status_code == 404
    assert api(seeded.charlie).get(DUE).status_code == 404
    bad = api(seeded.alice).put(URL, {"intervalDays": 30, "owner": "bob"}, format="json")
    assert bad.status_code == 400
    assert Secret.objects.filter(rotation_interval_days__isnull=False).count() == 0


@pytest.mark.django_db
def test_it_lists_only_what_the_caller_may_see(seeded, api):
    Environment.objects.filter(project=seeded.project).update(reveal_marks_due=True)
    Secret.objects.filter(key="DB_PASSWORD").update(rotation_interval_days=1)
    Secret.objects.filter(key="DB_PASSWORD").update(rotation_due_at="2026-01-01T00:00:00Z")
    assert {entry["environment"] for entry in api(seeded.alice).get(DUE).json()["secrets"]} == {
        "dev",
        "staging",
        "prod",
    }
    assert [entry["environment"] for entry in api(seeded.erin).get(DUE).json()["secrets"]] == ["dev"]


@pytest.mark.django_db
def test_it_lets_an_environment_manager_turn_on_reveal_marks_due(seeded, api):
    url = "/api/v1/projects/acme/environments/prod/"
    assert api(seeded.bob).patch(url, {"revealMarksDue": True}, format="json").status_code == 403
    response = api(seeded.alice).patch(url, {"revealMarksDue": True}, format="json")
    assert response.status_code == 200 and response.json()["revealMarksDue"] is True
    assert Environment.objects.get(project=seeded.project, slug="prod").reveal_marks_due is True
