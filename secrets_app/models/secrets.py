from __future__ import annotations

from django.conf import settings
from django.db import models

from secrets_app.models.projects import Environment, Project


class Folder(models.Model):
    """A folder in one environment. ``path`` is canonical: ``/`` for the root, ``/backend/api`` below it."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="folders")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="folders")
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="children")
    name = models.CharField(max_length=64)
    path = models.CharField(max_length=1024)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["path"]
        constraints = [models.UniqueConstraint(fields=["environment", "path"], name="uniq_folder_path_per_env")]

    def __str__(self) -> str:
        return f"{self.environment_id}:{self.path}"


class Tag(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tags")
    slug = models.SlugField(max_length=64)
    name = models.CharField(max_length=64)
    color = models.CharField(max_length=16, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        constraints = [models.UniqueConstraint(fields=["project", "slug"], name="uniq_tag_slug_per_project")]

    def __str__(self) -> str:
        return self.slug


class SecretType(models.TextChoices):
    SHARED = "shared", "Shared"
    PERSONAL = "personal", "Personal"


class Secret(models.Model):
    """A named secret in a folder. Its value lives only as ciphertext in ``SecretVersion`` rows.

    ``deleted_at`` marks a deletion that point-in-time rollback can undo; a new secret with the same
    key may exist beside deleted ones.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="secrets")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="secrets")
    folder = models.ForeignKey(Folder, on_delete=models.CASCADE, related_name="secrets")
    key = models.CharField(max_length=256)
    type = models.CharField(max_length=16, choices=SecretType.choices, default=SecretType.SHARED)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="personal_secrets"
    )
    version = models.PositiveIntegerField(default=0)
    tags = models.ManyToManyField(Tag, blank=True, related_name="secrets")
    # Governance metadata (plain text by design: it describes the secret, it is not the secret).
    owner_label = models.CharField(max_length=120, blank=True, default="")
    purpose = models.CharField(max_length=500, blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Quarantined (governance app, docs/governance.md): a single read answers 423 and a list or
    # ``run`` leaves the key out with a warning; the value and its versions are untouched.
    quarantined_at = models.DateTimeField(null=True, blank=True)
    last_read_at = models.DateTimeField(null=True, blank=True)
    last_rotated_at = models.DateTimeField(null=True, blank=True)
    # Rotation policy (docs/rotation.md): due at the newest version's creation + interval, or at
    # ``rotation_due_at`` when a reveal marked it due after that version. ``rotation_reminded_for``
    # is the due time the owner was last reminded of (one reminder per due period).
    rotation_interval_days = models.PositiveIntegerField(null=True, blank=True)
    rotation_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    rotation_due_at = models.DateTimeField(null=True, blank=True)
    rotation_reminded_for = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["key"]
        indexes = [models.Index(fields=["folder", "deleted_at"], name="secret_folder_live")]
        constraints = [
            models.UniqueConstraint(
                fields=["folder", "key"],
                condition=models.Q(type="shared", deleted_at__isnull=True),
                name="uniq_live_shared_key",
            ),
            models.UniqueConstraint(
                fields=["folder", "key", "owner"],
                condition=models.Q(type="personal", deleted_at__isnull=True),
                name="uniq_live_personal_key",
            ),
        ]

    def __repr__(self) -> str:
        return f"<Secret {self.pk} {self.key!r} v{self.version}>"

    __str__ = __repr__


class SecretVersion(models.Model):
    """One immutable version of a secret's value and comment, both AES-GCM ciphertext."""

    secret = models.ForeignKey(Secret, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    value_ciphertext = models.BinaryField()
    comment_ciphertext = models.BinaryField(null=True, blank=True)
    change = models.CharField(max_length=32, default="updated")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [models.UniqueConstraint(fields=["secret", "version"], name="uniq_secret_version")]

    def __repr__(self) -> str:
        return f"<SecretVersion secret={self.secret_id} v{self.version}>"

    __str__ = __repr__


class SecretImport(models.Model):
    """The folder pulls in the secrets of another environment/path, in ``position`` order; local keys win."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="secret_imports")
    folder = models.ForeignKey(Folder, on_delete=models.CASCADE, related_name="imports")
    source_environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    source_path = models.CharField(max_length=1024)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["folder", "source_environment", "source_path"], name="uniq_import_per_folder"
            )
        ]


class FolderCommit(models.Model):
    """One change to a folder, for point-in-time recovery.

    ``changes`` maps the ids of the secrets the change touched to their new version (``None``: deleted),
    so a commit's row does not grow with the folder. Every ``FOLDER_COMMIT_CHECKPOINT_EVERY``-th commit
    of a folder (and the first one after this scheme, or in a new folder) is also a checkpoint: its
    ``state`` holds all the folder's live secrets (id → version); ``state`` is None on the others. The
    folder's state after any commit is the nearest checkpoint at or before it with the later commits'
    changes applied in id order (``selectors.commits.folder_commit_state``). Rows written before
    deltas are all checkpoints, with ``changes`` None. ``live_count`` is the number of live secrets the
    commit left."""

    folder = models.ForeignKey(Folder, on_delete=models.CASCADE, related_name="commits")
    state = models.JSONField(null=True, blank=True, default=None)
    changes = models.JSONField(null=True, blank=True, default=None)
    live_count = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True, default="")
    actor_label = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # newest commit of a folder, and the range of commits a state is rebuilt from
            models.Index(fields=["folder", "id"], name="foldercommit_folder_id"),
            models.Index(
                fields=["folder", "id"], condition=models.Q(state__isnull=False), name="foldercommit_checkpoint"
            ),
        ]

    @property
    def is_checkpoint(self) -> bool:
        return self.state is not None


class FolderCommitHead(models.Model):
    """Per folder: how many commits it has had and how many live secrets the newest left. Each commit
    advances this row (``services.versions.folder_commit_record``) and holds its lock until the
    transaction ends, so one folder's commits are written one at a time, in id order, and a
    checkpoint sees every change committed before it."""

    folder = models.OneToOneField(Folder, on_delete=models.CASCADE, primary_key=True, related_name="+")
    commits = models.BigIntegerField(default=0)
    # Signed on purpose: only a checkpoint counts the folder; in between it is the running sum.
    live_count = models.BigIntegerField(default=0)


class IdempotencyRecord(models.Model):
    """The stored answer to a POST sent with ``Idempotency-Key`` (responses never hold secret values)."""

    principal = models.CharField(max_length=120)
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["principal", "key"], name="uniq_idempotency_key")]
