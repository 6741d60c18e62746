"""Slack through an incoming webhook (the URL is the credential). Follow-ups are new messages:
a webhook cannot edit what it posted."""

from __future__ import annotations

from collections.abc import Sequence

from notifications.channels.base import (
    ChannelContext,
    ChannelKind,
    FinalDeliveryError,
    PluginField,
    RenderedMessage,
    SendResult,
    TransientDeliveryError,
)
from notifications.channels.http import GuardedWebhookClient, retry_after_of
from notifications.channels.slack_bot.kind import slack_failure
from notifications.render import slack_blocks, slack_text


class SlackWebhookChannel(ChannelKind):
    kind = "slack_webhook"
    label = "Slack (incoming webhook)"
    description = "Posts to the channel an incoming webhook was created for. Follow-ups are new messages."
    url_fields = ("webhook_url",)
    fields = (
        PluginField(
            "webhook_url",
            "Webhook URL",
            secret=True,
            input="url",
            placeholder="https://hooks.slack.com/services/T…/B…/…",
            help="Slack app → Incoming Webhooks → Add New Webhook to Workspace. The URL is a secret.",
        ),
    )

    def send(self, ctx: ChannelContext, message: RenderedMessage, *, recipients: Sequence[str] = ()) -> SendResult:
        try:
            response = GuardedWebhookClient(ctx.credentials.get("webhook_url", "")).send(
                text=slack_text(message), blocks=slack_blocks(message), unfurl_links=False, unfurl_media=False
            )
        except Exception as exc:
            raise slack_failure(exc) from None
        status = response.status_code
        if 200 <= status < 300:
            return SendResult({})
        code = "".join(ch for ch in (response.body or "")[:40] if ch.isalnum() or ch == "_")
        if status == 429:
            raise TransientDeliveryError(
                "Slack rate limit (429)", retry_after=retry_after_of(response.headers), status=429
            )
        if status >= 500:
            raise TransientDeliveryError(f"Slack answered HTTP {status}", status=status)
        # 400 invalid_payload, 403 action_prohibited, 404 no_service / channel_not_found, 410 channel_is_archived
        raise FinalDeliveryError(f"Slack answered HTTP {status} {code}".strip(), status=status)
