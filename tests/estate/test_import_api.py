"""Guided import over the REST API: the whole flow a person follows (suggest → create → preview →
apply → enter values → convert to a sync → the sync runs and manages the group), access (charlie
404, bob 403), input errors naming the field or the CSV line, and no value in any response."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

from tests.estate.conftest import PLAIN_SECRET_VALUE, PLAIN_SETTING_VALUE, SECRET_VALUE
from tests.estate.conftest_imports import (
    ENTERED_VALUE,
    Scanned,
    actions,
    assert_no_value_leaked,
    scanned_fixture,  # noqa: F401 - the scanned fixture
    value_of,
)

ORG = "acme-org"


def url(name: str, **kwargs: Any) -> str:
    return reverse(f"estate-api:{name}", kwargs={"organization": ORG, **kwargs})


def run_sync_now(sync_id: int) -> None:
    """One attempt of the sync in this process (the worker's job, minus Celery), as tests/syncs do."""
    from django.utils import timezone

    from syncs.models import SecretSync, SyncStatus
    from syncs.services.runs import sync_run_execute

    SecretSync.objects.filter(pk=sync_id).exclude(status=SyncStatus.RUNNING).update(
        status=SyncStatus.QUEUED, next_attempt_at=timezone.now()
    )
    sync_run_execute(sync_id=sync_id)


def test_the_full_flow_ends_with_the_group_managed_by_a_sync(scanned: Scanned, api: Any) -> None:
    from syncs.models import SecretSync, SyncManagedKey

    alice = api(scanned.cast.alice)
    group = scanned.resource("app-settings")  # DB_PASSWORD secret, API_TOKEN and REGION plain
    responses: list[Any] = []

    suggestion = alice.get(url("import-suggestion", resource=group.pk))
    assert suggestion.status_code == 200, suggestion.content
    assert suggestion.json()["keys"] == {"DB_PASSWORD": "DB_PASSWORD", "API_TOKEN": "API_TOKEN", "REGION": "REGION"}

    body = {"resource": group.pk, "project": "acme", "environment": "staging", "path": "/app", "skip": ["REGION"]}
    created = alice.post(url("imports"), body, format="json")
    assert created.status_code == 201, created.content
    import_id = created.json()["id"]
    assert created.json()["status"] == "draft"
    assert {i["adoName"]: i["status"] for i in created.json()["items"]}["REGION"] == "skipped"
    again = alice.post(url("imports"), body, format="json")
    assert again.status_code == 200 and again.json()["id"] == import_id
    listed = alice.get(url("imports"), {"resource": group.pk})
    assert [row["id"] for row in listed.json()["imports"]] == [import_id]

    preview = alice.post(url("import-preview", import_id=import_id), {}, format="json")
    assert preview.status_code == 200, preview.content
    actions_by_name = {row["adoName"]: row["action"] for row in preview.json()["rows"]}
    assert actions_by_name == {"API_TOKEN": "create", "DB_PASSWORD": "needs_value", "REGION": "skipped"}
    assert "left alone" in preview.json()["syncNote"]

    applied = alice.post(url("import-apply", import_id=import_id), {}, format="json")
    assert applied.status_code == 200, applied.content
    assert applied.json()["status"] == "needs_values"

    entered = alice.post(
        url("import-values", import_id=import_id), {"values": {"DB_PASSWORD": SECRET_VALUE}}, format="json"
    )
    assert entered.status_code == 200, entered.content
    assert entered.json()["status"] == "complete"

    refused = alice.post(url("import-convert", import_id=import_id), {}, format="json")
    assert refused.status_code == 400
    assert "confirm" in refused.json()["error"]["fields"]
    assert "nothing else in the group is touched" in refused.json()["error"]["fields"]["confirm"][0]

    converted = alice.post(url("import-convert", import_id=import_id), {"confirm": True}, format="json")
    assert converted.status_code == 201, converted.content
    sync = SecretSync.objects.get(public_id=converted.json()["sync"]["id"])
    assert sync.destination["group_name"] == "app-settings" and sync.destination["project"] == "proj1"
    second = alice.post(url("import-convert", import_id=import_id), {"confirm": True}, format="json")
    assert second.status_code == 200 and second.json()["sync"]["id"] == str(sync.public_id)
    group.refresh_from_db()
    assert group.managed_by_sync_id == sync.pk

    run_sync_now(sync.pk)
    sync.refresh_from_db()
    assert sync.status == "succeeded", sync.last_error
    assert set(SyncManagedKey.objects.filter(sync=sync).values_list("name", flat=True)) == {"API_TOKEN", "DB_PASSWORD"}
    remote = scanned.ado.group_by_name("app-settings")
    assert remote is not None
    assert scanned.ado.values("app-settings") == {
        "DB_PASSWORD": value_of(scanned.cast, "staging", "/app", "DB_PASSWORD"),
        "API_TOKEN": value_of(scanned.cast, "staging", "/app", "API_TOKEN"),
        "REGION": PLAIN_SETTING_VALUE,
    }
    assert remote.variables["API_TOKEN"].is_secret  # taken over: now a secret managed by Strongroom
    assert not remote.variables["REGION"].is_secret  # the unrelated variable untouched

    detail = alice.get(url("import-detail", import_id=import_id))
    assert detail.status_code == 200
    assert detail.json()["sync"] == str(sync.public_id)
    assert "--env=staging" in detail.json()["pipelineYaml"]["cli"]

    responses += [suggestion, created, again, listed, preview, applied, entered, converted, second, detail]
    assert_no_value_leaked(*[r.content for r in responses])
    assert actions("estate.import") == [
        "estate.import_created",
        "estate.import_created",
        "estate.import_previewed",
        "estate.import_applied",
        "estate.import_values_entered",
        "estate.import_converted_to_sync",
    ]


def test_values_can_be_sent_as_csv_and_a_bad_line_is_named(scanned: Scanned, api: Any) -> None:
    alice = api(scanned.cast.alice)
    group = scanned.resource("app-settings")
    created = alice.post(
        url("imports"), {"resource": group.pk, "project": "acme", "environment": "dev", "path": "/"}, format="json"
    )
    import_id = created.json()["id"]
    alice.post(url("import-apply", import_id=import_id), {}, format="json")

    bad = alice.post(
        url("import-values", import_id=import_id),
        data=f"name,value\nDB_PASSWORD,{ENTERED_VALUE},extra\n",
        content_type="text/csv",
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"]["csv"][0].startswith("line 2:")
    bad_json = alice.post(url("import-values", import_id=import_id), {"csv": "name,value\nNOPE,x\n"}, format="json")
    assert bad_json.status_code == 400 and "line 2" in bad_json.json()["error"]["fields"]["csv"][0]
    neither = alice.post(url("import-values", import_id=import_id), {}, format="json")
    assert neither.status_code == 400 and "values" in neither.json()["error"]["fields"]
    assert value_of(scanned.cast, "dev", "/", "DB_PASSWORD") is None

    good = alice.post(
        url("import-values", import_id=import_id),
        data=f"name,value\nDB_PASSWORD,{ENTERED_VALUE}\n",
        content_type="text/csv",
    )
    assert good.status_code == 200, good.content
    assert good.json()["status"] == "complete"
    assert value_of(scanned.cast, "dev", "/", "DB_PASSWORD") == ENTERED_VALUE
    assert_no_value_leaked(bad.content, bad_json.content, good.content)


def test_it_names_the_field_of_a_bad_request(scanned: Scanned, api: Any) -> None:
    alice = api(scanned.cast.alice)
    group = scanned.resource("app-settings")
    for body, field in (
        ({"project": "acme", "environment": "dev"}, "resource"),
        ({"resource": group.pk, "project": "acme", "environment": "dev", "extra": 1}, "extra"),
        ({"resource": group.pk, "project": "acme", "environment": "dev", "keys": {"REGION": "a b"}}, "keys.REGION"),
        ({"resource": group.pk, "project": "acme", "environment": "dev", "skip": ["NOPE"]}, "skip"),
        ({"resource": group.pk, "project": "acme", "environment": "dev", "path": "a/../b"}, "path"),
    ):
        response = alice.post(url("imports"), body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in response.json()["error"]["fields"], response.json()
    missing = alice.post(url("imports"), {"resource": 999999, "project": "acme", "environment": "dev"}, format="json")
    assert missing.status_code == 404
    assert alice.get(url("import-detail", import_id="00000000-0000-0000-0000-000000000000")).status_code == 404


@pytest.mark.parametrize(("who", "expected"), [("bob", 403), ("charlie", 403), ("mallory", 404)])
def test_only_organization_admins_reach_imports(scanned: Scanned, api: Any, who: str, expected: int) -> None:
    """bob (project member) and charlie (no project access) are members of the organization but not
    admins: 403, audited; mallory (another organization): 404, as for a missing organization."""
    alice = api(scanned.cast.alice)
    group = scanned.resource("legacy")
    created = alice.post(url("imports"), {"resource": group.pk, "project": "acme", "environment": "dev"}, format="json")
    import_id = created.json()["id"]
    client = api(getattr(scanned.cast, who))
    calls = [
        client.get(url("imports")),
        client.post(url("imports"), {"resource": group.pk, "project": "acme", "environment": "dev"}, format="json"),
        client.get(url("import-detail", import_id=import_id)),
        client.get(url("import-suggestion", resource=group.pk)),
        client.post(url("import-preview", import_id=import_id), {}, format="json"),
        client.post(url("import-apply", import_id=import_id), {}, format="json"),
        client.post(url("import-values", import_id=import_id), {"values": {"REGION": "x"}}, format="json"),
        client.post(url("import-convert", import_id=import_id), {"confirm": True}, format="json"),
    ]
    assert [response.status_code for response in calls] == [expected] * len(calls)
    assert value_of(scanned.cast, "dev", "/", "REGION") is None
    if expected == 403:
        from audit.models import AuditEvent

        denied = AuditEvent.objects.filter(action="permission.denied", metadata__requested_action="estate.manage")
        assert denied.count() >= len(calls)
    assert PLAIN_SECRET_VALUE not in json.dumps([r.content.decode() for r in calls])


def test_an_unreachable_or_vanished_group_is_refused_before_any_write(scanned: Scanned, api: Any) -> None:
    alice = api(scanned.cast.alice)
    group = scanned.resource("legacy")
    created = alice.post(url("imports"), {"resource": group.pk, "project": "acme", "environment": "dev"}, format="json")
    import_id = created.json()["id"]

    scanned.ado.fail_next(401, path_contains="variablegroups")
    refused = alice.post(url("import-apply", import_id=import_id), {}, format="json")
    assert refused.status_code == 502
    assert "read the variable group" in refused.json()["error"]["message"]

    scanned.ado.delete_group(scanned.estate.legacy_group)
    gone = alice.post(url("import-preview", import_id=import_id), {}, format="json")
    assert gone.status_code == 409 and "no longer exists" in gone.json()["error"]["message"]
    assert value_of(scanned.cast, "dev", "/", "REGION") is None
    assert alice.get(url("import-detail", import_id=import_id)).json()["status"] == "draft"
