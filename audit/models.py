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
        # One organization's events in id order: its chain, its streams' next batch, its lag and
        # retention all read by (organization, id).
        indexes = [models.Index(fields=["organization_id", "id"], name="audit_event_org_id")]

    def __repr__(self) -> str:
        return f"<AuditEvent {self.pk} {self.action} {self.outcome}>"


class AuditBlock(models.Model):
    """A sealed run of one organization's audit rows: one hash chain per organization (``chain`` is
    the organization id, ``INSTANCE_CHAIN`` (0) for events that belong to no organization).

    ``row_hashes`` lists [event id, row hash] in id order, and ``block_hash`` = sha256(chain,
    sequence, id range, previous block hash of the same chain, those hashes). Editing, deleting or
    reordering any sealed row breaks its chain, which ``manage.py audit_verify`` reports.

    ``sealed_through``: the sealing run that wrote this block sealed *every* event with an id up to
    this one (into the chains they belong to), so ``max(sealed_through)`` is the boundary below which
    no event can still appear: streams deliver up to it and verification expects every row below it
    in a block.
    """

    chain = models.BigIntegerField(default=0)
    sequence = models.PositiveBigIntegerField()
    first_event_id = models.BigIntegerField()
    last_event_id = models.BigIntegerField()
    sealed_through = models.BigIntegerField(default=0, db_index=True)
    row_hashes = models.JSONField(default=list)
    previous_hash = models.CharField(max_length=64)
    block_hash = models.CharField(max_length=64)
    sealed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["chain", "sequence"]
        constraints = [models.UniqueConstraint(fields=["chain", "sequence"], name="audit_block_chain_sequence")]
        indexes = [models.Index(fields=["chain", "last_event_id"], name="audit_block_chain_last")]


INSTANCE_CHAIN = 0


def chain_of(organization_id: int | None) -> int:
    """The chain an event belongs to: its organization's, or the instance chain (0)."""
    return organization_id or INSTANCE_CHAIN


class AuditPurge(models.Model):
    """One retention purge of one chain (``audit.retention``): every event in blocks 1..``through_sequence``
    of ``chain`` was deleted; the blocks themselves stay, so the rest of the chain still verifies from
    ``anchor_hash`` (the block hash of block ``through_sequence``). Append-only like the audit tables."""

    chain = models.BigIntegerField()
    through_sequence = models.PositiveBigIntegerField()
    through_event_id = models.BigIntegerField()
    anchor_hash = models.CharField(max_length=64)
    events_deleted = models.PositiveBigIntegerField(default=0)
    purged_before = models.DateTimeField()
    purged_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["chain", "through_sequence"]
        constraints = [models.UniqueConstraint(fields=["chain", "through_sequence"], name="audit_purge_chain_sequence")]
