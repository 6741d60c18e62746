"""Single sign-on for people: one OIDC provider per organization (Entra ID or any standard one),
and the link between a person and the subject the provider knows them by.

The client secret is sealed under the system data key (AAD bound to the organization) and never
returned. ``require_sso`` refuses local passwords to everyone but the break-glass admins, whose
every password sign-in is audited (``user.break_glass_login``) and mailed to the org admins.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from secrets_app.models.organizations import Organization


class OrganizationSso(models.Model):
    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="sso")
    # The issuer (``https://login.microsoftonline.com/{tenant}/v2.0``) or its discovery document URL.
    issuer_url = models.URLField(max_length=500)
    client_id = models.CharField(max_length=255)
    client_secret_ciphertext = models.BinaryField()
    # Lower-case e-mail domains whose people may sign in (and be created at first sign-in).
    allowed_domains = models.JSONField(default=list, blank=True)
    # Directory group ids whose members may sign in whatever their domain (optional).
    allowed_group_ids = models.JSONField(default=list, blank=True)
    claim_email = models.CharField(max_length=64, default="email")
    claim_name = models.CharField(max_length=64, default="name")
    claim_groups = models.CharField(max_length=64, default="groups")
    require_sso = models.BooleanField(default=False)
    # Local admins who may still sign in with a password while SSO is required (or the IdP is down).
    break_glass_users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="break_glass_for")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"sso:{self.organization_id}"

    @property
    def discovery_url(self) -> str:
        suffix = "/.well-known/openid-configuration"
        url = self.issuer_url.rstrip("/")
        return url if url.endswith(suffix) else url + suffix


class SsoIdentity(models.Model):
    """A person as an identity provider knows them (issuer + ``sub``). Its presence makes the
    account an SSO account: it skips Strongroom's TOTP (the IdP's MFA applies)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identities")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sso_identities")
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="uniq_sso_identity_subject")]
