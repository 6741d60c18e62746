"""A notification channel that records what it was asked to post in ``POSTED``."""

from __future__ import annotations

from collections.abc import Sequence

from notifications.channels.base import ChannelContext, ChannelKind, PluginField, RenderedMessage, SendResult

POSTED: list[dict[str, str]] = []


class EchoChannel(ChannelKind):
    kind = "channel_echo"
    label = "Echo room"
    description = "A channel declared only in tests"
    fields = (
        PluginField("room", "Echo room", placeholder="e.g. ops"),
        PluginField("echo_key", "Echo key", secret=True, input="password"),
    )

    def send(self, ctx: ChannelContext, message: RenderedMessage, *, recipients: Sequence[str] = ()) -> SendResult:
        POSTED.append({"room": str(ctx.config["room"]), "key": ctx.credentials["echo_key"], "title": message.title})
        return SendResult(external_ref={"room": str(ctx.config["room"]), "n": len(POSTED)})
