"""Rotations: a credential in a target system that Strongroom changes on a schedule, and the
secrets in one folder that it keeps holding the current value.

No side effects here: services write, selectors read, tasks dispatch.

Crash safety is Vault's write-ahead record: a ``PendingRotation`` (the new password, sealed, and
which user it is for) is committed *before* the target is touched and deleted in the same
transaction that switches the owned secrets. A run that finds one rolls the same password forward
instead of generating another, so a worker killed between the target's ALTER and our commit never
leaves a password that nobody knows.
"""

from __future__ import annotations

import uuid

from django.db import models

from secrets_app.models import Environment, Folder, Project


class RotationMode(models.TextChoices):
    # Two pre-existing users take turns; the previously active one stays valid one more interval.
    ALTERNATE = "alternate", "Two users, alternate"
    # One user: consumers holding the old password fail from the ALTER until they re-read it.
    SINGLE = "single", "Single user (brief downtime)"


class RotationStatus(models.TextChoices):
    NEW = "new", "Not rotated yet"
    RUNNING = "running", "Running"  # claimed by one run (compare-and-set); ``locked_until`` bounds it
    SUCCESS = "success", "Rotated"
    RETRYING = "retrying", "Failed, retrying"  # ``next_run_at`` says when
    FAILED = "failed", "Failed"  # retries exhausted: admins notified, next attempt at the next slot


class Rotation(models.Model):
    """One rotation at one folder. ``config`` holds the non-secret connection settings (host, port,
    database, root username); the root password is sealed in ``credentials_ciphertext`` (AAD =
    ``rotation_aad``). ``usernames`` are the target's users (two in alternate mode), and
    ``active_index`` the one the owned secrets hold (None before the first rotation).
    ``secrets_mapping`` maps ``username``/``password`` to secret keys in the folder.

    Kinds whose target issues the credential (``IssuedCredentialKind``: AWS access keys, Entra
    client secrets) name one principal in ``usernames`` and keep the ids of its keys in
    ``issued_keys``: ``{"active": id, "previous": id}`` (ids are not secret; the secret of the
    active key lives only in the owned secrets)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="rotations")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="rotations")
    folder = models.ForeignKey(Folder, on_delete=models.CASCADE, related_name="rotations")
    name = models.CharField(max_length=64)
    description = models.CharField(max_length=256, blank=True, default="")
    kind = models.CharField(max_length=32)
    config = models.JSONField(default=dict, blank=True)
    credentials_ciphertext = models.BinaryField()
    mode = models.CharField(max_length=16, choices=RotationMode.choices, default=RotationMode.ALTERNATE)
    usernames = models.JSONField(default=list)
    active_index = models.PositiveSmallIntegerField(null=True, blank=True)
    secrets_mapping = models.JSONField(default=dict)
    issued_keys = models.JSONField(default=dict, blank=True)  # {"active": id, "previous": id}; issued kinds only
    # Schedule: every ``interval_days`` at ``rotate_at_hour:rotate_at_minute`` UTC, or ``cron``.
    interval_days = models.PositiveIntegerField(null=True, blank=True)
    rotate_at_hour = models.PositiveSmallIntegerField(default=0)
    rotate_at_minute = models.PositiveSmallIntegerField(default=0)
    cron = models.CharField(max_length=120, blank=True, default="")
    paused = models.BooleanField(default=False)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    status = models.CharField(max_length=16, choices=RotationStatus.choices, default=RotationStatus.NEW)
    locked_until = models.DateTimeField(null=True, blank=True)
    failed_attempts = models.PositiveIntegerField(default=0)  # consecutive failures of the current cycle
    last_rotated_at = models.DateTimeField(null=True, blank=True)
    last_attempted_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=1024, blank=True, default="")  # sanitised, never a value
    # A person revealed an owned value where reveals schedule rotations: the next run is a "reveal"
    # run, and its success schedules the reset of the previously active user (two-user mode), whose
    # password the person saw and an ordinary rotation would leave valid for another interval.
    reveal_requested_at = models.DateTimeField(null=True, blank=True)
    reset_user_index = models.PositiveSmallIntegerField(null=True, blank=True)
    reset_key_id = models.CharField(max_length=256, blank=True, default="")  # issued kinds: the key to delete
    reset_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    reset_failures = models.PositiveSmallIntegerField(default=0)
    created_by_label = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["folder", "name"], name="uniq_rotation_name_per_folder")]

    def __repr__(self) -> str:
        return f"<Rotation {self.pk} {self.kind} {self.name!r}>"

    __str__ = __repr__

    @property
    def path(self) -> str:
        return self.folder.path

    @property
    def owned_keys(self) -> list[str]:
        return [str(key) for key in self.secrets_mapping.values()]

    @property
    def reset_username(self) -> str:
        """The user whose password a pending reset will change ("" when none is pending)."""
        index = self.reset_user_index
        return str(self.usernames[index]) if index is not None and 0 <= index < len(self.usernames) else ""


class PendingRotation(models.Model):
    """The write-ahead record: committed before the target is touched, deleted in the switch's
    transaction. While it exists, every run re-applies *this* password to *this* user.

    For an ``IssuedCredentialKind`` it is first an *intent* (``key_id`` empty, no ciphertext:
    the target has not answered yet, or a run died before recording the answer) and then, once
    the target issued a key, ``key_id`` plus the sealed credential (AAD = ``rotation_issued_aad``),
    committed before anything else happens: every later run verifies and switches *that* key."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    rotation = models.OneToOneField(Rotation, on_delete=models.CASCADE, related_name="pending")
    user_index = models.PositiveSmallIntegerField()
    username = models.CharField(max_length=128)
    password_ciphertext = models.BinaryField()
    key_id = models.CharField(max_length=256, blank=True, default="")  # issued kinds: the key recorded
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)  # the target accepted (issued) it at least once
    verified_at = models.DateTimeField(null=True, blank=True)  # a login with it worked

    def __repr__(self) -> str:
        return f"<PendingRotation {self.pk} rotation={self.rotation_id} user={self.user_index}>"

    __str__ = __repr__


class AttemptOutcome(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCESS = "success", "Rotated"
    FAILED = "failed", "Failed"


class AttemptTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    MANUAL = "manual", "Rotate now"
    RETRY = "retry", "Retry"
    REVEAL = "reveal", "Revealed in the UI"


class RotationAttempt(models.Model):
    """One run of a rotation, for the history. Never holds a password."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="attempts")
    trigger = models.CharField(max_length=16, choices=AttemptTrigger.choices)
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices, default=AttemptOutcome.RUNNING)
    user_index = models.PositiveSmallIntegerField(null=True, blank=True)
    username = models.CharField(max_length=128, blank=True, default="")
    rolled_forward = models.BooleanField(default=False)  # re-applied a pending password of an earlier run
    error = models.CharField(max_length=1024, blank=True, default="")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __repr__(self) -> str:
        return f"<RotationAttempt {self.pk} rotation={self.rotation_id} {self.outcome}>"

    __str__ = __repr__
