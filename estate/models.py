"""The Azure DevOps estate: what a scan found in an Azure DevOps organization, what it means
(findings), and imports of it into Strongroom.

Nothing here ever holds a value. Azure DevOps never returns secret values; plain (non-secret)
values are read during a scan only to judge whether they look like secrets, and during an import
only to copy them into Strongroom's encrypted store: ``details`` keeps names and flags.

A resource row is the latest known state of one Azure DevOps object, per connection. A scan
upserts the rows it sees (``last_seen_scan``) and, when it completes, marks the ones it did not see
``removed_at``: that is the diff against the previous scan.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from secrets_app.models import Environment, Organization, Project
from syncs.models import AppConnection, SecretSync


class ScanStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_SCAN_STATUSES = (ScanStatus.QUEUED, ScanStatus.RUNNING)


class EstateScan(models.Model):
    """One discovery run over one Azure DevOps organization through one connection (read only).

    Lifecycle as for syncs: claimed by compare-and-set on ``status``; ``heartbeat_at`` refreshed
    while running; a RUNNING row with a stale heartbeat is re-queued by the reconciler and the
    next attempt resumes after ``done_projects``. At most one queued or running scan per
    Strongroom organization and Azure DevOps organization URL (per-org concurrency)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(AppConnection, on_delete=models.CASCADE, related_name="estate_scans")
    org_url = models.CharField(max_length=300)  # the connection's organization URL when the scan was asked
    status = models.CharField(max_length=16, choices=ScanStatus.choices, default=ScanStatus.QUEUED, db_index=True)
    trigger = models.CharField(max_length=16, blank=True, default="manual")  # manual | api | cli | retry
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    queued_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # {"phase": "projects|groups|…|findings", "projects_total": n, "projects_done": n,
    #  "requests": n, "throttled": n, "current_project": "name"}
    progress = models.JSONField(default=dict, blank=True)
    done_projects = models.JSONField(default=list, blank=True)  # ADO project ids finished (resume point)
    # {"projects": n, "variable_groups": n, "pipelines": n, "service_connections": n, "secure_files": n,
    #  "secret_variables": n, "findings": n}
    counts = models.JSONField(default=dict, blank=True)
    diff = models.JSONField(default=dict, blank=True)  # {"added": n, "changed": n, "removed": n}
    error = models.CharField(max_length=240, blank=True, default="")

    class Meta:
        ordering = ["-queued_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "org_url"],
                condition=Q(status__in=["queued", "running"]),
                name="uniq_active_estate_scan",
            )
        ]

    def __repr__(self) -> str:
        return f"<EstateScan {self.pk} {self.org_url} {self.status}>"

    __str__ = __repr__


class ResourceKind(models.TextChoices):
    PROJECT = "project", "Project"
    VARIABLE_GROUP = "variable_group", "Variable group"
    PIPELINE = "pipeline", "Pipeline"
    SERVICE_CONNECTION = "service_connection", "Service connection"
    SECURE_FILE = "secure_file", "Secure file"


class EstateResource(models.Model):
    """The latest known state of one Azure DevOps object (names and flags only, never a value).

    ``details`` by kind (every list of variables holds ``{"name", "is_secret", "looks_secret",
    "reason"}`` plus the kind's own flags):
    - variable_group: ``type`` (Vsts | AzureKeyVault), ``vault``, ``service_endpoint_id``,
      ``variables``, ``description``, ``modified_on``, ``modified_by``, ``all_pipelines`` (open to
      every pipeline), ``pipeline_ids`` (pipelines explicitly authorized), ``project_ids``;
    - pipeline: ``path``, ``process_type`` (1 designer, 2 YAML), ``yaml_filename``,
      ``repository`` ({id, name, type, default_branch}), ``variables``, ``variable_group_ids``;
    - service_connection: ``type``, ``scheme``, ``authentication_type``, ``credential_kind``
      (client_secret | certificate | federated | managed_identity | password | token | other),
      ``wif_issuer``, ``wif_subject``, ``is_shared``, ``is_ready``, ``all_pipelines``, ``project_ids``;
    - secure_file: ``all_pipelines``;
    - project: ``state``, ``visibility``.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(AppConnection, on_delete=models.CASCADE, related_name="estate_resources")
    kind = models.CharField(max_length=24, choices=ResourceKind.choices)
    ado_project_id = models.CharField(max_length=64, blank=True, default="")
    ado_project_name = models.CharField(max_length=256, blank=True, default="")
    external_id = models.CharField(max_length=128)  # group id, definition id, endpoint id, file id, project id
    name = models.CharField(max_length=512)
    details = models.JSONField(default=dict, blank=True)
    secret_count = models.PositiveIntegerField(default=0)  # variables marked secret
    variable_count = models.PositiveIntegerField(default=0)
    fingerprint = models.CharField(max_length=64, blank=True, default="")  # sha256 of canonical details
    first_seen_scan = models.ForeignKey(EstateScan, on_delete=models.SET_NULL, null=True, related_name="+")
    last_seen_scan = models.ForeignKey(EstateScan, on_delete=models.SET_NULL, null=True, related_name="+")
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    changed_at = models.DateTimeField()  # when the fingerprint last changed (or first seen)
    removed_at = models.DateTimeField(null=True, blank=True)  # not seen by the latest complete scan
    managed_by_sync = models.ForeignKey(SecretSync, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["kind", "ado_project_name", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "kind", "ado_project_id", "external_id"], name="uniq_estate_resource"
            )
        ]
        indexes = [models.Index(fields=["organization", "kind", "removed_at"], name="estate_resource_kind")]

    def __repr__(self) -> str:
        return f"<EstateResource {self.pk} {self.kind} {self.name!r}>"

    __str__ = __repr__


class FindingKind(models.TextChoices):
    PLAIN_SECRET_VARIABLE = "plain_secret_variable", "Secret stored as a plain variable"
    OPEN_TO_ALL_PIPELINES = "open_to_all_pipelines", "Open to every pipeline of the project"
    CLIENT_SECRET_CONNECTION = "client_secret_connection", "Service connection on a client secret (federation possible)"
    LEGACY_WIF_ISSUER = "legacy_wif_issuer", "Federated connection still on the Azure DevOps issuer"
    STATIC_CREDENTIAL_CONNECTION = "static_credential_connection", "Service connection holding a password or token"
    DUPLICATED_NAME = "duplicated_name", "The same variable name in many groups"
    MANAGED_BY_SYNC = "managed_by_sync", "Already managed by a Strongroom sync"
    SECRET_PIPELINE_VARIABLE = "secret_pipeline_variable", "Secret variable defined on a pipeline"


class Severity(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"
    INFO = "info", "Info"


class EstateFinding(models.Model):
    """One finding about the estate, kept across scans: ``first_seen_at`` / ``last_seen_at``, and
    ``resolved_at`` once a complete scan no longer finds it. ``key`` identifies it across scans
    (kind, resource and subject). ``detail`` and ``data`` hold names and ids only."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(AppConnection, on_delete=models.CASCADE, related_name="estate_findings")
    resource = models.ForeignKey(
        EstateResource, on_delete=models.CASCADE, null=True, blank=True, related_name="findings"
    )
    kind = models.CharField(max_length=32, choices=FindingKind.choices)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    subject = models.CharField(max_length=512, blank=True, default="")  # e.g. the variable name
    key = models.CharField(max_length=700)
    detail = models.CharField(max_length=400, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["resolved_at", "severity", "kind", "subject", "id"]
        constraints = [models.UniqueConstraint(fields=["connection", "key"], name="uniq_estate_finding")]
        indexes = [models.Index(fields=["organization", "resolved_at", "kind"], name="estate_finding_open")]

    def __repr__(self) -> str:
        return f"<EstateFinding {self.pk} {self.kind} {self.subject!r}>"

    __str__ = __repr__


class ImportStatus(models.TextChoices):
    DRAFT = "draft", "Draft (mapped, not applied)"
    NEEDS_VALUES = "needs_values", "Imported; some values must be entered"
    COMPLETE = "complete", "Imported"
    HELD = "held", "Held for approval"
    FAILED = "failed", "Failed"


class EstateImport(models.Model):
    """Bringing one variable group or pipeline's variables into one Strongroom place.

    Idempotent: one row per (resource, project, environment, path); applying it again writes only
    what changed (the secrets service keeps an unchanged value's version). ``sync`` is set when the
    person converted the group into the target of a Strongroom sync."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    resource = models.ForeignKey(EstateResource, on_delete=models.CASCADE, related_name="imports")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    path = models.CharField(max_length=1024, default="/")
    status = models.CharField(max_length=16, choices=ImportStatus.choices, default=ImportStatus.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)  # {"created", "updated", "unchanged", "needs_value", "skipped"}
    error = models.CharField(max_length=240, blank=True, default="")
    change_request_id = models.BigIntegerField(null=True, blank=True)  # when an approval policy held the write
    sync = models.ForeignKey(SecretSync, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["resource", "project", "environment", "path"], name="uniq_estate_import_target"
            )
        ]

    def __repr__(self) -> str:
        return f"<EstateImport {self.pk} resource={self.resource_id} {self.status}>"

    __str__ = __repr__


class ItemSource(models.TextChoices):
    PLAIN = "plain", "Copied from Azure DevOps (plain value)"
    KEY_VAULT = "key_vault", "Read from the linked Key Vault"
    REENTRY = "reentry", "Entered by a person (Azure DevOps does not return secret values)"


class ItemStatus(models.TextChoices):
    PENDING = "pending", "To import"
    IMPORTED = "imported", "Imported"
    NEEDS_VALUE = "needs_value", "Needs a value"
    SKIPPED = "skipped", "Skipped"


class EstateImportItem(models.Model):
    """One variable of an import: the Azure DevOps name, the Strongroom key it maps to, where its
    value comes from and where it stands. Never the value."""

    estate_import = models.ForeignKey(EstateImport, on_delete=models.CASCADE, related_name="items")
    ado_name = models.CharField(max_length=256)
    key = models.CharField(max_length=256)
    is_secret = models.BooleanField(default=False)
    source = models.CharField(max_length=16, choices=ItemSource.choices)
    status = models.CharField(max_length=16, choices=ItemStatus.choices, default=ItemStatus.PENDING)
    imported_version = models.PositiveIntegerField(null=True, blank=True)
    imported_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=240, blank=True, default="")

    class Meta:
        ordering = ["ado_name", "id"]
        constraints = [models.UniqueConstraint(fields=["estate_import", "ado_name"], name="uniq_estate_import_item")]

    def __repr__(self) -> str:
        return f"<EstateImportItem {self.ado_name} → {self.key} {self.status}>"

    __str__ = __repr__
