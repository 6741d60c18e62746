# ruff: noqa: F811  (the lp_history fixture is imported, then named by the tests)
"""Least-privilege proposals over the REST API."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from tests.governance.lp_fixtures import VALUES, lp_history, read_prod_api  # noqa: F401

URL = "/api/v1/projects/acme/governance/least-privilege/"


@pytest.mark.django_db
def test_it_lists_granted_vs_delivered_and_applies_a_proposal(lp_history, api):
    client = api(lp_history.cast.alice)
    listed = client.get(URL)
    assert listed.status_code == 200, listed.content
    body = listed.json()
    assert body["days"] == 30
    by_name = {item["identity"]["name"]: item for item in body["identities"]}
    reader = by_name["api-reader"]
    assert reader["role"] == "member"
    assert [(f["environment"], f["path"], f["keys"]) for f in reader["delivered"]] == [
        ("prod", "/backend/api", ["API_KEY", "DB_URL"])
    ]
    assert reader["proposal"]["kind"] == "narrow"
    assert [rule["description"] for rule in reader["proposal"]["rules"]] == [
        "allow secrets.read in prod at /backend/api/**",
        "allow secrets.read_value in prod at /backend/api/**",
    ]
    assert by_name["idle-bot"]["proposal"]["kind"] == "remove"
    for value in VALUES:
        assert value not in listed.content.decode()

    identity = reader["identity"]["id"]
    one = client.get(f"{URL}{identity}/", {"days": 7})
    assert one.status_code == 200 and one.json()["days"] == 7

    stale = client.post(f"{URL}{identity}/apply/", {"fingerprint": "0" * 16}, format="json")
    assert stale.status_code == 409
    applied = client.post(f"{URL}{identity}/apply/", {"fingerprint": reader["proposal"]["fingerprint"]}, format="json")
    assert applied.status_code == 200, applied.content
    assert applied.json()["role"] == "lp-api-reader"
    assert applied.json()["proposal"]["kind"] == "keep"
    assert AuditEvent.objects.filter(action="identity.least_privilege_applied").count() == 1
    assert read_prod_api(lp_history).status_code == 200
    again = client.post(f"{URL}{identity}/apply/", {}, format="json")
    assert again.status_code == 409


@pytest.mark.django_db
def test_it_lets_bob_read_proposals_but_not_apply_them(lp_history, api):
    client = api(lp_history.cast.bob)
    identity = lp_history.reader.identity.public_id
    assert client.get(URL).status_code == 200
    refused = client.post(f"{URL}{identity}/apply/", {}, format="json")
    assert refused.status_code == 403
    assert api(lp_history.cast.dave).get(URL).status_code == 403  # a viewer has no governance.read


@pytest.mark.django_db
def test_it_answers_400_naming_the_field(lp_history, api):
    client = api(lp_history.cast.alice)
    identity = lp_history.reader.identity.public_id
    assert "days" in client.get(URL, {"days": 0}).json()["error"]["fields"]
    unknown = client.post(f"{URL}{identity}/apply/", {"dayz": 3}, format="json")
    assert unknown.status_code == 400 and "dayz" in unknown.json()["error"]["fields"]


@pytest.mark.django_db
def test_it_answers_404_to_people_outside_the_project(lp_history, api):
    identity = lp_history.reader.identity.public_id
    for who in (lp_history.cast.charlie, lp_history.cast.mallory):
        client = api(who)
        assert client.get(URL).status_code == 404
        assert client.get(f"{URL}{identity}/").status_code == 404
        assert client.post(f"{URL}{identity}/apply/", {}, format="json").status_code == 404


@pytest.mark.django_db
def test_it_answers_404_for_an_identity_not_in_the_project(lp_history, api):
    client = api(lp_history.cast.alice)
    assert client.get(f"{URL}00000000-0000-4000-8000-000000000000/").status_code == 404
    assert client.get(f"{URL}not-a-uuid/").status_code == 404


@pytest.mark.django_db
def test_it_downloads_the_proposals_as_csv(lp_history, api):
    import csv
    import io

    response = api(lp_history.cast.alice).get(URL, {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    rows = {row["identity"]: row for row in csv.DictReader(io.StringIO(text))}
    reader = rows["api-reader"]
    assert (reader["role"], reader["proposal"]) == ("member", "narrow")
    assert reader["delivered"] == "prod:/backend/api (2 keys)"
    assert reader["proposed_rules"] == (
        "allow secrets.read in prod at /backend/api/** | allow secrets.read_value in prod at /backend/api/**"
    )
    assert rows["idle-bot"]["proposal"] == "remove"
    for value in VALUES:
        assert value not in text
