"""Request handling shared by every endpoint: JSON only, strict bodies (nothing mass-assigned), strict
query flags, one error shape, no caching of answers."""

from __future__ import annotations

from typing import Any

import pytest

from secrets_app.models import Secret
from tests.api.conftest import error_of, url


def test_it_refuses_a_form_encoded_body_with_415(seeded: Any, api: Any) -> None:
    response = api(seeded.bob).post(
        url("secrets/"), "environment=dev&key=K&value=v", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_it_refuses_malformed_json_with_400(seeded: Any, api: Any) -> None:
    response = api(seeded.bob).post(url("secrets/"), '{"key": ', content_type="application/json")

    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"


def test_it_refuses_a_json_array_where_an_object_is_expected(seeded: Any, api: Any) -> None:
    response = api(seeded.bob).post(url("secrets/"), [1, 2], format="json")

    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"


@pytest.mark.parametrize(
    ("path", "body", "unknown"),
    [
        ("secrets/", {"environment": "dev", "key": "K", "value": "v", "version": 7}, "version"),
        ("secrets/", {"environment": "dev", "key": "K", "value": "v", "project_id": 2}, "project_id"),
        ("secrets/", {"environment": "dev", "key": "K", "value": "v", "created_by": 1}, "created_by"),
        ("secrets/", {"environment": "dev", "key": "K", "value": "v", "expires_at": "2030-01-01"}, "expires_at"),
        ("tags/", {"slug": "pci", "project": 99}, "project"),
        ("/api/v1/projects/", {"slug": "p", "name": "P", "id": "00000000-0000-0000-0000-000000000000"}, "id"),
    ],
)
def test_it_refuses_unknown_fields_naming_them(
    seeded: Any, api: Any, path: str, body: dict[str, Any], unknown: str
) -> None:
    target = path if path.startswith("/") else url(path)

    response = api(seeded.bob).post(target, body, format="json")

    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == [unknown]
    assert not Secret.objects.filter(key="K").exists()


def test_it_refuses_unknown_fields_inside_bulk_items(seeded: Any, api: Any) -> None:
    body = {"environment": "dev", "secrets": [{"key": "K", "value": "v", "version": 9}]}

    response = api(seeded.bob).post(url("secrets/bulk/"), body, format="json")

    assert response.status_code == 400
    assert error_of(response)["fields"] == {"secrets[0].version": ["is not a field of this request"]}


@pytest.mark.parametrize("flag", ["include_values", "expand", "include_imports", "recursive"])
@pytest.mark.parametrize("raw", ["yes", "1", "", "TRUEISH"])
def test_it_refuses_a_boolean_flag_that_is_not_true_or_false_naming_it(
    seeded: Any, api: Any, flag: str, raw: str
) -> None:
    response = api(seeded.bob).get(url("secrets/"), {"environment": "dev", flag: raw})

    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == [flag]


@pytest.mark.parametrize("raw", ["true", "True", "FALSE", "false"])
def test_it_accepts_true_and_false_in_any_case(seeded: Any, api: Any, raw: str) -> None:
    response = api(seeded.bob).get(url("secrets/"), {"environment": "dev", "include_values": raw})

    assert response.status_code == 200
    assert ("value" in response.json()["secrets"][0]) == (raw.lower() == "true")


def test_it_names_a_missing_environment(seeded: Any, api: Any) -> None:
    response = api(seeded.bob).get(url("secrets/"))

    assert response.status_code == 400
    assert error_of(response)["fields"] == {"environment": ["This field is required."]}


def test_it_answers_404_naming_an_unknown_environment_or_folder(seeded: Any, api: Any) -> None:
    environment = api(seeded.bob).get(url("secrets/"), {"environment": "nope"})
    folder = api(seeded.bob).get(url("secrets/"), {"environment": "dev", "path": "/nope"})

    assert environment.status_code == 404 and list(error_of(environment)["fields"]) == ["environment"]
    assert folder.status_code == 404 and list(error_of(folder)["fields"]) == ["path"]


def test_it_answers_405_in_the_error_shape(seeded: Any, api: Any) -> None:
    response = api(seeded.bob).put(url("secrets/DB_PASSWORD/?environment=dev"), {"value": "x"}, format="json")

    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_it_marks_every_answer_no_store_and_carries_the_request_id(seeded: Any, api: Any) -> None:
    client = api(seeded.bob)
    responses = [
        client.get(url("secrets/DB_PASSWORD/"), {"environment": "dev"}),
        client.get(url("secrets/"), {"environment": "dev", "include_values": "true"}),
        client.get(url("secrets/NOPE/"), {"environment": "dev"}),
        client.get("/api/v1/me/"),
    ]

    for response in responses:
        assert response["Cache-Control"] == "no-store"
        assert response["X-Request-Id"].startswith("req-")
    assert error_of(responses[2])["code"] == "not_found"
    assert responses[2].json()["requestId"] == responses[2]["X-Request-Id"]


def test_it_answers_503_in_the_error_shape_when_sealed(seeded: Any, api: Any, settings: Any) -> None:
    from secrets_app.keyring import keyring

    client = api(seeded.bob)
    settings.STRONGROOM_ROOT_KEY = ""
    keyring.reset()

    response = client.get(url("secrets/DB_PASSWORD/"), {"environment": "dev"})

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "sealed"
    assert "dev-password" not in response.content.decode()
