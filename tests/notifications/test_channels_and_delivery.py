"""Channels delivering through the real slack_sdk, a real SMTP server and a Teams receiver:
formats, escaping, follow-ups, routing, retries and final failures."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from tests.notifications.fixtures import SLACK_CHANNEL, SLACK_TOKEN, deliver_all

HOSTILE = "please <!channel> see <http://evil|bank> & [click](http://evil)"


def principal(user: Any) -> Any:
    from secrets_app.principals import Principal

    return Principal.for_user(user)


def make_admin(cast: Any) -> Any:
    from secrets_app.models import OrganizationMembership, OrgRole

    OrganizationMembership.objects.filter(organization=cast.organization, user=cast.alice).update(role=OrgRole.ADMIN)
    return cast.alice


def slack_bot(cast: Any, *, token: str = SLACK_TOKEN, routes: Any = None, name: str = "ops-slack") -> Any:
    from notifications.services import channel_create

    return channel_create(
        principal=principal(make_admin(cast)),
        organization=cast.organization,
        kind="slack_bot",
        name=name,
        config={"channel": SLACK_CHANNEL},
        credentials={"bot_token": token},
        routes=routes if routes is not None else [{"project": None, "events": ["approvals.*"]}],
    )


def message(**overrides: Any) -> Any:
    from notifications.services import Fact, Message

    values: dict[str, Any] = {
        "event_kind": "approvals.change_request.opened",
        "title": "Secret change request",
        "summary": f"bob asks to change 2 secrets: {HOSTILE}",
        "facts": (Fact("Project", "Acme app"), Fact("Reason", HOSTILE), Fact("Keys", "DB_PASSWORD, API_KEY")),
    }
    values.update(overrides)
    return Message(**values)


def send(
    cast: Any, *, people: Any = (), subject: str = "change_request:1", project: Any = "default", **overrides: Any
) -> Any:
    from notifications.services import notification_send

    return notification_send(
        organization_id=cast.organization.pk,
        project_id=cast.project.pk if project == "default" else project,
        message=message(**overrides),
        subject_ref=subject,
        people=people,
        link_for=lambda key: f"https://strongroom.example.com/approvals/1/?for={key.split(':')[0]}",
    )


def test_it_posts_block_kit_to_slack_with_user_text_escaped(cast: Any, slack_api: Any) -> None:
    from notifications.models import Delivery

    channel = slack_bot(cast)
    assert channel.last_test_status == "ok", channel.last_test_message  # tested on save
    send(cast)

    assert deliver_all() == ["sent"]
    posted = slack_api.messages(SLACK_CHANNEL)[-1]
    text = json.dumps(posted["blocks"])
    assert "Secret change request" in text and "Acme app" in text and "DB_PASSWORD, API_KEY" in text
    assert "&lt;!channel&gt;" in text and "&lt;http://evil|bank&gt;" in text
    assert "<!channel>" not in text and "<http://evil" not in text and "<!channel>" not in posted["text"]
    assert "https://strongroom.example.com/approvals/1/?for=channel" in text
    delivery = Delivery.objects.get(channel=channel)
    assert delivery.external_ref == {"channel": SLACK_CHANNEL, "ts": posted["ts"]}
    assert slack_api.calls("chat.postMessage")[-1]["headers"]["Authorization"] == f"Bearer {SLACK_TOKEN}"


def test_it_replaces_the_pending_slack_message_on_follow_up(cast: Any, slack_api: Any) -> None:
    from notifications.models import Delivery, Notification
    from notifications.services import notification_follow_up

    slack_bot(cast)
    send(cast, subject="change_request:42")
    deliver_all()
    before = slack_api.messages(SLACK_CHANNEL)
    assert "pending" in json.dumps(before[-1]["blocks"])

    notification_follow_up(subject_ref="change_request:42", status_text="Merged by alice@example.com")
    assert deliver_all() == ["sent"]

    after = slack_api.messages(SLACK_CHANNEL)
    assert len(after) == len(before)  # replaced, not a new message
    assert after[-1]["updated"] and after[-1]["ts"] == before[-1]["ts"]
    assert "Merged by alice@example.com" in json.dumps(after[-1]["blocks"]) and "pending" not in json.dumps(
        after[-1]["blocks"]
    )
    assert Notification.objects.get(subject_ref="change_request:42").resolved_status == "Merged by alice@example.com"
    assert Delivery.objects.filter(action="update", status="sent").count() == 1
    notification_follow_up(subject_ref="change_request:42", status_text="again")  # idempotent
    assert deliver_all() == []


def test_it_emails_people_text_and_html_escaped_through_smtp(cast: Any, smtp_server: Any) -> None:
    send(cast, people=[cast.bob, cast.bob])

    assert deliver_all() == ["sent"]
    [mail] = smtp_server.messages
    assert mail["To"] == cast.bob.email and "\n" not in mail["Subject"]
    assert mail["Subject"] == "[Strongroom] Secret change request"
    text = mail.get_body(preferencelist=("plain",)).get_content()
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert "DB_PASSWORD, API_KEY" in text and "https://strongroom.example.com/approvals/1/?for=user" in text
    assert "&lt;!channel&gt;" in html and "&lt;http://evil|bank&gt;" in html and "<!channel>" not in html


def test_it_posts_an_adaptive_card_to_teams_with_markdown_neutralised(cast: Any, teams_webhook: Any) -> None:
    from notifications.services import channel_create

    channel = channel_create(
        principal=principal(make_admin(cast)),
        organization=cast.organization,
        kind="teams_webhook",
        name="teams",
        credentials={"webhook_url": teams_webhook.webhook_url},
        routes=[{"project": "acme", "events": ["approvals.change_request"]}],
    )
    assert channel.last_test_status == "ok"
    send(cast)
    deliver_all()

    card = teams_webhook.cards[-1]
    content = card["attachments"][0]["content"]
    assert card["type"] == "message" and content["type"] == "AdaptiveCard" and content["version"] == "1.5"
    assert [block["type"] for block in content["body"]] == ["TextBlock", "TextBlock", "FactSet"]
    assert content["actions"][0]["type"] == "Action.OpenUrl"
    assert content["actions"][0]["url"].startswith("https://strongroom.example.com/approvals/1/")
    raw = json.dumps(content["body"])
    assert "[click](http://evil)" not in raw and "<!channel>" not in raw and "<http://evil|bank>" not in raw
    assert {"title": "Keys", "value": "DB\\\\_PASSWORD, API\\\\_KEY"}.items() <= {}.items() or "Keys" in raw


def test_it_follows_up_webhooks_and_email_with_a_new_message(cast: Any, slack_api: Any, smtp_server: Any) -> None:
    from notifications.services import channel_create, notification_follow_up

    channel_create(
        principal=principal(make_admin(cast)),
        organization=cast.organization,
        kind="slack_webhook",
        name="hook",
        credentials={"webhook_url": slack_api.webhook_url},
        routes=[{"events": ["*"]}],
    )
    send(cast, people=[cast.bob], subject="change_request:7")
    deliver_all()
    posts = len(slack_api.webhook_posts)

    notification_follow_up(subject_ref="change_request:7", status_text="Rejected by alice@example.com")
    assert sorted(deliver_all()) == ["sent", "sent"]

    assert len(slack_api.webhook_posts) == posts + 1
    assert "Rejected by alice@example.com" in json.dumps(slack_api.webhook_posts[-1])
    assert smtp_server.messages[-1]["Subject"] == "[Strongroom] Secret change request: Rejected by alice@example.com"


def test_it_routes_by_project_and_event_kind(cast: Any, slack_api: Any) -> None:
    from notifications.models import Delivery

    slack_bot(cast, name="approvals-acme", routes=[{"project": "acme", "events": ["approvals.change_request"]}])
    slack_bot(cast, name="syncs-all", routes=[{"events": ["syncs.*"]}])
    slack_bot(cast, name="everything-digest", routes=[{"events": ["*"], "digest": True}])

    send(cast, subject="a")
    send(cast, subject="b", event_kind="approvals.access_request.opened")
    send(cast, subject="c", event_kind="syncs.failed", project=None)
    send(cast, subject="d", event_kind="approvals.change_request_other")

    routed = {
        (d.notification.subject_ref, d.channel.name, d.digest)
        for d in Delivery.objects.select_related("channel", "notification")
    }
    assert routed == {
        ("a", "approvals-acme", False),
        ("a", "everything-digest", True),
        ("b", "everything-digest", True),
        ("c", "syncs-all", False),
        ("c", "everything-digest", True),
        ("d", "everything-digest", True),
    }


def test_it_sends_one_daily_digest_per_channel(cast: Any, slack_api: Any) -> None:
    from notifications.models import Delivery
    from notifications.services import digests_send

    slack_bot(cast, routes=[{"events": ["approvals.*"], "digest": True}])
    send(cast, subject="a")
    send(cast, subject="b", summary="second one")
    posted = len(slack_api.messages(SLACK_CHANNEL))

    assert deliver_all() == [] and digests_send() == 0  # not a day old yet
    assert digests_send(force=True) == 1

    assert len(slack_api.messages(SLACK_CHANNEL)) == posted + 1
    assert "second one" in json.dumps(slack_api.messages(SLACK_CHANNEL)[-1]["blocks"])
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}


def test_a_failing_smtp_server_is_retried_then_fails_visibly_and_audited(cast: Any, settings: Any, caplog: Any) -> None:
    from audit.models import AuditEvent
    from notifications.models import Delivery
    from tests.notifications.fixtures import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens
    settings.STRONGROOM_NOTIFICATIONS_RETRY_DELAYS = [0.0, 0.0]

    send(cast, people=[cast.bob])
    outcomes = deliver_all()

    assert outcomes == ["retrying", "retrying", "failed"]
    delivery = Delivery.objects.get()
    assert delivery.status == "failed" and delivery.attempts == 3
    assert "could not be reached" in delivery.last_error
    event = AuditEvent.objects.get(action="notification.failed")
    assert event.metadata["recipient_user"] == cast.bob.pk and event.outcome == "error"


def test_slack_429_honours_retry_after_and_invalid_auth_is_final(cast: Any, slack_api: Any, settings: Any) -> None:
    from audit.models import AuditEvent
    from notifications.models import Delivery
    from notifications.services import delivery_execute

    settings.STRONGROOM_NOTIFICATIONS_RETRY_DELAYS = [0.0, 0.0, 0.0]
    slack_bot(cast)
    send(cast)
    delivery = Delivery.objects.get()

    slack_api.fail_next(429, retry_after=7)
    outcome = delivery_execute(delivery_id=delivery.pk)
    assert outcome.status == "retrying" and 7 <= (outcome.retry_in or 0) <= 8
    delivery.refresh_from_db()
    assert delivery.status == "pending" and "429" in delivery.last_error

    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=None)
    slack_api.fail_next(error="invalid_auth")
    assert delivery_execute(delivery_id=delivery.pk).status == "failed"
    delivery.refresh_from_db()
    assert (
        delivery.status == "failed" and delivery.attempts == 2 and delivery.last_error == "Slack answered invalid_auth"
    )
    assert AuditEvent.objects.filter(action="notification.failed", resource_id=str(delivery.pk)).count() == 1


def test_a_duplicate_message_is_a_no_op(cast: Any, slack_api: Any) -> None:
    from notifications.models import Delivery
    from notifications.services import delivery_execute

    slack_bot(cast)
    send(cast)
    delivery = Delivery.objects.get()

    assert delivery_execute(delivery_id=delivery.pk).status == "sent"
    assert delivery_execute(delivery_id=delivery.pk).status == "not_claimed"
    assert len(slack_api.calls("chat.postMessage")) == 2  # the test on save, and one delivery


def test_credentials_never_reach_logs_errors_or_audit(cast: Any, slack_api: Any, caplog: Any) -> None:
    from audit.models import AuditEvent
    from notifications.models import Delivery, NotificationChannel
    from notifications.services import channel_create

    caplog.set_level(logging.DEBUG)
    secret_hook = slack_api.base_url + "/services/T999/B999/very-secret-path"
    channel_create(
        principal=principal(make_admin(cast)),
        organization=cast.organization,
        kind="slack_webhook",
        name="broken-hook",
        credentials={"webhook_url": secret_hook},
        routes=[{"events": ["*"]}],
    )
    bad_bot = slack_bot(cast, token="xoxb-revoked-token", name="bad-bot")
    send(cast)
    deliver_all()

    assert bad_bot.last_test_status == "failed" and bad_bot.last_test_message == "Slack answered invalid_auth"
    texts = [caplog.text, json.dumps(list(AuditEvent.objects.values_list("metadata", flat=True)))]
    texts += list(Delivery.objects.values_list("last_error", flat=True))
    texts += list(NotificationChannel.objects.values_list("last_test_message", flat=True))
    joined = "\n".join(texts)
    assert "very-secret-path" not in joined and "xoxb-revoked-token" not in joined and SLACK_TOKEN not in joined
    stored = NotificationChannel.objects.get(name="broken-hook")
    assert b"very-secret-path" not in bytes(stored.credentials_ciphertext) and stored.config == {}


def test_the_outbound_guard_refuses_internal_webhook_urls(cast: Any, settings: Any) -> None:
    from notifications.services import channel_create
    from secrets_app.errors import ValidationFailed

    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = []
    with pytest.raises(ValidationFailed) as refused:
        channel_create(
            principal=principal(make_admin(cast)),
            organization=cast.organization,
            kind="teams_webhook",
            name="internal",
            credentials={"webhook_url": "http://169.254.169.254/latest/meta-data?sig=x"},
        )
    assert refused.value.fields == {"credentials.webhook_url": ["must be an https:// URL"]}
    assert "sig=x" not in refused.value.message
