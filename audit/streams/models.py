"""Audit streams: where an organization's audit events go, how far each stream has got, and the
events a destination refused for good (parked).

A stream holds no per-event rows for delivered events: ``cursor_event_id`` says every event of the
organization up to that id was delivered or parked, and the engine reads the next events straight
from the sealed audit log (docs/audit.md "Streams"). Credentials are stored only as root-sealed
ciphertext bound (AAD) to the row; ``config`` holds non-secret settings only.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from secrets_app.models import Organization


class StreamState(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"


class StreamTestStatus(models.TextChoices):
    UNTESTED = "untested", "Not tested"
    OK = "ok", "OK"
    FAILED = "failed", "Failed"


class AuditStream(models.Model):
    """One destination of one organization's audit events. ``kind`` names a plugin in
    ``audit.streams.registry``."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="audit_streams")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=32)
    config = models.JSONField(default=dict, blank=True)
    credentials_ciphertext = models.BinaryField(null=True, blank=True)
    credential_names = models.JSONField(default=list, blank=True)  # which secret fields are set (names only)
    state = models.CharField(max_length=16, choices=StreamState.choices, default=StreamState.ACTIVE)
    # Every event of the organization with an id up to here was delivered or parked.
    cursor_event_id = models.BigIntegerField(default=0)
    delivered_count = models.PositiveBigIntegerField(default=0)
    parked_count = models.PositiveBigIntegerField(default=0)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=240, blank=True, default="")  # sanitised: never a credential
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)  # backoff: not before this
    lag_alert_seconds = models.PositiveIntegerField(default=900)
    lag_alerted_at = models.DateTimeField(null=True, blank=True)  # set while an alert is outstanding
    # The delivery engine's lease (audit.streams.delivery): at most one run per stream at a time, and
    # a run whose lease was taken over can no longer move the cursor.
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True, default="")
    enqueued_at = models.DateTimeField(null=True, blank=True)  # a delivery task is queued (dispatch)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    last_test_status = models.CharField(
        max_length=16, choices=StreamTestStatus.choices, default=StreamTestStatus.UNTESTED
    )
    last_test_message = models.CharField(max_length=240, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="uniq_audit_stream_name_per_org")]

    def __repr__(self) -> str:
        return f"<AuditStream {self.pk} {self.kind} {self.name!r}>"

    __str__ = __repr__


class ParkedAuditEvent(models.Model):
    """An event the destination refused for good (e.g. 413 for this event alone): set aside with the
    reason so the stream moves on; an admin can retry it (replay) once the destination accepts it."""

    stream = models.ForeignKey(AuditStream, on_delete=models.CASCADE, related_name="parked")
    event_id = models.BigIntegerField()
    status = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=240, blank=True, default="")
    parked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["event_id"]
        constraints = [models.UniqueConstraint(fields=["stream", "event_id"], name="uniq_parked_event_per_stream")]

    def __repr__(self) -> str:
        return f"<ParkedAuditEvent stream={self.stream_id} event={self.event_id}>"
