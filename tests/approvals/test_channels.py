"""Approvals through the organization's chat channels, end to end: a held write and an access
request reach Slack (bot and incoming webhook, driven by the real ``slack_sdk``) and Teams with
hostile user text made inert; a merge replaces the pending Slack message; and the proposed value
appears in no message, log line or database dump."""

from __future__ import annotations

import json
import logging
import subprocess
from typing import Any

import pytest
from django.db import connection

from tests.approvals.conftest import CANARY
from tests.notifications.fixtures import (  # noqa: F401 (fixtures)
    SLACK_CHANNEL,
    SLACK_TOKEN,
    deliver_all,
    notify_settings,
    slack_api,
    smtp_server,
    teams_webhook,
)
from tests.support.celery_worker import require_postgres

P = "/api/v1/projects/acme/"
HOSTILE = "please <!channel> see <http://evil|bank> and [click](http://evil) now"


def _channels(cast: Any, slack_api: Any, teams_webhook: Any) -> None:  # noqa: F811
    from notifications.services import channel_create
    from secrets_app.models import OrganizationMembership, OrgRole
    from secrets_app.principals import Principal

    OrganizationMembership.objects.filter(organization=cast.organization, user=cast.alice).update(role=OrgRole.ADMIN)
    admin = Principal.for_user(cast.alice)
    routes = [{"project": "acme", "events": ["approvals.*"]}]
    channel_create(
        principal=admin,
        organization=cast.organization,
        kind="slack_bot",
        name="ops-slack",
        config={"channel": SLACK_CHANNEL},
        credentials={"bot_token": SLACK_TOKEN},
        routes=routes,
    )
    channel_create(
        principal=admin,
        organization=cast.organization,
        kind="slack_webhook",
        name="ops-hook",
        credentials={"webhook_url": slack_api.webhook_url},
        routes=routes,
    )
    channel_create(
        principal=admin,
        organization=cast.organization,
        kind="teams_webhook",
        name="ops-teams",
        credentials={"webhook_url": teams_webhook.webhook_url},
        routes=routes,
    )


def _everything_sent(slack_api: Any, teams_webhook: Any, smtp_server: Any) -> str:  # noqa: F811
    bodies = [json.dumps(call) for call in slack_api.calls("chat.postMessage") + slack_api.calls("chat.update")]
    bodies += [json.dumps(post) for post in slack_api.webhook_posts]
    bodies += [json.dumps(card) for card in teams_webhook.cards]
    bodies += [message.as_string() for message in smtp_server.messages]
    return "\n".join(bodies)


def test_an_access_request_reason_arrives_inert_in_slack_and_teams(
    seeded: Any,
    make_policy: Any,
    notify_settings: Any,  # noqa: F811
    slack_api: Any,  # noqa: F811
    teams_webhook: Any,  # noqa: F811
    smtp_server: Any,  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:
    from approvals.services.access_requests import access_request_create
    from secrets_app.principals import Principal

    make_policy(approvers=[seeded.alice, seeded.bob])
    _channels(seeded, slack_api, teams_webhook)
    with django_capture_on_commit_callbacks(execute=True):
        access_request_create(
            principal=Principal.for_user(seeded.charlie),
            project=seeded.project,
            environment="prod",
            path="/payments",
            access=["read"],
            duration_minutes=60,
            reason=HOSTILE,
        )
    deliver_all()

    bot = json.dumps(slack_api.calls("chat.postMessage"))
    hook = json.dumps(slack_api.webhook_posts)
    teams = json.dumps(teams_webhook.cards)
    assert "charlie@example.com" in bot and "charlie@example.com" in teams
    for slack_body in (bot, hook):
        assert "&lt;!channel&gt;" in slack_body and "<!channel>" not in slack_body
        assert "<http://evil|bank>" not in slack_body
    assert "[click](http://evil)" not in teams
    assert len(smtp_server.messages) == 2  # one per approver


@pytest.mark.django_db(transaction=True)
def test_a_merge_replaces_the_pending_slack_message_and_the_value_is_nowhere(
    seeded: Any,
    make_policy: Any,
    api: Any,
    notify_settings: Any,  # noqa: F811
    slack_api: Any,  # noqa: F811
    teams_webhook: Any,  # noqa: F811
    smtp_server: Any,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    make_policy(approvers=[seeded.dave])
    _channels(seeded, slack_api, teams_webhook)

    held = api(seeded.bob).patch(P + "secrets/DB_PASSWORD/?environment=prod", {"value": CANARY}, format="json")
    assert held.status_code == 202
    request_id = held.json()["changeRequest"]["id"]
    deliver_all()
    [posted] = [m for m in slack_api.messages(SLACK_CHANNEL) if "DB_PASSWORD" in json.dumps(m)]
    assert "merged" not in json.dumps(posted).lower()

    assert (
        api(seeded.dave)
        .post(P + f"change-requests/{request_id}/review/", {"status": "approved"}, format="json")
        .status_code
        < 300
    )
    assert api(seeded.bob).post(P + f"change-requests/{request_id}/merge/", {}, format="json").status_code < 300
    deliver_all()

    [updated] = [m for m in slack_api.messages(SLACK_CHANNEL) if "DB_PASSWORD" in json.dumps(m)]  # edited in place
    assert updated["ts"] == posted["ts"] and "merged" in json.dumps(updated).lower()
    assert len(slack_api.calls("chat.update")) >= 1
    assert len(teams_webhook.cards) >= 2  # the request, then its outcome

    sent = _everything_sent(slack_api, teams_webhook, smtp_server)
    assert CANARY not in sent
    assert CANARY not in caplog.text
    require_postgres("the database dump is PostgreSQL's pg_dump")
    settings_dict = connection.settings_dict
    dump = subprocess.run(
        [
            "pg_dump",
            "--data-only",
            "-h",
            settings_dict.get("HOST") or "127.0.0.1",
            "-p",
            str(settings_dict.get("PORT") or 5432),
            "-U",
            settings_dict.get("USER") or "postgres",
            settings_dict["NAME"],
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert b"DB_PASSWORD" in dump.stdout  # the dump holds the data: the canary check means something
    assert CANARY.encode() not in dump.stdout
