"""The REST API and the Notifications page: org admins only, credentials write-only everywhere."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import PASSWORD
from tests.notifications.fixtures import SLACK_CHANNEL, SLACK_TOKEN, deliver_all
from tests.notifications.test_channels_and_delivery import make_admin, send


def test_it_creates_tests_lists_and_updates_a_slack_channel_without_returning_the_token(
    cast: Any, api: Any, slack_api: Any
) -> None:
    alice = api(make_admin(cast))
    created = alice.post(
        "/api/v1/notification-channels/",
        {
            "kind": "slack_bot",
            "name": "ops",
            "config": {"channel": SLACK_CHANNEL},
            "credentials": {"bot_token": SLACK_TOKEN},
            "routes": [{"project": "acme", "events": ["approvals.*", "syncs.failed"]}],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["credentials"] == {"bot_token": "set"} and body["lastTestStatus"] == "ok"
    assert body["routes"] == [{"project": "acme", "events": ["approvals.*", "syncs.failed"], "digest": False}]

    channel_id = body["id"]
    tested = alice.post(f"/api/v1/notification-channels/{channel_id}/test/", {}, format="json")
    renamed = alice.patch(f"/api/v1/notification-channels/{channel_id}/", {"name": "ops-2"}, format="json")
    listed = alice.get("/api/v1/notification-channels/")

    assert tested.json() == {"ok": True, "message": "test message posted in Acme"}
    assert renamed.json()["name"] == "ops-2" and renamed.json()["credentials"] == {"bot_token": "set"}
    for response in (created, tested, renamed, listed):
        assert SLACK_TOKEN not in response.content.decode()
    assert len(slack_api.calls("chat.postMessage")) == 2


def test_bad_input_is_a_400_naming_the_field(cast: Any, api: Any, slack_api: Any) -> None:
    alice = api(make_admin(cast))

    missing = alice.post(
        "/api/v1/notification-channels/",
        {"kind": "slack_bot", "name": "x", "config": {"channel": SLACK_CHANNEL}},
        format="json",
    )
    bad_route = alice.post(
        "/api/v1/notification-channels/",
        {
            "kind": "email",
            "name": "x",
            "config": {"addresses": ["ops@example.com"]},
            "routes": [{"project": "nope", "events": ["x"]}],
        },
        format="json",
    )
    bad_email = alice.post(
        "/api/v1/notification-channels/",
        {"kind": "email", "name": "x", "config": {"addresses": ["not an address"]}},
        format="json",
    )

    assert missing.status_code == 400 and missing.json()["error"]["fields"] == {
        "credentials.bot_token": ["this field is required"]
    }
    assert bad_route.status_code == 400 and "routes[0].project" in bad_route.json()["error"]["fields"]
    assert bad_email.status_code == 400 and "config.addresses[0]" in bad_email.json()["error"]["fields"]


def test_charlie_and_mallory_cannot_see_or_manage_channels(cast: Any, api: Any, slack_api: Any) -> None:
    from tests.notifications.test_channels_and_delivery import slack_bot

    channel = slack_bot(cast)
    path = f"/api/v1/notification-channels/{channel.public_id}/"

    assert api(cast.charlie).get("/api/v1/notification-channels/").status_code == 403
    assert api(cast.charlie).get(path).status_code == 404
    assert api(cast.charlie).delete(path).status_code == 404
    assert api(cast.mallory).get("/api/v1/notification-channels/").json() == {"channels": []}
    assert api(cast.mallory).patch(path, {"name": "mine"}, format="json").status_code == 404
    assert api(cast.bob).get("/api/v1/notification-deliveries/").status_code == 403


def test_failed_deliveries_are_listed_for_admins(cast: Any, api: Any, slack_api: Any) -> None:
    from tests.notifications.test_channels_and_delivery import slack_bot

    slack_bot(cast)
    slack_api.fail_next(error="channel_not_found")
    send(cast)
    deliver_all()

    failed = api(cast.alice).get("/api/v1/notification-deliveries/?status=failed").json()["deliveries"]
    assert [(d["recipient"], d["status"], d["lastError"], d["channelKind"]) for d in failed] == [
        ("ops-slack", "failed", "Slack answered channel_not_found", "slack_bot")
    ]


def _login(client: Any, user: Any) -> Any:
    client.post("/login/", {"email": user.email, "password": PASSWORD})
    return client


def test_the_page_shows_channels_and_failed_deliveries_to_admins_only(cast: Any, client: Any, slack_api: Any) -> None:
    from django.test import Client

    from tests.notifications.test_channels_and_delivery import slack_bot

    slack_bot(cast)
    slack_api.fail_next(error="not_in_channel")
    send(cast)
    deliver_all()
    _login(client, cast.alice)

    page = client.get("/org/acme-org/notifications/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "ops-slack" in html and "Slack answered not_in_channel" in html and "1 failed in 24 h" in html
    assert SLACK_TOKEN not in html
    assert 'name="bot_token"' in html and 'value="xoxb' not in html
    assert "Notifications" in client.get("/projects/").content.decode()

    charlie = _login(Client(), cast.charlie)
    assert charlie.get("/org/acme-org/notifications/").status_code == 403
    assert "/org/acme-org/notifications/" not in charlie.get("/projects/").content.decode()


def test_the_page_creates_a_teams_channel_and_sends_a_test(cast: Any, client: Any, teams_webhook: Any) -> None:
    from notifications.models import NotificationChannel

    make_admin(cast)
    _login(client, cast.alice)
    response = client.post(
        "/org/acme-org/notifications/",
        {
            "kind": "teams_webhook",
            "name": "teams",
            "enabled": "on",
            "webhook_url": teams_webhook.webhook_url,
            "project": "",
            "events": "approvals.*, syncs.failed",
        },
    )
    channel = NotificationChannel.objects.get(name="teams")
    edit = client.get(f"/org/acme-org/notifications/{channel.public_id}/").content.decode()
    test = client.post(f"/org/acme-org/notifications/{channel.public_id}/test/", HTTP_HX_REQUEST="true")

    assert response.status_code == 200 and "sent a test message" in response.content.decode()
    assert list(channel.routes.values_list("event_kinds", flat=True)) == [["approvals.*", "syncs.failed"]]
    assert teams_webhook.sig not in edit and "leave empty to keep" in edit
    assert test.status_code == 200 and "Test message sent" in test.content.decode()
    assert len(teams_webhook.cards) == 2 and json.dumps(teams_webhook.cards[0]).count("Strongroom test message") == 1


def test_the_delivery_status_fragment_renders(cast: Any, slack_api: Any) -> None:
    from django.template.loader import render_to_string

    from notifications.selectors import deliveries_for
    from tests.notifications.test_channels_and_delivery import slack_bot

    slack_bot(cast)
    send(cast, people=[cast.bob], subject="change_request:9")
    html = render_to_string("notifications/_delivery_status.html", {"deliveries": deliveries_for("change_request:9")})

    assert "ops-slack" in html and "bob@example.com" in html and "Pending" in html
