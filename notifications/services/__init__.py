"""Writes of the notifications app. What other apps call::

from notifications.services import Fact, Message, notification_send, notification_follow_up
"""

from __future__ import annotations

from notifications.services.channels import (
    channel_context,
    channel_create,
    channel_delete,
    channel_test,
    channel_update,
    routes_set,
)
from notifications.services.delivery import (
    deliveries_reconcile,
    delivery_execute,
    delivery_retry,
    digests_send,
)
from notifications.services.messages import (
    Fact,
    Message,
    event_kind_matches,
    notification_follow_up,
    notification_send,
)

__all__ = [
    "Fact",
    "Message",
    "channel_context",
    "channel_create",
    "channel_delete",
    "channel_test",
    "channel_update",
    "deliveries_reconcile",
    "delivery_execute",
    "delivery_retry",
    "digests_send",
    "event_kind_matches",
    "notification_follow_up",
    "notification_send",
    "routes_set",
]
