"""Notification channels (where messages go), their routes (which messages), notifications (what
happened) and deliveries (one message to one channel or person, with its own status and retries).

Channel credentials (bot tokens, webhook URLs) are stored only as root-sealed ciphertext bound
(AAD) to their row; ``config`` holds non-secret settings only. A notification holds no secret
value: callers describe events with names and ids, never values.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from secrets_app.models import Organization, Project


class ChannelTestStatus(models.TextChoices):
    UNTESTED = "untested", "Not tested"
    OK = "ok", "OK"
    FAILED = "failed", "Failed"


class NotificationChannel(models.Model):
    """One place messages go: an e-mail list, a Slack channel (bot or webhook), a Teams channel.
    ``kind`` names a plugin in ``notifications.channels.registry``."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="notification_channels")
    kind = models.CharField(max_length=32)
    name = models.CharField(max_length=120)
    config = models.JSONField(default=dict, blank=True)
    credentials_ciphertext = models.BinaryField(null=True, blank=True)
    credential_names = models.JSONField(default=list, blank=True)  # which secret fields are set (names only)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    last_test_status = models.CharField(
        max_length=16, choices=ChannelTestStatus.choices, default=ChannelTestStatus.UNTESTED
    )
    last_test_message = models.CharField(max_length=240, blank=True, default="")

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="uniq_notification_channel_name_per_org")
        ]

    def __repr__(self) -> str:
        return f"<NotificationChannel {self.pk} {self.kind} {self.name!r}>"

    __str__ = __repr__


class ChannelRoute(models.Model):
    """Which notifications a channel receives: those of ``project`` (null = every project of the
    organization, and organization-level events) whose event kind matches one of ``event_kinds``
    (``approvals.change_request`` matches ``approvals.change_request.opened``; ``approvals.*`` and
    ``*`` work). ``digest``: one message a day instead of one per notification."""

    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="routes")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    event_kinds = models.JSONField(default=list)
    digest = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __repr__(self) -> str:
        return f"<ChannelRoute {self.pk} channel={self.channel_id} {self.event_kinds}>"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class Notification(models.Model):
    """Something that happened and was announced. ``subject_ref`` names the thing it is about
    (``change_request:<uuid>``) so a later follow-up finds it; ``resolved_status`` is set when it
    is settled (merged, rejected, expired)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="notifications")
    project = models.ForeignKey(Project, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    event_kind = models.CharField(max_length=120)
    subject_ref = models.CharField(max_length=200, db_index=True)
    title = models.CharField(max_length=200)
    summary = models.CharField(max_length=2000, blank=True, default="")
    facts = models.JSONField(default=list, blank=True)  # [[label, value], ...]
    link_label = models.CharField(max_length=80, blank=True, default="")
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.INFO)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_status = models.CharField(max_length=200, blank=True, default="")
    resolved_at = models.DateTimeField(null=True, blank=True)
    follow_up = models.JSONField(default=dict, blank=True)  # {"title", "summary", "facts"} of the follow-up

    class Meta:
        ordering = ["-created_at", "-id"]

    def __repr__(self) -> str:
        return f"<Notification {self.pk} {self.event_kind} {self.subject_ref}>"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"  # claimed by a worker (compare-and-set)
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"  # final: no more attempts
    SKIPPED = "skipped", "Skipped"  # channel disabled or deleted, person without an address


class DeliveryAction(models.TextChoices):
    SEND = "send", "Message"
    UPDATE = "update", "Update of a sent message"  # Slack bot: chat.update
    FOLLOW_UP = "follow_up", "Follow-up message"


class Delivery(models.Model):
    """One message of one notification to one channel or person.

    ``recipient_label`` is for display: a channel's name or a person's e-mail, never a webhook URL.
    ``last_error`` is a short text we wrote (status code, Slack error code, exception class):
    never a response body, which could echo a credential. ``external_ref`` is what the
    destination gave back (Slack ``{"channel", "ts"}``) for a later update."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(
        NotificationChannel, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries"
    )
    recipient_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recipient_label = models.CharField(max_length=254, blank=True, default="")
    action = models.CharField(max_length=16, choices=DeliveryAction.choices, default=DeliveryAction.SEND)
    replaces = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    digest = models.BooleanField(default=False)  # waits for the daily digest instead of being sent
    link = models.CharField(max_length=2000, blank=True, default="")
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=240, blank=True, default="")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    external_ref = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __repr__(self) -> str:
        return f"<Delivery {self.pk} {self.action} {self.status}>"

    @property
    def target_label(self) -> str:
        if self.channel_id is not None and self.channel is not None:
            return self.channel.name
        return self.recipient_label or "(deleted)"
