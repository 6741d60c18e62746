"""Leak flags: an admin flags a secret with a reason; the flag holds until cleared or until the value
changes (``active_leak_flags``, which the pipeline gate and the risk flags read)."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEvent
from governance.selectors.leaks import active_leak_flags, leaked_secret_ids
from notifications.models import Delivery, Notification

PROJECT = "/api/v1/projects/acme"
FLAGS = f"{PROJECT}/governance/leak-flags/"
VALUE = "leaky-value-2b9e"


@pytest.fixture
def secret(cast: Any) -> Any:
    from secrets_app.services.secrets import SecretInput, secret_create

    return secret_create(
        scope=cast.scope(cast.alice), environment="prod", path="/", item=SecretInput(key="API_TOKEN", value=VALUE)
    )


def test_it_needs_a_reason_and_names_the_field(cast: Any, api: Any, secret: Any) -> None:
    blank = api(cast.alice).post(FLAGS, {"secret": secret.pk, "reason": "   "}, format="json")
    missing = api(cast.alice).post(FLAGS, {"secret": secret.pk}, format="json")

    assert blank.status_code == 400
    assert blank.json()["error"]["fields"] == {"reason": ["is required: say where or how the value leaked"]}
    assert missing.status_code == 400 and "reason" in missing.json()["error"]["fields"]
    assert not active_leak_flags(secret_ids=[secret.pk]).exists()


def test_it_flags_audits_and_tells_the_owner_until_the_value_changes(cast: Any, api: Any, secret: Any) -> None:
    from secrets_app.services.secrets import SecretInput, secret_update

    alice = api(cast.alice)
    flagged = alice.post(FLAGS, {"secret": secret.pk, "reason": "pasted in ticket OPS-12"}, format="json")
    again = alice.post(FLAGS, {"secret": secret.pk, "reason": "twice"}, format="json")

    assert flagged.status_code == 201, flagged.content
    assert flagged.json()["active"] is True and flagged.json()["flaggedVersion"] == 1
    assert again.status_code == 409
    assert leaked_secret_ids(project_ids=[cast.project.pk]) == {secret.pk}
    event = AuditEvent.objects.get(action="secret.leak_flagged")
    assert (event.actor_label, event.resource_id, event.metadata["reason"]) == (
        "alice@example.com",
        "API_TOKEN",
        "pasted in ticket OPS-12",
    )
    notice = Notification.objects.get(event_kind="governance.leak.leak_flagged")
    assert set(Delivery.objects.filter(notification=notice).values_list("recipient_label", flat=True)) == {
        "alice@example.com"
    }

    # a rotation (any new version) ends the flag with nothing to clear
    secret_update(
        scope=cast.scope(cast.alice),
        environment="prod",
        path="/",
        key="API_TOKEN",
        item=SecretInput(key="API_TOKEN", value="rotated"),
    )

    assert not active_leak_flags(project_ids=[cast.project.pk]).exists()
    assert alice.get(FLAGS).json() == {"flags": []}
    every = alice.get(FLAGS + "?all=true").json()["flags"]
    assert [(flag["key"], flag["active"], flag["clearedAt"]) for flag in every] == [("API_TOKEN", False, None)]
    for text in (flagged.content.decode(), str(event.metadata), notice.summary):
        assert VALUE not in text


def test_it_clears_a_flag_once_and_only_for_managers(cast: Any, api: Any, secret: Any) -> None:
    flag_id = api(cast.alice).post(FLAGS, {"secret": secret.pk, "reason": "in a log"}, format="json").json()["id"]
    clear = f"{FLAGS}{flag_id}/clear/"

    refused = api(cast.bob).post(clear, {}, format="json")
    cleared = api(cast.alice).post(clear, {"reason": "false alarm"}, format="json")
    twice = api(cast.alice).post(clear, {}, format="json")
    elsewhere = api(cast.mallory).post(
        f"/api/v1/projects/evil/governance/leak-flags/{flag_id}/clear/", {}, format="json"
    )

    assert refused.status_code == 403
    assert cleared.status_code == 200 and cleared.json()["active"] is False
    assert cleared.json()["clearedBy"] == "alice@example.com" and cleared.json()["clearedReason"] == "false alarm"
    assert twice.status_code == 409
    assert elsewhere.status_code == 404
    assert not active_leak_flags(secret_ids=[secret.pk]).exists()
    assert AuditEvent.objects.filter(action="secret.leak_cleared", resource_id="API_TOKEN").count() == 1


def test_it_shows_members_the_flags_but_lets_only_admins_flag(cast: Any, api: Any, secret: Any) -> None:
    refused = api(cast.bob).post(FLAGS, {"secret": secret.pk, "reason": "x"}, format="json")
    api(cast.alice).post(FLAGS, {"secret": secret.pk, "reason": "in a log"}, format="json")

    listed = api(cast.bob).get(FLAGS)

    assert refused.status_code == 403
    assert [(flag["key"], flag["reason"], flag["flaggedBy"]) for flag in listed.json()["flags"]] == [
        ("API_TOKEN", "in a log", "alice@example.com")
    ]
