# ruff: noqa: F811  (the history fixture is imported, then named by the tests)
"""Environment parity over the REST API: GET projects/<project>/governance/parity/."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from tests.governance.parity_fixtures import ALL_VALUES, history  # noqa: F401

URL = "/api/v1/projects/acme/governance/parity/"


@pytest.mark.django_db
def test_it_lists_the_differences_from_staging_to_prod(history, api):
    response = api(history.alice).get(URL, {"from": "staging", "to": "prod"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] is False
    assert (body["source"], body["target"], body["path"], body["recursive"]) == ("staging", "prod", "/", True)
    assert [(item["path"], item["key"]) for item in body["missing"]] == [("/", "NEW_FLAG"), ("/backend/api", "CACHE")]
    assert [(item["path"], item["key"]) for item in body["extra"]] == [("/", "LEGACY")]
    assert [(item["path"], item["key"]) for item in body["sameValue"]] == [
        ("/", "API_TOKEN"),
        ("/backend/api", "API_KEY"),
    ]
    assert body["counts"] == {"missing": 2, "extra": 1, "sameValue": 2, "unknown": 0, "compared": 3}
    for value in ALL_VALUES:
        assert value not in response.content.decode()
    assert AuditEvent.objects.filter(action="environment.parity_checked", project_id=history.project.pk).count() == 1


@pytest.mark.django_db
def test_it_holds_parity_below_a_path_when_not_recursive(history, api):
    response = api(history.bob).get(
        URL, {"from": "staging", "to": "prod", "path": "/backend/api", "recursive": "false"}
    )
    assert response.status_code == 200, response.content
    assert [item["key"] for item in response.json()["missing"]] == ["CACHE"]


@pytest.mark.django_db
def test_it_answers_400_naming_the_parameter(history, api):
    client = api(history.alice)
    missing_from = client.get(URL, {"to": "prod"})
    assert missing_from.status_code == 400
    assert "from" in missing_from.json()["error"]["fields"]
    same = client.get(URL, {"from": "prod", "to": "prod"})
    assert same.status_code == 400 and "target" in same.json()["error"]["fields"]
    bad_path = client.get(URL, {"from": "staging", "to": "prod", "path": "/../etc"})
    assert bad_path.status_code == 400 and "path" in bad_path.json()["error"]["fields"]


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["charlie", "mallory"])
def test_it_answers_404_to_people_outside_the_project(history, api, who):
    response = api(getattr(history, who)).get(URL, {"from": "staging", "to": "prod"})
    assert response.status_code == 404


@pytest.mark.django_db
def test_it_answers_404_for_an_environment_the_caller_may_not_see(history, api):
    response = api(history.erin).get(URL, {"from": "dev", "to": "prod"})
    assert response.status_code == 404


@pytest.mark.django_db
def test_it_is_in_the_openapi_schema(db, api, cast):
    schema = api().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/v1/projects/{project}/governance/parity/"]["get"]
    assert operation["operationId"] == "governance_parity"
    assert {parameter["name"] for parameter in operation["parameters"]} >= {
        "project",
        "from",
        "to",
        "path",
        "recursive",
    }


@pytest.mark.django_db
def test_it_downloads_the_differences_as_csv(history, api):
    response = api(history.alice).get(URL, {"from": "staging", "to": "prod", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines == [
        "finding,path,key,detail",
        'missing,/,NEW_FLAG,"in staging, not in prod"',
        'missing,/backend/api,CACHE,"in staging, not in prod"',
        'extra,/,LEGACY,"in prod, not in staging"',
        "same_value,/,API_TOKEN,the same value in both",
        "same_value,/backend/api,API_KEY,the same value in both",
    ]
    for value in ALL_VALUES:
        assert value not in "\n".join(lines)
