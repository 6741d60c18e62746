"""``Idempotency-Key`` on POST: a retry replays the first answer without running the action again;
the same key for a different request is refused; failures free the key; tokens are never stored."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from secrets_app.models import IdempotencyRecord, Secret, SecretVersion
from secrets_app.services import idempotency
from tests.api.conftest import error_of, url
from tests.secrets_app.conftest import run_in_threads, shared_db  # noqa: F401  (fixture)

BODY = {"environment": "dev", "key": "PAYMENT_KEY", "value": "pk_1"}


def _post(client: Any, body: dict[str, Any], key: str = "retry-1", path: str = "secrets/") -> Any:
    return client.post(url(path), body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_it_replays_a_retried_create_without_writing_twice(seeded: Any, api: Any) -> None:
    client = api(seeded.bob)

    first = _post(client, BODY)
    second = _post(client, BODY)

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    secret = Secret.objects.get(key="PAYMENT_KEY", deleted_at__isnull=True)
    assert SecretVersion.objects.filter(secret=secret).count() == 1
    assert "pk_1" not in str(IdempotencyRecord.objects.get().response_body)


def test_it_replays_a_retried_rollback_as_one_new_version(seeded: Any, api: Any) -> None:
    client = api(seeded.bob)
    client.patch(url("secrets/DB_PASSWORD/?environment=dev"), {"value": "v2"}, format="json")
    body = {"environment": "dev", "version": 1}

    responses = [_post(client, body, path="secrets/DB_PASSWORD/rollback/") for _ in range(3)]

    assert [r.json()["version"] for r in responses] == [3, 3, 3]
    versions = client.get(url("secrets/DB_PASSWORD/versions/"), {"environment": "dev"}).json()["versions"]
    assert [v["version"] for v in versions] == [3, 2, 1]


def test_it_refuses_the_same_key_with_a_different_body_with_422(seeded: Any, api: Any) -> None:
    client = api(seeded.bob)
    _post(client, BODY)

    response = _post(client, {**BODY, "value": "pk_2"})

    assert response.status_code == 422
    assert error_of(response)["code"] == "idempotency_key_reused"
    assert "pk_2" not in response.content.decode()


def test_it_refuses_the_same_key_on_another_route_with_422(seeded: Any, api: Any) -> None:
    client = api(seeded.bob)
    _post(client, BODY)

    response = _post(client, {"slug": "pci"}, path="tags/")

    assert response.status_code == 422


def test_it_keeps_keys_apart_per_caller(seeded: Any, api: Any) -> None:
    first = _post(api(seeded.bob), BODY)
    second = _post(api(seeded.alice), {**BODY, "key": "OTHER"})

    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in second


def test_it_frees_the_key_when_the_request_fails(seeded: Any, api: Any) -> None:
    client = api(seeded.bob)

    conflict = _post(client, {**BODY, "key": "DB_PASSWORD"})
    retried_with_a_fix = _post(client, BODY)

    assert conflict.status_code == 409
    assert retried_with_a_fix.status_code == 201
    assert IdempotencyRecord.objects.get().status_code == 201


def test_it_keeps_the_audited_refusal_of_a_request_with_a_key(seeded: Any, api: Any) -> None:
    from audit.models import AuditEvent

    response = _post(api(seeded.dave), BODY)

    assert response.status_code == 403
    assert AuditEvent.objects.filter(action="permission.denied", actor_label="dave@example.com").exists()
    assert not IdempotencyRecord.objects.exists()


def test_it_refuses_a_key_on_token_creation_so_a_token_is_never_stored(seeded: Any, api: Any) -> None:
    response = api(seeded.bob).post("/api/v1/tokens/", {"name": "ci"}, format="json", HTTP_IDEMPOTENCY_KEY="t-1")

    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["Idempotency-Key"]
    assert not IdempotencyRecord.objects.exists()
    assert api(seeded.bob).get("/api/v1/tokens/").json()["tokens"][0]["name"] == "test"


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "bad\nkey"])
def test_it_refuses_a_malformed_key(seeded: Any, api: Any, key: str) -> None:
    response = _post(api(seeded.bob), BODY, key=key)

    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["Idempotency-Key"]


def test_it_answers_409_while_the_first_request_is_still_running(seeded: Any, api: Any, monkeypatch: Any) -> None:
    client = api(seeded.bob)
    monkeypatch.setattr(idempotency, "WAIT_SECONDS", 0.1)
    first = _post(client, BODY)
    IdempotencyRecord.objects.update(status_code=idempotency.IN_PROGRESS)

    response = _post(client, BODY)

    assert first.status_code == 201
    assert response.status_code == 409
    assert error_of(response)["code"] == "idempotency_in_progress"


def test_it_takes_over_a_reservation_abandoned_by_a_crashed_request(seeded: Any, api: Any) -> None:
    client = api(seeded.bob)
    first = _post(client, {**BODY, "key": "CRASHED"})
    Secret.objects.filter(key="CRASHED").delete()  # as if the first request had rolled back
    IdempotencyRecord.objects.update(
        status_code=idempotency.IN_PROGRESS, created_at=timezone.now() - datetime.timedelta(minutes=10)
    )

    retried = _post(client, {**BODY, "key": "CRASHED"})

    assert first.status_code == retried.status_code == 201
    assert "Idempotent-Replayed" not in retried
    assert IdempotencyRecord.objects.get().status_code == 201


def test_it_forgets_keys_after_a_day(seeded: Any, api: Any) -> None:
    client = api(seeded.bob)
    _post(client, BODY)
    IdempotencyRecord.objects.update(created_at=timezone.now() - datetime.timedelta(hours=25))

    reused = _post(client, {**BODY, "key": "ANOTHER"})

    assert reused.status_code == 201 and "Idempotent-Replayed" not in reused
    assert idempotency.idempotency_purge_expired() == 0


@pytest.mark.django_db(transaction=True)
def test_it_runs_concurrent_duplicates_once(cast: Any, shared_db: Any, token_for: Any) -> None:  # noqa: F811
    from rest_framework.test import APIClient

    token = token_for(cast.bob)

    def send(index: int) -> Any:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client.post(url("secrets/"), BODY, format="json", HTTP_IDEMPOTENCY_KEY="same-key")

    outcomes = run_in_threads(8, send)

    assert [error for _, _, error in outcomes if error is not None] == []
    statuses = sorted(response.status_code for _, response, _ in outcomes)
    assert set(statuses) <= {201, 409}, statuses
    assert statuses.count(201) >= 1
    replays = [response for _, response, _ in outcomes if response.get("Idempotent-Replayed") == "true"]
    assert statuses.count(201) == len(replays) + 1
    assert Secret.objects.filter(key="PAYMENT_KEY").count() == 1
    assert SecretVersion.objects.filter(secret__key="PAYMENT_KEY").count() == 1


def test_it_wraps_every_post_of_the_api_once() -> None:
    from django.urls import URLPattern, URLResolver

    from secrets_app.api import urls

    def views(patterns: list[Any]) -> list[Any]:
        found = []
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                found += views(pattern.url_patterns)
            elif isinstance(pattern, URLPattern) and hasattr(pattern.callback, "view_class"):
                found.append(pattern.callback.view_class)
        return found

    posting = [view for view in views(urls.v1_routes) if hasattr(view, "post")]

    assert len(posting) >= 15
    assert all(getattr(view.post, "_idempotent", False) for view in posting), posting
