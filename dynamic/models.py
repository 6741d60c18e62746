"""Dynamic secrets (a recipe for short-lived credentials at one folder) and their leases.

No side effects here: services write, selectors read, tasks dispatch.

A lease carries a **snapshot** of everything its revocation needs (provider kind, connection
settings, a sealed copy of the root credentials, the username and the rendered revocation
statements), taken when it was issued: editing or deleting the dynamic secret can never strand a
live database user. Passwords handed to the consumer are never stored, in clear or sealed.
"""

from __future__ import annotations

import uuid

from django.db import models

from secrets_app.models import Environment, Folder, Organization, Project


class DynamicSecret(models.Model):
    """A named recipe at one folder: which provider, how to reach it (``config`` plain, the root
    credentials sealed in ``credentials_ciphertext``, AAD = ``dynamic_secret_aad(...)``), the TTLs,
    the username template, the password requirements and the statements."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="dynamic_secrets")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="dynamic_secrets")
    folder = models.ForeignKey(Folder, on_delete=models.CASCADE, related_name="dynamic_secrets")
    name = models.CharField(max_length=64)
    provider = models.CharField(max_length=32)
    config = models.JSONField(default=dict, blank=True)  # non-secret provider settings (host, port, database…)
    credentials_ciphertext = models.BinaryField()
    credential_names = models.JSONField(default=list, blank=True)  # which secret fields are set (never values)
    default_ttl = models.PositiveIntegerField()  # seconds
    max_ttl = models.PositiveIntegerField(null=True, blank=True)  # seconds; None: no cap
    username_template = models.CharField(max_length=255, blank=True, default="")
    password_requirements = models.JSONField(default=dict, blank=True)
    # {"creation": [...], "renewal": [...], "revocation": [...]}: templates as the provider declares
    statements = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_by_label = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_tested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["folder", "name"], name="uniq_dynamic_secret_name_per_folder")]

    def __repr__(self) -> str:
        return f"<DynamicSecret {self.pk} {self.provider} {self.name!r}>"

    __str__ = __repr__

    @property
    def path(self) -> str:
        return self.folder.path


class LeaseStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    REVOKING = "revoking", "Revoking"  # claimed by one worker (compare-and-set); ``claimed_until`` bounds it
    REVOKED = "revoked", "Revoked"
    FAILED = "failed", "Revocation failed, retrying"  # ``next_attempt_at`` says when
    IRREVOCABLE = "irrevocable", "Irrevocable"  # retries exhausted: admins alerted, force-revoke remains


LIVE_STATUSES = (LeaseStatus.ACTIVE, LeaseStatus.REVOKING, LeaseStatus.FAILED, LeaseStatus.IRREVOCABLE)


class Lease(models.Model):
    """One issued credential. ``dynamic_secret`` is SET_NULL: the snapshot columns keep what
    revocation needs. ``version`` mirrors Infisical's lease field (bumped on renewal)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    dynamic_secret = models.ForeignKey(
        DynamicSecret, on_delete=models.SET_NULL, null=True, blank=True, related_name="leases"
    )
    project = models.ForeignKey(Project, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # Snapshots (names for listing and audit after the secret or project is gone).
    organization_id_snapshot = models.BigIntegerField()
    project_id_snapshot = models.BigIntegerField()
    environment_slug = models.CharField(max_length=64)
    path = models.CharField(max_length=1024)
    dynamic_secret_name = models.CharField(max_length=64)
    dynamic_secret_public_id = models.UUIDField()
    provider = models.CharField(max_length=32)
    config_snapshot = models.JSONField(default=dict, blank=True)
    credentials_ciphertext = models.BinaryField()  # the root credentials as of issue, sealed to this lease
    username = models.CharField(max_length=128)
    revocation_statements = models.JSONField(default=list, blank=True)  # rendered: no password in them
    # Lifecycle
    status = models.CharField(max_length=16, choices=LeaseStatus.choices, default=LeaseStatus.ACTIVE)
    version = models.PositiveIntegerField(default=1)
    expire_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    revoke_requested_at = models.DateTimeField(null=True, blank=True)  # a caller asked before expiry
    revoke_attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)  # last revocation message sent
    last_error = models.CharField(max_length=240, blank=True, default="")
    revoked_at = models.DateTimeField(null=True, blank=True)
    forced = models.BooleanField(default=False)  # revoked by force: the remote user may still exist
    alerted_at = models.DateTimeField(null=True, blank=True)
    # Consumer (who holds it: the governance view)
    actor_type = models.CharField(max_length=16)
    actor_id = models.CharField(max_length=64)
    actor_label = models.CharField(max_length=200)
    client_ip = models.CharField(max_length=64, blank=True, default="")
    # Run scope (docs/dynamic-secrets.md, "Run-scoped leases"): the Azure DevOps run this lease
    # lives no longer than. Empty / None: not bound. ``ado_bound_by`` says how the run was proven.
    ado_org_url = models.CharField(max_length=300, blank=True, default="")
    ado_account_id = models.CharField(max_length=64, blank=True, default="")  # the org's GUID when known
    ado_project_id = models.CharField(max_length=64, blank=True, default="")  # project GUID (lower case)
    ado_build_id = models.PositiveBigIntegerField(null=True, blank=True)  # = the run id
    ado_run_state = models.CharField(max_length=16, blank=True, default="")  # as last seen: inProgress, completed…
    ado_bound_by = models.CharField(max_length=16, blank=True, default="")  # RunProof
    ado_connection = models.ForeignKey(
        "syncs.AppConnection", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )  # polled through; None: only the hook (and the TTL) end it
    ado_checked_at = models.DateTimeField(null=True, blank=True)  # last poll of the run's state

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "expire_at"], name="lease_due"),
            models.Index(fields=["status", "next_attempt_at"], name="lease_retry_due"),
            models.Index(fields=["dynamic_secret", "status"], name="lease_by_secret"),
            models.Index(fields=["ado_project_id", "ado_build_id"], name="lease_by_ado_run"),
        ]

    def __repr__(self) -> str:
        return f"<Lease {self.public_id} {self.status}>"

    __str__ = __repr__

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES


class TargetAllowlist(models.Model):
    """Where an organization's dynamic secrets (and, later, rotations) may connect: host names,
    IPs or CIDRs. Empty (the default) allows nothing."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="dynamic_targets")
    entries = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __repr__(self) -> str:
        return f"<TargetAllowlist org={self.organization_id} {len(self.entries)} entries>"


class RunProof(models.TextChoices):
    """How a lease's Azure DevOps run was proven."""

    OIDC = "oidc", "Azure DevOps pipeline OIDC token"  # run_id claim of a vstoken-issued token
    ACCESS_TOKEN = "access_token", "System.AccessToken showed the build in progress"


class AdoRunToken(models.Model):
    """The run an access token was issued for: recorded at login when the presented JWT was a
    pipeline token issued by Azure DevOps itself (``iss`` a pinned ``vstoken`` issuer, ``run_id``,
    ``prj_id`` and ``org_id`` present). Leases taken with that access token are bound to the run."""

    access_token = models.OneToOneField(
        "secrets_app.IdentityAccessToken", on_delete=models.CASCADE, related_name="ado_run"
    )
    issuer = models.CharField(max_length=300)
    org_name = models.CharField(max_length=200, blank=True, default="")  # from sub p://{org}/{project}/{pipeline}
    account_id = models.CharField(max_length=64)  # org_id claim
    project_id = models.CharField(max_length=64)  # prj_id claim
    definition_id = models.CharField(max_length=64, blank=True, default="")  # def_id claim
    build_id = models.PositiveBigIntegerField()  # run_id claim
    created_at = models.DateTimeField(auto_now_add=True)

    def __repr__(self) -> str:
        return f"<AdoRunToken token={self.access_token_id} run={self.build_id}>"


class AdoRunHook(models.Model):
    """The receiver of one Azure DevOps organization's ``run-state-changed`` service hook, owned
    by a Strongroom organization and tied to one of its Azure DevOps connections. Basic-auth
    password and the optional extra header's value are sealed (AAD = ``ado_run_hook_aad``)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="ado_run_hooks")
    connection = models.OneToOneField("syncs.AppConnection", on_delete=models.CASCADE, related_name="ado_run_hook")
    account_id = models.CharField(max_length=64)  # expected resourceContainers.account.id (lower case)
    project_ids = models.JSONField(default=list, blank=True)  # accepted project GUIDs; empty: any
    username = models.CharField(max_length=100)
    secrets_ciphertext = models.BinaryField()  # {"password": …, "header_value": …}
    header_name = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_event_at = models.DateTimeField(null=True, blank=True)

    def __repr__(self) -> str:
        return f"<AdoRunHook {self.public_id} org={self.organization_id}>"


class AdoHookEvent(models.Model):
    """An event id a hook accepted (ADO redelivers; a replay is a no-op). Pruned after a day:
    an event older than ten minutes is refused anyway."""

    hook = models.ForeignKey(AdoRunHook, on_delete=models.CASCADE, related_name="events")
    event_id = models.CharField(max_length=64)
    project_id = models.CharField(max_length=64, blank=True, default="")
    build_id = models.PositiveBigIntegerField(null=True, blank=True)
    state = models.CharField(max_length=16, blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hook", "event_id"], name="uniq_ado_hook_event")]
        indexes = [models.Index(fields=["received_at"], name="ado_hook_event_age")]
