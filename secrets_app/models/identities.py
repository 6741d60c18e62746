from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from secrets_app.models.organizations import Organization
from secrets_app.models.projects import Project
from secrets_app.models.roles import Role


class MachineIdentity(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="identities")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="uniq_identity_name_per_org")]

    def __str__(self) -> str:
        return self.name


class IdentityProjectMembership(models.Model):
    """A machine identity's role in one project (same roles as people)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="identity_memberships")
    identity = models.ForeignKey(MachineIdentity, on_delete=models.CASCADE, related_name="project_memberships")
    builtin_role = models.CharField(max_length=16, blank=True, default="")
    custom_role = models.ForeignKey(
        Role, on_delete=models.PROTECT, null=True, blank=True, related_name="identity_memberships"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "identity"], name="uniq_identity_project_member"),
            models.CheckConstraint(
                condition=(models.Q(builtin_role="") & models.Q(custom_role__isnull=False))
                | (~models.Q(builtin_role="") & models.Q(custom_role__isnull=True)),
                name="identity_membership_has_exactly_one_role",
            ),
        ]

    @property
    def role_slug(self) -> str:
        return self.custom_role.slug if self.custom_role_id and self.custom_role else self.builtin_role


class AuthMethodKind(models.TextChoices):
    UNIVERSAL = "universal-auth", "Universal auth"
    JWT = "jwt-auth", "JWT auth"
    OIDC = "oidc-auth", "OIDC auth"
    KUBERNETES = "kubernetes-auth", "Kubernetes auth"


class TokenSettings(models.Model):
    """What every auth method decides about the tokens it issues (seconds; 0 uses = unlimited)."""

    access_token_ttl = models.PositiveIntegerField(default=3600)
    access_token_max_ttl = models.PositiveIntegerField(default=86400)
    access_token_num_uses_limit = models.PositiveIntegerField(default=0)
    access_token_trusted_ips = models.JSONField(default=list, blank=True)  # CIDRs; empty = anywhere
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class IdentityAccessToken(models.Model):
    """One issued access token. The token itself (a signed JWT naming this row) is never stored;
    every use is checked against this row, so revocation and use limits hold on the next request."""

    identity = models.ForeignKey(MachineIdentity, on_delete=models.CASCADE, related_name="access_tokens")
    auth_method = models.CharField(max_length=32, choices=AuthMethodKind.choices)
    # Set for universal auth, so revoking a client secret revokes what it issued.
    client_secret_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    ttl_seconds = models.PositiveIntegerField()
    max_ttl_seconds = models.PositiveIntegerField()
    num_uses_limit = models.PositiveIntegerField(default=0)
    num_uses = models.PositiveIntegerField(default=0)
    trusted_ips = models.JSONField(default=list, blank=True)
    created_ip = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField()
    last_renewed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __repr__(self) -> str:
        return f"<IdentityAccessToken {self.pk} identity={self.identity_id}>"


class UniversalAuth(TokenSettings):
    """Client id + client secrets. Lockout state lives in the shared cache (Redis in production)."""

    identity = models.OneToOneField(MachineIdentity, on_delete=models.CASCADE, related_name="universal_auth")
    client_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    client_secret_trusted_ips = models.JSONField(default=list, blank=True)
    lockout_enabled = models.BooleanField(default=True)
    lockout_threshold = models.PositiveIntegerField(default=3)
    lockout_duration_seconds = models.PositiveIntegerField(default=300)
    lockout_counter_reset_seconds = models.PositiveIntegerField(default=30)


class ClientSecret(models.Model):
    """A universal-auth client secret: only a keyed hash is stored; shown once at creation."""

    universal_auth = models.ForeignKey(UniversalAuth, on_delete=models.CASCADE, related_name="client_secrets")
    description = models.CharField(max_length=200, blank=True, default="")
    prefix = models.CharField(max_length=8, db_index=True)
    secret_hash = models.CharField(max_length=64, unique=True)
    ttl_seconds = models.PositiveIntegerField(default=0)  # 0 = never expires
    num_uses_limit = models.PositiveIntegerField(default=0)  # 0 = unlimited
    num_uses = models.PositiveIntegerField(default=0)
    trusted_ips = models.JSONField(default=list, blank=True)  # CIDRs; empty = anywhere (config's list applies too)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __repr__(self) -> str:
        return f"<ClientSecret {self.pk} {self.prefix}…>"


class JwtAuth(TokenSettings):
    """Verify a JWT by JWKS URL or static PEM keys, bound to issuer, audiences, subject and claims.
    With ``oidc_discovery_url`` set (OIDC auth) the JWKS is found through the discovery document."""

    identity = models.ForeignKey(MachineIdentity, on_delete=models.CASCADE, related_name="jwt_auths")
    kind = models.CharField(max_length=32, choices=AuthMethodKind.choices, default=AuthMethodKind.JWT)
    config_type = models.CharField(max_length=16, default="jwks")  # "jwks" | "static"
    jwks_url = models.URLField(max_length=500, blank=True, default="")
    jwks_ca_cert = models.TextField(blank=True, default="")
    oidc_discovery_url = models.URLField(max_length=500, blank=True, default="")
    public_keys = models.JSONField(default=list, blank=True)  # PEM strings
    bound_issuer = models.CharField(max_length=500, blank=True, default="")
    bound_audiences = models.CharField(max_length=1000, blank=True, default="")  # ", "-separated globs
    bound_subject = models.CharField(max_length=500, blank=True, default="")  # glob
    bound_claims = models.JSONField(default=dict, blank=True)  # dot.path -> ", "-separated globs

    class Meta:
        constraints = [models.UniqueConstraint(fields=["identity", "kind"], name="uniq_jwt_auth_kind_per_identity")]


class KubernetesAuth(TokenSettings):
    """Validate service-account tokens with the cluster's TokenReview API."""

    identity = models.OneToOneField(MachineIdentity, on_delete=models.CASCADE, related_name="kubernetes_auth")
    kubernetes_host = models.URLField(max_length=500)
    ca_cert_ciphertext = models.BinaryField(null=True, blank=True)  # root-sealed
    token_reviewer_jwt_ciphertext = models.BinaryField(null=True, blank=True)  # root-sealed
    allowed_namespaces = models.CharField(max_length=1000, blank=True, default="")  # comma-separated
    allowed_names = models.CharField(max_length=1000, blank=True, default="")  # comma-separated
    allowed_audience = models.CharField(max_length=500, blank=True, default="")
