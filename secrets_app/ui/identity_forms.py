"""Forms of the machine identity pages and the helpers that fill them from stored settings.
Split from ``secrets_app.ui.identities`` (the views) to keep both modules small."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms

from secrets_app.errors import DomainError, PermissionDenied
from secrets_app.models import (
    BuiltinRole,
    JwtAuth,
    KubernetesAuth,
    Organization,
    Project,
    Role,
)
from secrets_app.ui.forms import UIForm


class IdentityCreateForm(UIForm):
    id_prefix = "identity"
    name = forms.CharField(
        label="Name", max_length=120, widget=forms.TextInput(attrs={"placeholder": "e.g. azure-pipeline-prod"})
    )


class IdentityMembershipForm(UIForm):
    id_prefix = "identity-project"
    project = forms.ChoiceField(label="Project")
    role = forms.ChoiceField(label="Role")


class UniversalAuthForm(UIForm):
    id_prefix = "universal"
    access_token_ttl = forms.IntegerField(label="Access token TTL (s)", min_value=1)
    access_token_max_ttl = forms.IntegerField(label="Access token max TTL (s)", min_value=1)
    access_token_num_uses_limit = forms.IntegerField(label="Token use limit", min_value=0, help_text="0 = unlimited")
    access_token_trusted_ips = forms.CharField(
        label="Token trusted IPs", required=False, help_text="Comma-separated CIDRs; empty = anywhere"
    )
    client_secret_trusted_ips = forms.CharField(
        label="Client secret trusted IPs", required=False, help_text="Comma-separated CIDRs; empty = anywhere"
    )
    lockout_enabled = forms.BooleanField(label="Lock out after failed logins", required=False)
    lockout_threshold = forms.IntegerField(label="Failures before lockout", min_value=1, max_value=30)
    lockout_duration_seconds = forms.IntegerField(label="Lockout (s)", min_value=30, max_value=86_400)
    lockout_counter_reset_seconds = forms.IntegerField(label="Failure window (s)", min_value=5, max_value=3_600)


class ClientSecretForm(UIForm):
    id_prefix = "client-secret"
    description = forms.CharField(label="Description", required=False, max_length=200)
    ttl_seconds = forms.IntegerField(label="TTL (s)", min_value=0, initial=0, help_text="0 = never expires")
    num_uses_limit = forms.IntegerField(label="Use limit", min_value=0, initial=0, help_text="0 = unlimited")
    trusted_ips = forms.CharField(label="Trusted IPs", required=False, help_text="Comma-separated CIDRs")


_MONO = {"class": "mono", "autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"}


class TokenSettingsForm(UIForm):
    """The token settings every login method shares."""

    access_token_ttl = forms.IntegerField(label="Access token TTL (s)", min_value=1, initial=3600)
    access_token_max_ttl = forms.IntegerField(label="Access token max TTL (s)", min_value=1, initial=86400)
    access_token_num_uses_limit = forms.IntegerField(
        label="Token use limit", min_value=0, initial=0, help_text="0 = unlimited"
    )
    access_token_trusted_ips = forms.CharField(
        label="Token trusted IPs", required=False, help_text="Comma-separated CIDRs; empty = anywhere"
    )


class BoundForm(TokenSettingsForm):
    bound_issuer = forms.CharField(label="Bound issuer", max_length=500, required=False, widget=forms.TextInput(_MONO))
    bound_audiences = forms.CharField(
        label="Bound audiences",
        max_length=1000,
        required=False,
        help_text="Comma-separated globs; empty = any",
        widget=forms.TextInput(_MONO),
    )
    bound_subject = forms.CharField(
        label="Bound subject", max_length=500, required=False, help_text="A glob", widget=forms.TextInput(_MONO)
    )
    bound_claims = forms.CharField(
        label="Bound claims (JSON)",
        required=False,
        help_text='e.g. {"repository": "acme/*"}: claim path to comma-separated globs',
        widget=forms.Textarea({**_MONO, "rows": 2}),
    )

    def clean_bound_claims(self) -> dict[str, Any]:
        text = (self.cleaned_data.get("bound_claims") or "").strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError:
            raise forms.ValidationError("Bound claims: not valid JSON") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("Bound claims: must be a JSON object of claim path to globs")
        return value


class JwtAuthForm(BoundForm):
    id_prefix = "jwt"
    config_type = forms.ChoiceField(
        label="Configuration type", choices=[("jwks", "JWKS URL"), ("static", "Static public keys")], initial="jwks"
    )
    jwks_url = forms.CharField(label="JWKS URL", max_length=500, required=False, widget=forms.TextInput(_MONO))
    jwks_ca_cert = forms.CharField(
        label="JWKS CA certificate (PEM)",
        required=False,
        strip=False,
        help_text="Optional; empty = system trust store",
        widget=forms.Textarea({**_MONO, "rows": 3}),
    )
    public_keys = forms.CharField(
        label="Public keys (PEM)",
        required=False,
        strip=False,
        help_text="With static keys: one or more PEM public keys",
        widget=forms.Textarea({**_MONO, "rows": 4}),
    )


class OidcAuthForm(BoundForm):
    id_prefix = "oidc"
    oidc_discovery_url = forms.CharField(label="Discovery URL", max_length=500, widget=forms.TextInput(_MONO))
    ca_cert = forms.CharField(
        label="CA certificate (PEM)",
        required=False,
        strip=False,
        help_text="Optional; empty = system trust store",
        widget=forms.Textarea({**_MONO, "rows": 3}),
    )


class KubernetesAuthForm(TokenSettingsForm):
    id_prefix = "kubernetes"
    kubernetes_host = forms.CharField(label="Kubernetes host", max_length=500, widget=forms.TextInput(_MONO))
    allowed_namespaces = forms.CharField(
        label="Allowed namespaces", max_length=1000, required=False, help_text="Comma-separated; empty = any"
    )
    allowed_names = forms.CharField(
        label="Allowed service accounts", max_length=1000, required=False, help_text="Comma-separated; empty = any"
    )
    allowed_audience = forms.CharField(label="Allowed audience", max_length=500, required=False)
    # Write-only: never rendered back (empty keeps what is stored).
    ca_cert = forms.CharField(
        label="CA certificate (PEM)",
        required=False,
        strip=False,
        help_text="Write-only; empty keeps the stored one",
        widget=forms.Textarea({**_MONO, "rows": 3}),
    )
    clear_ca_cert = forms.BooleanField(label="Clear the stored CA", required=False)
    token_reviewer_jwt = forms.CharField(
        label="Token reviewer JWT",
        required=False,
        help_text="Write-only; empty keeps the stored one",
        widget=forms.PasswordInput({**_MONO, "autocomplete": "new-password"}, render_value=False),
    )
    clear_token_reviewer_jwt = forms.BooleanField(label="Clear the stored reviewer JWT", required=False)


_METHOD_ALIASES = {
    "accessTokenTTL": "access_token_ttl",
    "accessTokenMaxTTL": "access_token_max_ttl",
    "accessTokenNumUsesLimit": "access_token_num_uses_limit",
    "accessTokenTrustedIps": "access_token_trusted_ips",
    "configurationType": "config_type",
    "jwksUrl": "jwks_url",
    "jwksCaCert": "jwks_ca_cert",
    "publicKeys": "public_keys",
    "boundIssuer": "bound_issuer",
    "boundAudiences": "bound_audiences",
    "boundSubject": "bound_subject",
    "boundClaims": "bound_claims",
    "oidcDiscoveryUrl": "oidc_discovery_url",
    "caCert": "ca_cert",
    "kubernetesHost": "kubernetes_host",
    "tokenReviewerJwt": "token_reviewer_jwt",
}


def _method_error(form: forms.Form, exc: DomainError) -> None:
    """Place a service error next to its field ("publicKeys[1]" → the public keys, "key 2")."""
    if isinstance(exc, PermissionDenied):
        raise exc
    placed = False
    for name, messages in exc.fields.items():
        match = re.fullmatch(r"(\w+)\[(\d+)\]", name)
        base = match.group(1) if match else name
        field = _METHOD_ALIASES.get(base, base)
        if field in form.fields:
            prefix = f"{form.fields[field].label} #{int(match.group(2)) + 1}: " if match else ""
            for message in messages:
                form.add_error(field, prefix + message)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----", re.S)


def _pems(text: str) -> list[str]:
    text = (text or "").strip()
    if not text:
        return []
    blocks = _PEM_BLOCK.findall(text)
    return blocks or [text]  # not PEM at all: let the service say so


def _token_initial(config: Any) -> dict[str, Any]:
    return {
        "access_token_ttl": config.access_token_ttl,
        "access_token_max_ttl": config.access_token_max_ttl,
        "access_token_num_uses_limit": config.access_token_num_uses_limit,
        "access_token_trusted_ips": ", ".join(config.access_token_trusted_ips or []),
    }


def _bound_initial(config: JwtAuth) -> dict[str, Any]:
    return {
        **_token_initial(config),
        "bound_issuer": config.bound_issuer,
        "bound_audiences": config.bound_audiences,
        "bound_subject": config.bound_subject,
        "bound_claims": json.dumps(config.bound_claims) if config.bound_claims else "",
    }


def _jwt_form(config: JwtAuth | None) -> JwtAuthForm:
    if config is None:
        return JwtAuthForm()
    return JwtAuthForm(
        initial={
            **_bound_initial(config),
            "config_type": config.config_type,
            "jwks_url": config.jwks_url,
            "jwks_ca_cert": config.jwks_ca_cert,
            "public_keys": "\n".join(pem.strip() for pem in config.public_keys or []),
        }
    )


def _oidc_form(config: JwtAuth | None) -> OidcAuthForm:
    if config is None:
        return OidcAuthForm()
    initial = {
        **_bound_initial(config),
        "oidc_discovery_url": config.oidc_discovery_url,
        "ca_cert": config.jwks_ca_cert,
    }
    return OidcAuthForm(initial=initial)


def _kubernetes_form(config: KubernetesAuth | None) -> KubernetesAuthForm:
    if config is None:
        return KubernetesAuthForm()
    initial = {
        **_token_initial(config),
        "kubernetes_host": config.kubernetes_host,
        "allowed_namespaces": config.allowed_namespaces,
        "allowed_names": config.allowed_names,
        "allowed_audience": config.allowed_audience,
    }
    return KubernetesAuthForm(initial=initial)


_UNIVERSAL_ALIASES = {
    "accessTokenTTL": "access_token_ttl",
    "accessTokenMaxTTL": "access_token_max_ttl",
    "trustedIps": "trusted_ips",
    "ttl": "ttl_seconds",
    "numUsesLimit": "num_uses_limit",
}


def _universal_form(config: Any) -> UniversalAuthForm:
    initial = {
        field: getattr(config, field)
        for field in (
            "access_token_ttl",
            "access_token_max_ttl",
            "access_token_num_uses_limit",
            "lockout_enabled",
            "lockout_threshold",
            "lockout_duration_seconds",
            "lockout_counter_reset_seconds",
        )
    }
    initial["access_token_trusted_ips"] = ", ".join(config.access_token_trusted_ips or [])
    initial["client_secret_trusted_ips"] = ", ".join(config.client_secret_trusted_ips or [])
    return UniversalAuthForm(initial=initial)


def _membership_form(organization: Organization, data: Any = None) -> IdentityMembershipForm:
    form = IdentityMembershipForm(data)
    projects = Project.objects.filter(organization=organization).order_by("name")
    form.fields["project"].choices = [(p.slug, p.name) for p in projects]
    customs = sorted(set(Role.objects.filter(project__organization=organization).values_list("slug", flat=True)))
    form.fields["role"].choices = [(r, r) for r in BuiltinRole.values if r != "no-access"] + [(r, r) for r in customs]
    form.fields["role"].initial = BuiltinRole.VIEWER
    return form


# --- list -----------------------------------------------------------------------------------------------
