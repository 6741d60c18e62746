"""The management API with the real webhook kind against the signature-checking receiver: the test
event on create reaches it signed; a receiver that refuses the signature refuses the save; and the
stream then delivers what the organization records."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEvent
from audit.streams.delivery import stream_deliver
from audit.streams.models import AuditStream
from tests.audit.streams.engine_support import Receiver, seal

pytestmark = pytest.mark.django_db
BASE = "/api/v1/organizations/acme-org/audit-streams/"


def _create(client: Any, receiver: Receiver, secret: str) -> Any:
    return client.post(
        BASE,
        {
            "kind": "webhook",
            "name": "siem",
            "config": {"url": receiver.url},
            "credentials": {"signing_secret": secret},
            "start": "beginning",
        },
        format="json",
    )


def test_a_webhook_stream_is_created_tested_and_delivers_through_the_api(
    cast: Any, admin: Any, api: Any, receiver: Receiver
) -> None:
    client = api(admin)

    refused = _create(client, receiver, "not-the-receivers-secret-0000")
    created = _create(client, receiver, receiver.secret)

    assert refused.status_code == 400, refused.content
    assert "401" in refused.json()["error"]["message"]
    assert "not-the-receivers-secret" not in refused.content.decode()
    assert created.status_code == 201, created.content
    assert AuditStream.objects.count() == 1
    assert [event.get("type") for event in receiver.events] == ["strongroom.stream_test"]

    seal()
    stream_deliver(stream_id=AuditStream.objects.get().pk)

    delivered = [int(event["id"]) for event in receiver.events[1:]]
    sealed = list(
        AuditEvent.objects.filter(organization_id=cast.organization.pk, id__in=delivered).values_list("id", flat=True)
    )
    assert delivered and sorted(sealed) == delivered  # the organization's own events, in id order
    status = client.get(f"{BASE}{created.json()['id']}/").json()["status"]
    assert status["state"] == "active" and status["lastSuccessAt"] is not None
