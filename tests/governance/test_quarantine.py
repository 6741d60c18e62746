"""Quarantine: unused → quarantined → deletion proposed, over the REST API, the compat API and the
services, against a known history (tests/governance/quarantine_fixtures.py)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine

from audit.models import AuditEvent
from governance.models import Quarantine, QuarantineStatus
from notifications.models import Delivery, Notification
from tests.compat.conftest import BASE, login
from tests.governance.quarantine_fixtures import GOV, PROJECT, VALUES, History, assert_no_values, build_history
from tests.governance.quarantine_fixtures import quarantine as quarantine_via_api


@pytest.fixture
def history(cast: Any) -> History:
    return build_history(cast)


def _recipients(kind: str) -> list[set[str]]:
    """Per notification of *kind* (oldest first): the e-mail addresses it was addressed to."""
    return [
        set(
            Delivery.objects.filter(notification=n, recipient_user_id__isnull=False).values_list(
                "recipient_label", flat=True
            )
        )
        for n in Notification.objects.filter(event_kind=f"governance.quarantine.{kind}").order_by("id")
    ]


def _get_one(client: Any, key: str) -> Any:
    return client.get(f"{PROJECT}/secrets/{key}/?environment=dev&path=/")


def test_it_offers_secrets_not_delivered_for_the_policys_days(history: History, api: Any) -> None:
    answer = api(history.cast.bob).get(f"{GOV}/quarantine-candidates/")

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["quarantineAfterDays"] == 90
    rows = [(row["key"], row["idleDays"], row["lastDeliveredAt"] is None) for row in body["candidates"]]
    # never delivered idle since creation (100 days), STALE since its one delivery 97 days ago;
    # USED (delivered 2 days ago), NEW (10 days old) are not candidates.
    assert rows == [("NEVER", 100, True), ("REFERS", 100, True), ("STALE", 97, False)]


def test_it_offers_no_candidates_without_a_quarantine_policy(cast: Any, api: Any) -> None:
    answer = api(cast.alice).get(f"{GOV}/quarantine-candidates/")

    assert answer.json() == {"quarantineAfterDays": None, "candidates": []}


def test_it_refuses_a_single_read_with_423_naming_the_quarantine(history: History, api: Any, client: Any) -> None:
    started = quarantine_via_api(api, history, "STALE")
    assert started.status_code == 201, started.content
    assert started.json()["quarantines"][0]["reason"] == "not delivered for 97 days"
    token = login(client, history.machine)

    v1 = _get_one(api(history.cast.bob), "STALE")
    compat = client.get(
        f"{BASE}/api/v3/secrets/raw/STALE?workspaceId={history.cast.project.public_id}&environment=dev&secretPath=/",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    v4 = client.get(
        f"{BASE}/api/v4/secrets/STALE?projectId={history.cast.project.public_id}&environment=dev&secretPath=/",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    today = history.now.strftime("%Y-%m-%d")
    message = f"Secret STALE is quarantined since {today} (not delivered for 97 days); ask an admin to restore it"
    assert v1.status_code == 423 and v1.json()["error"] == {"code": "secret_quarantined", "message": message}
    assert compat.status_code == 423 and compat.json()["message"] == message
    assert v4.status_code == 423
    for response in (v1, compat, v4):
        assert_no_values(response.content.decode())
    refused = AuditEvent.objects.filter(action="secret.quarantined_read_refused").order_by("id")
    assert [(event.actor_label, event.outcome, event.resource_id) for event in refused] == [
        ("bob@example.com", "deny", "STALE"),
        ("ci", "deny", "STALE"),
        ("ci", "deny", "STALE"),
    ]
    assert_no_values(str(list(refused.values_list("metadata", flat=True))))
    # metadata of the secret is still answered (no value, nothing refused)
    meta = api(history.cast.bob).get(f"{PROJECT}/secrets/STALE/?environment=dev&path=/&include_value=false")
    assert meta.status_code == 200 and "value" not in meta.json()


def test_it_alerts_the_owner_at_once_and_once_per_consumer_within_the_hour(history: History, api: Any) -> None:
    quarantine_via_api(api, history, "STALE")
    bob = api(history.cast.bob)

    for _attempt in range(3):  # a retry loop
        assert _get_one(bob, "STALE").status_code == 423
    assert _get_one(api(history.cast.alice), "STALE").status_code == 423

    # alice created STALE (no rotation owner): she is its owner and gets one alert per consumer
    assert _recipients("read_refused") == [{"alice@example.com"}, {"alice@example.com"}]
    summaries = list(
        Notification.objects.filter(event_kind="governance.quarantine.read_refused")
        .order_by("id")
        .values_list("summary", flat=True)
    )
    assert "bob@example.com asked for the value of quarantined STALE" in summaries[0]
    assert_no_values(" ".join(summaries))
    row = Quarantine.objects.get(secret_id=history.ids["STALE"])
    assert (row.refused_reads, row.last_refused_to) == (4, "alice@example.com")
    listed = api(history.cast.alice).get(f"{GOV}/quarantines/").json()["quarantines"]
    assert [(q["key"], q["refusedReads"], q["lastRefusedTo"]) for q in listed] == [("STALE", 4, "alice@example.com")]


def test_it_tells_the_owner_and_every_former_consumer(history: History, api: Any) -> None:
    from secrets_app.models import Secret

    Secret.objects.filter(pk=history.ids["USED"]).update(rotation_owner=history.cast.dave)

    assert quarantine_via_api(api, history, "USED", reason="moving to vault").status_code == 201

    # dave owns it, bob was delivered it, the identity ci was too: its administrators (alice) are told
    assert _recipients("started") == [{"dave@example.com", "bob@example.com", "alice@example.com"}]
    event = AuditEvent.objects.get(action="secret.quarantined")
    assert (event.actor_label, event.resource_id, event.metadata["reason"]) == (
        "alice@example.com",
        "USED",
        "moving to vault",
    )


def test_it_leaves_the_key_out_of_lists_imports_and_references_with_a_warning(
    history: History, api: Any, client: Any
) -> None:
    from secrets_app.services.folders import folder_create, import_create

    scope = history.cast.scope(history.cast.alice)
    folder_create(scope=scope, environment="dev", path="/", name="app")
    import_create(scope=scope, environment="dev", path="/app", source_environment="dev", source_path="/")
    quarantine_via_api(api, history, "STALE")
    warning = f"STALE is quarantined since {history.now:%Y-%m-%d} and was left out; ask an admin to restore it"

    listed = api(history.cast.bob).get(f"{PROJECT}/secrets/?environment=dev&include_values=true&expand=true")
    imported = api(history.cast.bob).get(
        f"{PROJECT}/secrets/?environment=dev&path=/app&include_values=true&include_imports=true"
    )
    token = login(client, history.machine)
    compat = client.get(
        f"{BASE}/api/v3/secrets/raw?workspaceId={history.cast.project.public_id}&environment=dev&secretPath=/"
        "&expandSecretReferences=true",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    assert listed.status_code == 200
    body = listed.json()
    values = {secret["key"]: secret["value"] for secret in body["secrets"]}
    assert values == {
        "NEVER": VALUES["NEVER"],
        "USED": VALUES["USED"],
        "NEW": VALUES["NEW"],
        "REFERS": "url://${STALE}",
    }
    assert body["warnings"] == [warning]
    assert {secret["key"] for secret in imported.json()["secrets"]} == {"NEVER", "USED", "NEW", "REFERS"}
    assert imported.json()["warnings"] == ["/:" + warning]  # imported from dev:/ into /app
    assert compat.status_code == 200
    assert {s["secretKey"] for s in compat.json()["secrets"]} == {"NEVER", "USED", "NEW", "REFERS"}
    assert compat.json()["warnings"] == [warning]
    assert compat["X-Strongroom-Warning"] == warning
    event = AuditEvent.objects.filter(action="secret.values_read", actor_label="bob@example.com", path="/").last()
    assert event is not None and event.metadata["quarantined"] == ["STALE"]
    assert "STALE" not in event.metadata["keys"]
    for response in (listed, imported, compat):
        assert VALUES["STALE"] not in response.content.decode()


def test_it_delivers_the_value_again_after_a_one_click_restore(history: History, api: Any) -> None:
    quarantine_via_api(api, history, "STALE")
    assert _get_one(api(history.cast.bob), "STALE").status_code == 423

    restored = api(history.cast.alice).post(f"{GOV}/quarantines/{history.ids['STALE']}/restore/")

    assert restored.status_code == 200, restored.content
    assert restored.json()["status"] == "restored" and restored.json()["refusedReads"] == 1
    read = _get_one(api(history.cast.bob), "STALE")
    assert read.status_code == 200 and read.json()["value"] == VALUES["STALE"]
    listed = api(history.cast.bob).get(f"{PROJECT}/secrets/?environment=dev&include_values=true").json()
    assert "STALE" in {secret["key"] for secret in listed["secrets"]} and listed["warnings"] == []
    assert AuditEvent.objects.filter(action="secret.quarantine_restored", resource_id="STALE").count() == 1
    assert _recipients("restored") == [{"alice@example.com", "bob@example.com"}]
    again = api(history.cast.alice).post(f"{GOV}/quarantines/{history.ids['STALE']}/restore/")
    assert again.status_code == 409


def test_it_lets_only_governance_managers_quarantine(history: History, api: Any) -> None:
    bob = api(history.cast.bob)

    refused = bob.post(f"{GOV}/quarantines/", {"secrets": [history.ids["STALE"]]}, format="json")
    other = api(history.cast.alice).post(f"{GOV}/quarantines/", {"secrets": [999999]}, format="json")

    assert refused.status_code == 403
    assert other.status_code == 404 and other.json()["error"]["fields"] == {"secret": ["not found"]}
    assert history.secret("STALE").quarantined_at is None
    assert AuditEvent.objects.filter(
        action="permission.denied", metadata__requested_action="governance.manage"
    ).exists()


def test_it_proposes_deletion_after_the_quiet_days_and_never_deletes(history: History, api: Any) -> None:
    from governance.services.quarantine import quarantine_deletion_propose

    quarantine_via_api(api, history, "STALE")
    start = history.now
    with time_machine.travel(start + datetime.timedelta(days=20), tick=False):
        assert _get_one(api(history.cast.bob), "STALE").status_code == 423  # still wanted: the quiet clock restarts

    assert quarantine_deletion_propose(now=start + datetime.timedelta(days=31)) == 0
    assert quarantine_deletion_propose(now=start + datetime.timedelta(days=49)) == 0
    assert quarantine_deletion_propose(now=start + datetime.timedelta(days=51)) == 1
    assert quarantine_deletion_propose(now=start + datetime.timedelta(days=80)) == 0  # proposed once

    row = Quarantine.objects.get(secret_id=history.ids["STALE"])
    assert row.deletion_proposed_at == start + datetime.timedelta(days=51)
    assert row.status == QuarantineStatus.ACTIVE and history.secret("STALE").deleted_at is None
    assert _recipients("deletion_proposed") == [{"alice@example.com"}]
    assert AuditEvent.objects.filter(action="secret.quarantine_deletion_proposed", actor_type="system").count() == 1


def test_it_deletes_with_one_click_once_proposed_and_a_rollback_brings_it_back(history: History, api: Any) -> None:
    from governance.services.quarantine import quarantine_deletion_propose

    alice = api(history.cast.alice)
    quarantine_via_api(api, history, "STALE")
    url = f"{GOV}/quarantines/{history.ids['STALE']}/delete/"
    early = alice.post(url)
    assert early.status_code == 409 and "not proposed yet" in early.json()["error"]["message"]
    before_delete = alice.get(f"{PROJECT}/commits/?environment=dev").json()["results"][0]["id"]
    quarantine_deletion_propose(now=history.now + datetime.timedelta(days=31))

    deleted = alice.post(url)

    assert deleted.status_code == 200 and deleted.json()["status"] == "deleted"
    assert history.secret("STALE").deleted_at is not None
    assert AuditEvent.objects.filter(action="secret.deleted", resource_id="STALE").exists()
    rolled = alice.post(
        f"{PROJECT}/commits/{before_delete}/rollback/", {"environment": "dev", "path": "/"}, format="json"
    )
    assert rolled.status_code == 200, rolled.content
    back = _get_one(api(history.cast.bob), "STALE")
    assert back.status_code == 200 and back.json()["value"] == VALUES["STALE"]


def test_it_edits_the_policy_audited_and_names_a_bad_field(history: History, api: Any) -> None:
    alice = api(history.cast.alice)

    bad = alice.patch(f"{GOV}/policy/", {"deleteAfterQuarantineDays": 0}, format="json")
    good = alice.patch(f"{GOV}/policy/", {"quarantineAfterDays": None, "staleAfterDays": 60}, format="json")
    refused = api(history.cast.bob).patch(f"{GOV}/policy/", {"staleAfterDays": 1}, format="json")

    assert bad.status_code == 400 and list(bad.json()["error"]["fields"]) == ["deleteAfterQuarantineDays"]
    assert (
        good.status_code == 200 and good.json()["quarantineAfterDays"] is None and good.json()["staleAfterDays"] == 60
    )
    assert refused.status_code == 403
    event = AuditEvent.objects.get(action="governance.policy_updated")
    assert event.metadata["changed"] == {"quarantine_after_days": [90, None], "stale_after_days": [90, 60]}
    assert api(history.cast.bob).get(f"{GOV}/quarantine-candidates/").json()["candidates"] == []


def test_it_downloads_candidates_and_quarantines_as_csv(history: History, api: Any) -> None:
    quarantine_via_api(api, history, "STALE")
    bob = api(history.cast.bob)

    candidates = bob.get(f"{GOV}/quarantine-candidates/?format=csv")
    quarantines = bob.get(f"{GOV}/quarantines/", HTTP_ACCEPT="text/csv")

    assert candidates.status_code == 200 and candidates["Content-Type"].startswith("text/csv")
    lines = b"".join(candidates.streaming_content).decode().splitlines()
    assert lines[0] == "secret_id,environment,path,key,created_at,last_delivered_at,idle_days"
    assert [line.split(",")[3] for line in lines[1:]] == ["NEVER", "REFERS"]
    rows = b"".join(quarantines.streaming_content).decode().splitlines()
    assert rows[0].startswith("secret_id,environment,path,key,status,reason") and len(rows) == 2
    assert ",STALE,active,not delivered for 97 days," in rows[1]
    assert VALUES["STALE"] not in rows[1]
