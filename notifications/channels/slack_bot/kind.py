"""Slack through a Slack app's bot token (``chat:write`` scope, the bot invited to the channel).

``chat.postMessage`` returns the message's ``ts`` and the channel's id; they are kept on the
delivery so a follow-up replaces the message in place with ``chat.update`` (no longer "pending").
The API base URL is ``STRONGROOM_SLACK_API_URL`` (a setting, for tests' emulators), never a user's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from slack_sdk.errors import SlackApiError, SlackClientError

from notifications.channels.base import (
    ChannelContext,
    ChannelKind,
    DeliveryError,
    FinalDeliveryError,
    PluginField,
    PluginFieldError,
    RenderedMessage,
    SendResult,
    TransientDeliveryError,
)
from notifications.channels.http import ChannelUnreachable, GuardedWebClient, retry_after_of
from notifications.render import slack_blocks, slack_text
from secrets_app import outbound

# Slack error codes that retrying cannot fix.
FINAL_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "invalid_arguments",
        "restricted_action",
        "cant_update_message",
        "message_not_found",
        "edit_window_closed",
        "ekm_access_denied",
        "team_access_not_granted",
    }
)


def api_url() -> str:
    url = str(getattr(settings, "STRONGROOM_SLACK_API_URL", "") or "https://slack.com/api/")
    return url if url.endswith("/") else url + "/"


def slack_failure(exc: Exception) -> DeliveryError:
    """A safe ``DeliveryError`` for whatever the SDK raised (codes and statuses only)."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = getattr(response, "status_code", None)
        code = ""
        try:
            code = str(response.get("error") or "") if isinstance(response.data, dict) else ""
        except Exception:
            code = ""
        code = "".join(ch for ch in code if ch.isalnum() or ch == "_")[:60]
        retry_after = retry_after_of(getattr(response, "headers", None))
        if status == 429 or code == "ratelimited":
            return TransientDeliveryError("Slack rate limit (429)", retry_after=retry_after, status=429)
        if status in (401, 403) or code in FINAL_ERRORS:
            return FinalDeliveryError(f"Slack answered {code or status}", status=status)
        if status is not None and status >= 500:
            return TransientDeliveryError(f"Slack answered HTTP {status}", retry_after=retry_after, status=status)
        return TransientDeliveryError(f"Slack answered {code or status}", status=status)
    if isinstance(exc, outbound.OutboundRefused):
        return FinalDeliveryError(str(exc))
    if isinstance(exc, ChannelUnreachable):
        return TransientDeliveryError(str(exc))
    if isinstance(exc, SlackClientError):
        return TransientDeliveryError(f"Slack client error ({type(exc).__name__})")
    return TransientDeliveryError(f"Slack could not be reached ({type(exc).__name__})")


class SlackBotChannel(ChannelKind):
    kind = "slack_bot"
    label = "Slack (bot)"
    description = (
        "Posts with a Slack app's bot token (scope chat:write; invite the bot to the channel). "
        "Messages are updated in place when their subject is settled."
    )
    supports_update = True
    fields = (
        PluginField(
            "bot_token",
            "Bot token",
            secret=True,
            input="password",
            placeholder="xoxb-…",
            help="The Bot User OAuth Token of your Slack app (OAuth & Permissions).",
            max_length=300,
        ),
        PluginField(
            "channel",
            "Channel ID",
            placeholder="C0123456789",
            help="Channel details → About → Channel ID. Invite the bot: /invite @your-app",
            max_length=80,
        ),
    )

    def validate(
        self, *, config: Mapping[str, Any], credentials: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        cleaned, secrets = super().validate(config=config, credentials=credentials)
        channel = str(cleaned.get("channel", ""))
        if any(ch.isspace() for ch in channel):
            raise PluginFieldError("config.channel", "a channel ID has no spaces (e.g. C0123456789)")
        token = secrets.get("bot_token")
        if token is not None and not token.startswith("xoxb-"):
            raise PluginFieldError("credentials.bot_token", "a bot token starts with xoxb-")
        return cleaned, secrets

    def _client(self, ctx: ChannelContext) -> GuardedWebClient:
        return GuardedWebClient(token=ctx.credentials.get("bot_token", ""), base_url=api_url())

    def send(self, ctx: ChannelContext, message: RenderedMessage, *, recipients: Sequence[str] = ()) -> SendResult:
        try:
            response = self._client(ctx).chat_postMessage(
                channel=str(ctx.config.get("channel", "")),
                text=slack_text(message),
                blocks=slack_blocks(message),
                unfurl_links=False,
                unfurl_media=False,
            )
        except Exception as exc:
            raise slack_failure(exc) from None
        return SendResult({"channel": str(response.get("channel") or ""), "ts": str(response.get("ts") or "")})

    def update(self, ctx: ChannelContext, message: RenderedMessage, external_ref: Mapping[str, Any]) -> SendResult:
        channel, ts = str(external_ref.get("channel") or ""), str(external_ref.get("ts") or "")
        if not channel or not ts:
            raise FinalDeliveryError("the original Slack message is not known")
        try:
            response = self._client(ctx).chat_update(
                channel=channel, ts=ts, text=slack_text(message), blocks=slack_blocks(message)
            )
        except Exception as exc:
            raise slack_failure(exc) from None
        return SendResult({"channel": str(response.get("channel") or channel), "ts": str(response.get("ts") or ts)})

    def test(self, ctx: ChannelContext) -> str:
        try:
            identity = self._client(ctx).auth_test()
        except Exception as exc:
            raise slack_failure(exc) from None
        super().test(ctx)
        team = "".join(ch for ch in str(identity.get("team") or "") if ch.isprintable())[:60]
        return f"test message posted{f' in {team}' if team else ''}"
