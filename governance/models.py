"""Governance data: everything here is derived from what the core already records (versions, audit
events) by beat tasks, except the policy, leak flags, quarantines and pipeline gates people set.

"Delivered" is the honest word: a key counts as delivered to a consumer when its value was in a
response to that consumer (a list with values or ``run`` delivers every key of the folder), which
says nothing about whether the consumer used it.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from secrets_app.models import Environment, Project, Secret


class ConsumerKind(models.TextChoices):
    USER = "user", "Person"
    IDENTITY = "identity", "Machine identity"


class GovernancePolicy(models.Model):
    """Per project thresholds. A project without a row uses the defaults (``governance.policy``)."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, primary_key=True, related_name="+")
    # "not delivered for N days": stale; also the quiet days after which quarantine may be proposed.
    stale_after_days = models.PositiveIntegerField(default=90)
    # "shared by more than N consumers"
    max_consumers = models.PositiveIntegerField(default=5)
    # metadata expiry within this many days: "expiring"
    expiring_within_days = models.PositiveIntegerField(default=14)
    # a person revealed the value within this many days: "revealed recently"
    revealed_within_days = models.PositiveIntegerField(default=7)
    # quarantine: a secret not delivered for this many days may be quarantined (None: never offered)
    quarantine_after_days = models.PositiveIntegerField(null=True, blank=True, default=None)
    # after this many quiet days in quarantine, deletion is proposed to the owner and admins
    delete_after_quarantine_days = models.PositiveIntegerField(default=30)
    updated_at = models.DateTimeField(auto_now=True)


class SecretDelivery(models.Model):
    """Per secret and consumer: when the secret's value was first and last delivered to it, how
    often, and from where (the last request's IP, user agent and, for a pipeline token, the run)."""

    secret = models.ForeignKey(Secret, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    consumer_kind = models.CharField(max_length=16, choices=ConsumerKind.choices)
    consumer_id = models.BigIntegerField()
    consumer_label = models.CharField(max_length=200, blank=True, default="")
    first_delivered_at = models.DateTimeField()
    last_delivered_at = models.DateTimeField()
    deliveries = models.PositiveBigIntegerField(default=0)
    last_source_ip = models.CharField(max_length=64, blank=True, default="")
    last_user_agent = models.CharField(max_length=300, blank=True, default="")
    # "ado-org/project-id/definition-id#run-id" when the last delivery's token proved an Azure DevOps run
    last_pipeline = models.CharField(max_length=300, blank=True, default="")
    # The last single-value read (``secret.value_read``) by this consumer: for a person, a reveal.
    last_revealed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["secret", "consumer_kind", "consumer_id"], name="uniq_delivery_consumer")
        ]
        indexes = [
            models.Index(fields=["project", "consumer_kind", "consumer_id"], name="delivery_project_consumer"),
        ]


class DeliveryDay(models.Model):
    """Per project, environment, day and consumer: how many read events delivered values and how
    many keys they delivered (charts: reads over time per environment, top consumers)."""

    organization_id = models.BigIntegerField()
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    environment = models.CharField(max_length=64)
    day = models.DateField()
    consumer_kind = models.CharField(max_length=16, choices=ConsumerKind.choices)
    consumer_id = models.BigIntegerField()
    consumer_label = models.CharField(max_length=200, blank=True, default="")
    events = models.PositiveBigIntegerField(default=0)
    keys = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "environment", "day", "consumer_kind", "consumer_id"], name="uniq_delivery_day"
            )
        ]
        indexes = [models.Index(fields=["organization_id", "day"], name="delivery_day_org_day")]


class SecretRisk(models.Model):
    """One row per live secret, recomputed by beat (``governance.services.risk``): the facts the
    dashboard lists, and one boolean per flag so every list filters and counts in SQL."""

    secret = models.OneToOneField(Secret, on_delete=models.CASCADE, primary_key=True, related_name="+")
    organization_id = models.BigIntegerField(db_index=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    path = models.CharField(max_length=1024)
    key = models.CharField(max_length=256)
    version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    changed_at = models.DateTimeField()  # the newest version's creation
    last_rotated_at = models.DateTimeField(null=True, blank=True)
    rotation_due_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_delivered_at = models.DateTimeField(null=True, blank=True)
    last_delivered_to = models.CharField(max_length=200, blank=True, default="")
    consumers = models.PositiveIntegerField(default=0)
    owner_id = models.BigIntegerField(null=True, blank=True)  # rotation owner, else creator
    owner_label = models.CharField(max_length=200, blank=True, default="")
    last_revealed_at = models.DateTimeField(null=True, blank=True)
    last_revealed_by = models.CharField(max_length=200, blank=True, default="")
    same_value_in = models.JSONField(default=list, blank=True)  # environment slugs holding the same value
    quarantined_at = models.DateTimeField(null=True, blank=True)
    # flags
    never_delivered = models.BooleanField(default=False)
    stale = models.BooleanField(default=False)  # delivered once, but not for stale_after_days
    expiring = models.BooleanField(default=False)
    expired = models.BooleanField(default=False)
    rotation_overdue = models.BooleanField(default=False)
    owner_missing = models.BooleanField(default=False)
    owner_deactivated = models.BooleanField(default=False)
    over_shared = models.BooleanField(default=False)
    same_value = models.BooleanField(default=False)
    revealed_recently = models.BooleanField(default=False)
    leaked = models.BooleanField(default=False)
    quarantined = models.BooleanField(default=False)
    score = models.PositiveSmallIntegerField(default=0)  # the sum of the flags' weights, for sorting
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["project", "environment"], name="risk_project_env"),
            models.Index(fields=["organization_id", "score"], name="risk_org_score"),
        ]


class GovernanceSnapshot(models.Model):
    """The day's figures of one organization (``project`` None) or project, for trends: one row per
    day, overwritten during the day by each refresh."""

    organization_id = models.BigIntegerField()
    project = models.ForeignKey(Project, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    day = models.DateField()
    figures = models.JSONField(default=dict)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization_id", "project", "day"], name="uniq_snapshot_day"),
            models.UniqueConstraint(
                fields=["organization_id", "day"],
                condition=models.Q(project__isnull=True),
                name="uniq_org_snapshot_day",
            ),
        ]


class LeakFlag(models.Model):
    """A secret flagged as leaked, by an admin with a reason (or a scanner later). Active until an
    admin clears it or the value changes after it was raised (a rotation ends the leak)."""

    secret = models.ForeignKey(Secret, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=500)
    source = models.CharField(max_length=32, default="manual")  # manual | scanner
    flagged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    flagged_at = models.DateTimeField(auto_now_add=True)
    flagged_version = models.PositiveIntegerField(default=0)  # the secret's version when raised
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    cleared_reason = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["secret", "cleared_at"], name="leakflag_secret_active")]


class QuarantineStatus(models.TextChoices):
    ACTIVE = "active", "Quarantined"
    RESTORED = "restored", "Restored"
    DELETED = "deleted", "Deleted"


class Quarantine(models.Model):
    """One quarantine of one secret (the core's ``Secret.quarantined_at`` is what reads check)."""

    secret = models.ForeignKey(Secret, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=QuarantineStatus.choices, default=QuarantineStatus.ACTIVE)
    reason = models.CharField(max_length=500, blank=True, default="")
    started_at = models.DateTimeField()
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    refused_reads = models.PositiveIntegerField(default=0)
    last_refused_at = models.DateTimeField(null=True, blank=True)
    last_refused_to = models.CharField(max_length=200, blank=True, default="")
    deletion_proposed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["secret"], condition=models.Q(status="active"), name="uniq_active_quarantine"
            )
        ]


class GateMode(models.TextChoices):
    API_RESPONSE = "api_response", "ApiResponse (synchronous)"
    CALLBACK = "callback", "Callback (asynchronous)"


class PipelineGate(models.Model):
    """Links an Azure DevOps pipeline (organization, project id, and a pipeline definition or an ADO
    environment) to what it reads in Strongroom (project, environment, paths, identity). The
    Invoke REST API check authenticates with ``username`` and a password whose keyed hash is stored."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey("secrets_app.Organization", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120)
    ado_organization = models.CharField(max_length=200)  # name, or the collection URL's last segment
    ado_project_id = models.CharField(max_length=64)
    ado_definition_id = models.PositiveBigIntegerField(null=True, blank=True)
    ado_environment = models.CharField(max_length=200, blank=True, default="")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    paths = models.JSONField(default=list)  # e.g. ["/", "/backend/**"]
    identity = models.ForeignKey("secrets_app.MachineIdentity", on_delete=models.CASCADE, related_name="+")
    username = models.CharField(max_length=64, unique=True)
    password_hash = models.CharField(max_length=128)
    # the policy: which findings fail the gate
    require_rotation_current = models.BooleanField(default=True)
    require_no_leaks = models.BooleanField(default=True)
    require_no_quarantined = models.BooleanField(default=True)
    parity_from = models.ForeignKey(
        Environment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )  # parity must hold from this environment (e.g. staging) to the gate's (prod)
    require_no_irrevocable_leases = models.BooleanField(default=True)
    # how the check is configured in Azure DevOps: waitForCompletion false (ApiResponse) or true (Callback)
    mode = models.CharField(max_length=16, choices=GateMode.choices, default=GateMode.API_RESPONSE)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]


class GateDecision(models.Model):
    """One decision of one gate for one run and stage attempt (re-asked: the stored answer)."""

    gate = models.ForeignKey(PipelineGate, on_delete=models.CASCADE, related_name="decisions")
    build_id = models.PositiveBigIntegerField()
    stage_attempt = models.PositiveIntegerField(default=1)
    mode = models.CharField(max_length=16, choices=GateMode.choices)
    status = models.CharField(max_length=8)  # pass | fail | pending
    reasons = models.JSONField(default=list)
    findings = models.JSONField(default=list)
    # Callback mode: where the decision is posted (PlanUrl, ProjectId, HubName, PlanId, JobId,
    # TaskInstanceId: routing, not secrets) and the job's AuthToken sealed until it is sent, then erased.
    callback = models.JSONField(default=dict, blank=True)
    callback_token_ciphertext = models.BinaryField(null=True, blank=True)
    callback_state = models.CharField(max_length=16, blank=True, default="")  # "", queued, sent, failed
    callback_error = models.CharField(max_length=500, blank=True, default="")
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["gate", "build_id", "stage_attempt"], name="uniq_gate_decision_run")
        ]
