"""Approval policies, change requests (held secret writes) and access requests (just-in-time).

A policy protects one or more environments at a folder path glob of a project. A write that
touches a protected env+path becomes a ``ChangeRequest`` holding the intended change (values sealed
with the project's data key, bound by AAD to the item); an ``AccessRequest`` asks for a time-boxed
grant (``secrets_app.models.TemporaryAccessGrant``) that the permission check itself enforces.
"""

from __future__ import annotations

import secrets as random_source
import string
import uuid

from django.conf import settings
from django.db import models

from secrets_app.models import Environment, Folder, Group, Project

SLUG_ALPHABET = string.ascii_lowercase + string.digits


def new_slug() -> str:
    """Infisical's request slug: 10 random lowercase alphanumerics."""
    return "".join(random_source.choice(SLUG_ALPHABET) for _ in range(10))


class Enforcement(models.TextChoices):
    HARD = "hard", "Hard (no way round)"
    SOFT = "soft", "Soft (break-glass allowed)"


class ApprovalPolicy(models.Model):
    """Who must approve changes to (and access requests for) an env+path of a project."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="approval_policies")
    name = models.CharField(max_length=120)
    # Canonical folder path or glob ("/", "/payments/**"); precedence exact > glob > env-only ("/**").
    path = models.CharField(max_length=512, default="/**")
    environments: models.ManyToManyField[Environment, PolicyEnvironment] = models.ManyToManyField(
        Environment, through="PolicyEnvironment", related_name="+"
    )
    approvals_required = models.PositiveSmallIntegerField(default=1)
    enforcement = models.CharField(max_length=8, choices=Enforcement.choices, default=Enforcement.HARD)
    # Infisical defaults to allowing self-approval, a common complaint; we default to refusing it.
    allow_self_approval = models.BooleanField(default=False)
    # True: machine identities' writes are held too (a pipeline's write waits for a human).
    applies_to_identities = models.BooleanField(default=True)
    governs_changes = models.BooleanField(default=True)
    governs_access = models.BooleanField(default=True)
    request_ttl_hours = models.PositiveIntegerField(default=7 * 24)
    max_access_hours = models.PositiveIntegerField(default=8)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="uniq_approval_policy_name"),
            models.CheckConstraint(condition=models.Q(approvals_required__gte=1), name="approval_policy_min_one"),
        ]

    def __repr__(self) -> str:
        return f"<ApprovalPolicy {self.pk} {self.name!r} {self.path}>"

    __str__ = __repr__


class PolicyEnvironment(models.Model):
    """One environment a policy covers. ``path`` repeats the policy's path so the database itself
    refuses a second policy for the same env+path."""

    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.CASCADE, related_name="policy_environments")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    path = models.CharField(max_length=512)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["environment", "path"], name="uniq_policy_per_env_path")]


class PolicyMemberRole(models.TextChoices):
    APPROVER = "approver", "Approver"
    BYPASSER = "bypasser", "May break glass"  # soft policies: merge/grant without quorum, with a reason


class PolicyMember(models.Model):
    """An approver or break-glass person of a policy: a person or a group (members expanded when asked)."""

    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.CASCADE, related_name="members")
    role = models.CharField(max_length=10, choices=PolicyMemberRole.choices, default=PolicyMemberRole.APPROVER)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    group = models.ForeignKey(Group, on_delete=models.CASCADE, null=True, blank=True, related_name="+")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(user__isnull=False, group__isnull=True) | models.Q(user__isnull=True, group__isnull=False)
                ),
                name="policy_member_user_xor_group",
            ),
            models.UniqueConstraint(fields=["policy", "role", "user"], name="uniq_policy_member_user"),
            models.UniqueConstraint(fields=["policy", "role", "group"], name="uniq_policy_member_group"),
        ]


class RequestStatus(models.TextChoices):
    OPEN = "open", "Open"
    MERGED = "merged", "Merged"
    CLOSED = "closed", "Closed"
    EXPIRED = "expired", "Expired"


class ChangeRequest(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    slug = models.CharField(max_length=16, default=new_slug, unique=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="change_requests")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    folder = models.ForeignKey(Folder, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    path = models.CharField(max_length=512)
    policy = models.ForeignKey(
        ApprovalPolicy, on_delete=models.SET_NULL, null=True, blank=True, related_name="change_requests"
    )
    operation = models.CharField(max_length=40)  # the service that was held (secret.updated, folder.rolled_back…)
    committer_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    committer_identity = models.ForeignKey(
        "secrets_app.MachineIdentity", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    committer_label = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    status = models.CharField(max_length=8, choices=RequestStatus.choices, default=RequestStatus.OPEN)
    revision = models.PositiveIntegerField(default=1)  # bumped when the committer revises; reviews reset
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField()
    reminded_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    settled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    settled_reason = models.CharField(max_length=500, blank=True, default="")
    bypassed = models.BooleanField(default=False)  # merged without quorum (break-glass)
    bypass_reason = models.TextField(blank=True, default="")  # our DB only: never in notifications/webhooks
    conflicts = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "status"]), models.Index(fields=["status", "expires_at"])]

    def __repr__(self) -> str:
        return f"<ChangeRequest {self.pk} {self.slug} {self.status}>"

    __str__ = __repr__


class ChangeRequestItem(models.Model):
    """One proposed change (``secrets_app.write_gate.ProposedChange``). Values are ciphertext under
    the project's data key, AAD bound to the request and item (``approvals.crypto``)."""

    request = models.ForeignKey(ChangeRequest, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField(default=0)
    op = models.CharField(max_length=20)
    key = models.CharField(max_length=255, blank=True, default="")
    new_key = models.CharField(max_length=255, blank=True, default="")
    secret_type = models.CharField(max_length=10, default="shared")
    base_version = models.PositiveIntegerField(null=True, blank=True)
    target_version = models.PositiveIntegerField(null=True, blank=True)
    commit_id = models.BigIntegerField(null=True, blank=True)
    base_commit_id = models.BigIntegerField(null=True, blank=True)
    tags = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    value_ciphertext = models.BinaryField(null=True, blank=True)
    comment_ciphertext = models.BinaryField(null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]

    def __repr__(self) -> str:
        return f"<ChangeRequestItem {self.pk} {self.op} {self.key!r}>"

    __str__ = __repr__


class ReviewStatus(models.TextChoices):
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class ChangeReview(models.Model):
    """A reviewer's verdict on one revision of a change request (latest per reviewer counts)."""

    request = models.ForeignKey(ChangeRequest, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    revision = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=ReviewStatus.choices)
    comment = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "reviewer", "revision"], name="uniq_change_review_per_revision")
        ]


class RequestComment(models.Model):
    """A comment on a change request or an access request."""

    change_request = models.ForeignKey(
        ChangeRequest, on_delete=models.CASCADE, null=True, blank=True, related_name="comments"
    )
    access_request = models.ForeignKey(
        "AccessRequest", on_delete=models.CASCADE, null=True, blank=True, related_name="comments"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]


class AccessRequestStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"  # a grant exists (it may have ended since)
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"  # nobody decided in time


class AccessRequest(models.Model):
    """A person asks for time-boxed access to an env+path."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="access_requests")
    policy = models.ForeignKey(
        ApprovalPolicy, on_delete=models.SET_NULL, null=True, blank=True, related_name="access_requests"
    )
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    path = models.CharField(max_length=512)  # glob
    access = models.JSONField(default=list)  # ["read"] / ["read", "write"]: named action sets
    duration_minutes = models.PositiveIntegerField()
    reason = models.TextField()
    status = models.CharField(max_length=10, choices=AccessRequestStatus.choices, default=AccessRequestStatus.PENDING)
    break_glass = models.BooleanField(default=False)
    grant = models.ForeignKey(
        "secrets_app.TemporaryAccessGrant", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()  # a pending request nobody decides by then expires
    reminded_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "status"])]


class AccessReview(models.Model):
    request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=ReviewStatus.choices)
    comment = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["request", "reviewer"], name="uniq_access_review")]
