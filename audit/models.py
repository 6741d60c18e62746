from __future__ import annotations

from django.db import models


class ActorType(models.TextChoices):
    USER = "user", "User"
    IDENTITY = "identity", "Machine identity"
    SYSTEM = "system", "System"
    ANONYMOUS = "anonymous", "Anonymous"


class Outcome(models.TextChoices):
    ALLOW = "allow", "Allowed"
    DENY = "deny", "Denied"
    ERROR = "error", "Error"


class AuditEvent(models.Model):
    """One append-only audit row. Never updated or deleted (a PostgreSQL trigger refuses both).

    Rows are inserted freely by concurrent writers; ``AuditBlock`` seals them afterwards into a
    hash chain, so writers never wait on a shared "previous hash".
    Metadata holds names, ids and counts only: never a secret value, token or client secret.
    """

    occurred_at = models.DateTimeField(db_index=True)
    action = models.CharField(max_length=64, db_index=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.ALLOW)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True, default="")
    actor_label = models.CharField(max_length=200, blank=True, default="")
    actor_role = models.CharField(max_length=64, blank=True, default="")
    organization_id = models.BigIntegerField(null=True, blank=True)
    project_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    environment = models.CharField(max_length=64, blank=True, default="")
    path = models.CharField(max_length=1024, blank=True, default="")
    resource_type = models.CharField(max_length=32, blank=True, default="")
    resource_id = models.CharField(max_length=128, blank=True, default="")
    source_ip = models.CharField(max_length=64, blank=True, default="")
    user_agent = models.CharField(max_length=300, blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]

    def __repr__(self) -> str:
        return f"<AuditEvent {self.pk} {self.action} {self.outcome}>"


class AuditBlock(models.Model):
    """A sealed run of audit rows: ``row_hashes`` lists [event id, row hash] in id order, and
    ``block_hash`` = sha256(previous block hash + those hashes). Editing, deleting or reordering
    any sealed row breaks the chain, which ``manage.py audit_verify`` reports."""

    sequence = models.PositiveBigIntegerField(unique=True)
    first_event_id = models.BigIntegerField()
    last_event_id = models.BigIntegerField()
    row_hashes = models.JSONField(default=list)
    previous_hash = models.CharField(max_length=64)
    block_hash = models.CharField(max_length=64)
    sealed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sequence"]
