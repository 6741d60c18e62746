"""Find a channel kind. Adding a kind is one folder plus one line here: a ``ChannelKind``
subclass (``notifications/channels/base.py``) declaring its fields and implementing ``send``. The
form, API validation, kind choices and schema derive from the declaration (the plugin pattern,
``secrets_app/plugins.py``); the smallest example is ``tests/plugins/kinds/channel_echo/``."""

from __future__ import annotations

from notifications.channels.base import ChannelKind
from secrets_app.plugins import PluginRegistry

CHANNELS: PluginRegistry[ChannelKind] = PluginRegistry(
    {
        "email": "notifications.channels.email.kind:EmailChannel",
        "slack_bot": "notifications.channels.slack_bot.kind:SlackBotChannel",
        "slack_webhook": "notifications.channels.slack_webhook.kind:SlackWebhookChannel",
        "teams_webhook": "notifications.channels.teams_webhook.kind:TeamsWebhookChannel",
    },
    base=ChannelKind,
    noun="channel kind",
)


def channel_kind(kind: str) -> ChannelKind:
    return CHANNELS.get(kind)
