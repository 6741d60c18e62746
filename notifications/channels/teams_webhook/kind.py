"""Microsoft Teams through a Workflows ("When a Teams webhook request is received" → post to a
channel) or legacy incoming-webhook URL: a message with one Adaptive Card attachment. The URL is
the credential (its ``sig`` parameter signs it). Follow-ups are new messages."""

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
from notifications.channels.http import ChannelUnreachable, post, retry_after_of
from notifications.render import teams_card
from secrets_app import outbound


class TeamsWebhookChannel(ChannelKind):
    kind = "teams_webhook"
    label = "Microsoft Teams (webhook)"
    description = "Posts an Adaptive Card through a Teams Workflows webhook. Follow-ups are new messages."
    url_fields = ("webhook_url",)
    fields = (
        PluginField(
            "webhook_url",
            "Webhook URL",
            secret=True,
            input="url",
            placeholder="https://….logic.azure.com/workflows/…",
            help="Teams → Workflows → 'Post to a channel when a webhook request is received'. The URL is a secret.",
        ),
    )

    def send(self, ctx: ChannelContext, message: RenderedMessage, *, recipients: Sequence[str] = ()) -> SendResult:
        try:
            response = post(ctx.credentials.get("webhook_url", ""), json=teams_card(message))
        except outbound.OutboundRefused as refusal:
            raise FinalDeliveryError(str(refusal)) from None
        except ChannelUnreachable as exc:
            raise TransientDeliveryError(str(exc)) from None
        status = response.status_code
        if 200 <= status < 300:
            return SendResult({})
        if status == 429:
            raise TransientDeliveryError(
                "Teams rate limit (429)", retry_after=retry_after_of(response.headers), status=429
            )
        if status >= 500 or status == 408:
            raise TransientDeliveryError(f"Teams answered HTTP {status}", status=status)
        raise FinalDeliveryError(f"Teams answered HTTP {status}", status=status)
