"""App connections (credentials for outside systems) and secret syncs (source → destination).

No side effects here: services write, selectors read, tasks dispatch. Credentials are stored only
as root-sealed ciphertext bound (AAD) to their row; values synced are never stored, only a keyed
digest per managed remote key.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from secrets_app.models import Environment, Organization, Project


class ConnectionKind(models.TextChoices):
    """Names of the kinds other rooms ask for by name (the estate reads Azure DevOps, imports
    from Key Vault). Not the field's choices: those are every registered kind
    (``connection_kinds``)."""

    AZURE_DEVOPS = "azure_devops", "Azure DevOps"
    AZURE_KEY_VAULT = "azure_key_vault", "Azure Key Vault"


def connection_kinds() -> list[tuple[str, str]]:
    """The destination kinds registered now (``syncs.providers.registry``): derived at run time,
    so a new kind needs no migration."""
    from syncs.providers.registry import kinds

    return kinds()


class ConnectionTestStatus(models.TextChoices):
    UNTESTED = "untested", "Not tested"
    OK = "ok", "OK"
    FAILED = "failed", "Failed"


class AppConnection(models.Model):
    """Credentials to one outside system, owned by an organization. ``credentials_ciphertext`` is
    the JSON of the secret fields sealed with the root key; AAD = ``secrets_app/crypto/bindings.py::connection_aad``, so a
    ciphertext copied onto another row fails to open. ``config`` holds non-secret settings only."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="app_connections")
    kind = models.CharField(max_length=32, choices=connection_kinds)
    method = models.CharField(max_length=32)
    name = models.CharField(max_length=120)
    description = models.CharField(max_length=500, blank=True, default="")
    config = models.JSONField(default=dict, blank=True)
    credentials_ciphertext = models.BinaryField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    last_test_status = models.CharField(
        max_length=16, choices=ConnectionTestStatus.choices, default=ConnectionTestStatus.UNTESTED
    )
    last_test_message = models.CharField(max_length=240, blank=True, default="")

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="uniq_connection_name_per_org")]

    def __repr__(self) -> str:
        return f"<AppConnection {self.pk} {self.kind} {self.name!r}>"

    __str__ = __repr__


class SyncStatus(models.TextChoices):
    IDLE = "idle", "Idle"  # created, never run
    QUEUED = "queued", "Queued"  # waiting for a worker (or for ``next_attempt_at`` on a retry)
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"  # final for this cycle: a new source change or "sync now" re-queues


class InitialBehavior(models.TextChoices):
    OVERWRITE_DESTINATION = "overwrite_destination", "Overwrite destination (take over keys with the same name)"
    IMPORT_DESTINATION = "import_destination", "Import destination values (Strongroom wins a clash)"
    IMPORT_PREFER_DESTINATION = "import_prefer_destination", "Import destination values (destination wins a clash)"


class SecretSync(models.Model):
    """One source (project, environment, folder path, recursive) pushed to one destination.

    Runs use the access of ``owner`` (the person who created the sync): the sync pushes only what
    that person may read, and stops with an error when they lose access.
    Lifecycle columns: ``status`` is claimed by compare-and-set; ``heartbeat_at`` is refreshed
    while running, and a RUNNING row whose heartbeat is older than the stale window is failed
    (or re-claimed) by the reconciler; ``attempts`` counts the failed attempts of the current
    cycle (reset on success); ``source_changed_at`` is set by every secret write that affects
    the source, and a run that started before it is followed by another.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="secret_syncs")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="secret_syncs")
    path = models.CharField(max_length=1024, default="/")
    recursive = models.BooleanField(default=False)
    name = models.CharField(max_length=120)
    connection = models.ForeignKey(AppConnection, on_delete=models.PROTECT, related_name="syncs")
    destination = models.JSONField(default=dict)
    target_key = models.CharField(max_length=600, db_index=True)
    # Options
    auto_sync = models.BooleanField(default=True)
    initial_behavior = models.CharField(
        max_length=32, choices=InitialBehavior.choices, default=InitialBehavior.OVERWRITE_DESTINATION
    )
    key_name_template = models.CharField(max_length=200, default="{{secretKey}}")
    delete_on_source_removal = models.BooleanField(default=True)
    provider_options = models.JSONField(default=dict, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="secret_syncs")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # What this sync did to the destination container.
    created_container = models.BooleanField(default=False)
    remote_state = models.JSONField(default=dict, blank=True)  # e.g. ADO {"group_id": 7, "modified_on": "…"}
    # Lifecycle
    status = models.CharField(max_length=16, choices=SyncStatus.choices, default=SyncStatus.IDLE, db_index=True)
    trigger = models.CharField(max_length=32, blank=True, default="")
    queued_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    run_started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    source_changed_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=240, blank=True, default="")
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_drift_check_at = models.DateTimeField(null=True, blank=True)
    # The next run rewrites every managed value even if our digests say it is current (drift overwrite).
    force_next_run = models.BooleanField(default=False)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="uniq_sync_name_per_project")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="sync_due")]

    def __repr__(self) -> str:
        return f"<SecretSync {self.pk} {self.name!r} {self.status}>"

    __str__ = __repr__


class SyncManagedKey(models.Model):
    """A remote name this sync manages. Only these are ever updated, disabled or deleted.

    ``digest`` is an HMAC (server key, bound to sync and name) of the value last written — never
    the value; ``remote_version`` is the destination's version token after that write (KV version
    id, ADO group ``modifiedOn``), used by drift detection."""

    sync = models.ForeignKey(SecretSync, on_delete=models.CASCADE, related_name="managed_keys")
    name = models.CharField(max_length=512)
    source_key = models.CharField(max_length=256, blank=True, default="")
    digest = models.CharField(max_length=64, blank=True, default="")
    remote_version = models.CharField(max_length=128, blank=True, default="")
    created_by_sync = models.BooleanField(default=False)
    disabled = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["sync", "name"], name="uniq_managed_name_per_sync")]

    def __repr__(self) -> str:
        return f"<SyncManagedKey {self.sync_id}:{self.name}>"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"  # the attempt failed (a retry may follow; see ``final``)
    INTERRUPTED = "interrupted", "Interrupted"  # the worker died; found stale by the reconciler


class RunTrigger(models.TextChoices):
    SOURCE_CHANGE = "source_change", "Secret changed"
    MANUAL = "manual", "Sync now"
    CREATED = "created", "Sync created"
    RETRY = "retry", "Retry"
    RECONCILE = "reconcile", "Reconciler"
    DRIFT_OVERWRITE = "drift_overwrite", "Drift overwrite"


class SyncRun(models.Model):
    """One attempt of one sync (history). ``counts`` holds numbers and ``warnings`` safe text:
    names and codes, never values."""

    sync = models.ForeignKey(SecretSync, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    trigger = models.CharField(max_length=32, blank=True, default="")
    attempt = models.PositiveIntegerField(default=1)
    final = models.BooleanField(default=False)  # a failure that will not be retried
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=240, blank=True, default="")
    retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["sync", "-started_at"], name="sync_run_recent")]

    def __repr__(self) -> str:
        return f"<SyncRun {self.pk} sync={self.sync_id} {self.status}>"


class DriftKind(models.TextChoices):
    CHANGED = "changed", "Changed at destination"
    POSSIBLY_CHANGED = "possibly_changed", "Possibly changed (destination hides values)"
    MISSING = "missing", "Missing at destination"
    UNMANAGED = "unmanaged", "Not managed by this sync"


class DriftEntry(models.Model):
    """One difference found by the last drift check of a sync (replaced on every check)."""

    sync = models.ForeignKey(SecretSync, on_delete=models.CASCADE, related_name="drift_entries")
    name = models.CharField(max_length=512)
    kind = models.CharField(max_length=24, choices=DriftKind.choices)
    detail = models.CharField(max_length=240, blank=True, default="")
    adoptable = models.BooleanField(default=False)
    detected_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["sync", "name"], name="uniq_drift_name_per_sync")]


class DestinationLock(models.Model):
    """Serialises runs writing one destination container (``SecretSync.target_key``), across syncs
    and workers. Taken by compare-and-set on ``locked_until`` (a TTL, extended by heartbeats), so
    a worker killed while holding it blocks others for at most one TTL. Works on SQLite too."""

    target_key = models.CharField(max_length=600, unique=True)
    holder = models.CharField(max_length=64, blank=True, default="")
    locked_until = models.DateTimeField(null=True, blank=True)
