"""GET /audit-events/export/ and the organization audit log (list and export) for org admins."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.http import StreamingHttpResponse

from audit.models import AuditEvent
from audit.services import SYSTEM_ACTOR, audit_record
from tests.api.conftest import error_of

EXPORT = "/api/v1/audit-events/export/"
ORG = "/api/v1/organizations/acme-org/audit-events/"


def _body(response: Any) -> str:
    assert isinstance(response, StreamingHttpResponse), type(response)
    return b"".join(response.streaming_content).decode()


def _jsonl(response: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _body(response).splitlines()]


@pytest.fixture
def olivia(cast: Any) -> Any:
    """An admin of acme-org (not a member of the project)."""
    from secrets_app.models import OrgRole
    from secrets_app.services.users import user_create

    return user_create(
        email="olivia@example.com", password="x" * 16, organization=cast.organization, org_role=OrgRole.ADMIN
    )


@pytest.fixture
def org_events(cast: Any) -> list[AuditEvent]:
    from django.db import transaction

    with transaction.atomic():
        return [
            audit_record(action="identity.login_failed", actor=SYSTEM_ACTOR, organization_id=cast.organization.pk),
            audit_record(action="user.created", actor=SYSTEM_ACTOR, organization_id=cast.organization.pk),
            audit_record(action="user.created", actor=SYSTEM_ACTOR, organization_id=cast.other_project.organization_id),
        ]


def test_it_streams_the_project_log_as_jsonl_with_the_list_filters(seeded: Any, api: Any) -> None:
    response = api(seeded.alice).get(EXPORT, {"format": "jsonl", "project": "acme", "action": "secret.*"})

    assert response.status_code == 200 and response["Content-Type"] == "application/x-ndjson"
    assert response["Content-Disposition"].startswith('attachment; filename="strongroom-audit-acme-')
    rows = _jsonl(response)
    assert rows and {row["action"] for row in rows} == {"secret.created"}
    assert all(row["project_id"] == seeded.project.pk for row in rows)
    assert [row["id"] for row in rows] == sorted(row["id"] for row in rows)
    assert all(len(row["row_hash"]) == 64 for row in rows)
    assert "dev-password" not in json.dumps(rows)


def test_it_records_the_export_once_with_format_filters_and_count(seeded: Any, api: Any) -> None:
    before = AuditEvent.objects.order_by("-id").first().pk  # type: ignore[union-attr]
    response = api(seeded.alice).get(EXPORT, {"format": "csv", "project": "acme", "outcome": "allow"})
    rows = list(csv.DictReader(io.StringIO(_body(response))))

    (exported,) = AuditEvent.objects.filter(pk__gt=before, action="audit.exported")
    assert exported.actor_label == "alice@example.com" and exported.project_id == seeded.project.pk
    assert exported.metadata == {
        "format": "csv",
        "filters": {"outcome": "allow"},
        "count": len(rows) - 1,
        "scope": "project",
    }
    assert rows[-1]["id"] == str(exported.pk)  # the export includes its own record, and nothing after it


def test_it_exports_cef(seeded: Any, api: Any) -> None:
    response = api(seeded.alice).get(EXPORT, {"format": "cef", "project": "acme"})

    lines = _body(response).splitlines()
    assert lines and all(line.startswith("CEF:0|Strongroom|Strongroom|") for line in lines)


def test_it_refuses_a_bad_format_or_filter(seeded: Any, api: Any) -> None:
    assert error_of(api(seeded.alice).get(EXPORT, {"format": "xml"}))["code"] == "validation_error"
    assert api(seeded.alice).get(EXPORT, {"format": "jsonl", "since": "yesterday"}).status_code == 400


def test_it_refuses_charlie_and_mallory_and_audits_the_refusal(seeded: Any, api: Any) -> None:
    before = AuditEvent.objects.order_by("-id").first().pk  # type: ignore[union-attr]

    assert api(seeded.charlie).get(EXPORT, {"format": "jsonl"}).status_code == 403
    assert api(seeded.charlie).get(EXPORT, {"format": "jsonl", "project": "acme"}).status_code == 404
    assert api(seeded.mallory).get(EXPORT, {"format": "jsonl", "project": "acme"}).status_code == 404

    denied = AuditEvent.objects.filter(pk__gt=before, action="permission.denied")
    assert {event.actor_label for event in denied} >= {"charlie@example.com"}
    assert not AuditEvent.objects.filter(pk__gt=before, action="audit.exported").exists()
    rows = _jsonl(api(seeded.mallory).get(EXPORT, {"format": "jsonl"}))
    assert rows and all(row["project_id"] in (None, seeded.other_project.pk) for row in rows)
    assert all(row["organization_id"] != seeded.organization.pk for row in rows)


def test_it_shows_org_admins_the_organization_level_events(seeded: Any, api: Any, olivia: Any, org_events: Any) -> None:
    page = api(olivia).get(ORG).json()

    actions = [event["action"] for event in page["results"]]
    assert "identity.login_failed" in actions and "user.created" in actions
    assert all(event["project"] is None for event in page["results"])
    ids = {event["id"] for event in page["results"]}
    assert org_events[2].pk not in ids  # evil-org's

    everything = api(olivia).get(ORG, {"scope": "all", "action": "secret.created", "limit": 500}).json()
    assert everything["count"] == 4 and all(e["project"]["slug"] == "acme" for e in everything["results"])


def test_it_exports_the_organization_log_for_org_admins(seeded: Any, api: Any, olivia: Any, org_events: Any) -> None:
    rows = _jsonl(api(olivia).get(ORG + "export/", {"format": "jsonl", "action": "user.created"}))

    ids = [row["id"] for row in rows]
    assert org_events[1].pk in ids and org_events[2].pk not in ids  # evil-org's stays out
    assert {row["action"] for row in rows} == {"user.created"} and all(row["project_id"] is None for row in rows)
    last = AuditEvent.objects.order_by("-id").first()
    assert last is not None and last.action == "audit.exported" and last.organization_id == seeded.organization.pk


def test_it_refuses_the_organization_log_to_non_admins_and_outsiders(seeded: Any, api: Any) -> None:
    before = AuditEvent.objects.order_by("-id").first().pk  # type: ignore[union-attr]

    for who in (seeded.alice, seeded.charlie):
        assert api(who).get(ORG).status_code == 403
        assert api(who).get(ORG + "export/", {"format": "jsonl"}).status_code == 403
    assert api(seeded.mallory).get(ORG).status_code == 404
    assert api(seeded.mallory).get(ORG + "export/", {"format": "csv"}).status_code == 404

    denied = AuditEvent.objects.filter(pk__gt=before, action="permission.denied")
    assert {event.actor_label for event in denied} >= {"alice@example.com", "charlie@example.com"}
