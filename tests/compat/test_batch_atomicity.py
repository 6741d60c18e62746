"""Batch writes through the compat adapter are all or nothing: a failure part-way changes nothing."""

from __future__ import annotations

from typing import Any

from django.test import Client

from audit.models import AuditEvent
from secrets_app.models import Secret
from secrets_app.services.secrets import SecretInput, secret_create
from tests.compat.conftest import BASE, login


def _seed(cast: Any) -> None:
    scope = cast.scope(cast.alice)
    for key in ("A", "B"):
        secret_create(scope=scope, environment="dev", path="/", item=SecretInput(key=key, value=f"{key}-v1"))


def test_a_batch_delete_with_one_missing_key_deletes_nothing(cast: Any, machine: Any) -> None:
    _seed(cast)
    client = Client()
    token = login(client, machine(cast.project, "ci", "member"))
    response = client.delete(
        f"{BASE}/api/v4/secrets/batch",
        {
            "projectId": str(cast.project.public_id),
            "environment": "dev",
            "secretPath": "/",
            "secrets": [{"secretKey": "A"}, {"secretKey": "MISSING"}],
        },
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 404, response.content
    assert sorted(Secret.objects.filter(deleted_at__isnull=True).values_list("key", flat=True)) == ["A", "B"]


def test_a_refused_batch_update_changes_nothing_and_the_refusal_stays_on_record(cast: Any, machine: Any) -> None:
    _seed(cast)
    client = Client()
    token = login(client, machine(cast.project, "ci-viewer", "viewer"))
    response = client.patch(
        f"{BASE}/api/v4/secrets/batch",
        {
            "projectId": str(cast.project.public_id),
            "environment": "dev",
            "secretPath": "/",
            "secrets": [{"secretKey": "A", "secretValue": "x"}, {"secretKey": "B", "secretValue": "y"}],
        },
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 403, response.content
    assert Secret.objects.get(key="A").version == 1
    assert AuditEvent.objects.filter(action="permission.denied", actor_label="ci-viewer").exists()
