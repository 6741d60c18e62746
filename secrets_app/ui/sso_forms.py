"""Forms of the SSO pages: sign-in by e-mail, and the organization's SSO configuration."""

from __future__ import annotations

from typing import Any

from django import forms

from secrets_app.ui.forms import UIForm

_MONO = {"class": "mono", "autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"}


def _lines(value: str) -> list[str]:
    return [item.strip() for item in value.replace(",", "\n").splitlines() if item.strip()]


class SsoStartForm(UIForm):
    id_prefix = "sso"
    email = forms.EmailField(label="Work e-mail", widget=forms.EmailInput(attrs={"autocomplete": "email"}))


class SsoConfigForm(UIForm):
    id_prefix = "sso-config"
    issuer_url = forms.URLField(
        assume_scheme="https",
        label="Issuer or discovery URL",
        max_length=500,
        help_text="Entra ID: https://login.microsoftonline.com/<tenant id>/v2.0",
        widget=forms.URLInput(attrs=_MONO),
    )
    client_id = forms.CharField(label="Client (application) id", max_length=255, widget=forms.TextInput(attrs=_MONO))
    client_secret = forms.CharField(
        label="Client secret",
        required=False,
        help_text="Write-only. Leave empty to keep the stored secret.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    allowed_domains = forms.CharField(
        label="Allowed e-mail domains",
        required=False,
        help_text="One per line.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    allowed_group_ids = forms.CharField(
        label="Allowed group ids",
        required=False,
        help_text="Optional. Members of these directory groups may sign in whatever their domain.",
        widget=forms.Textarea(attrs={"rows": 2, **_MONO}),
    )
    claim_email = forms.CharField(label="E-mail claim", initial="email", max_length=64)
    claim_name = forms.CharField(label="Name claim", initial="name", max_length=64)
    claim_groups = forms.CharField(label="Groups claim", initial="groups", max_length=64)
    require_sso = forms.BooleanField(
        label="Require SSO (local passwords refused except for break-glass admins)", required=False
    )
    break_glass_emails = forms.CharField(
        label="Break-glass admins",
        required=False,
        help_text="E-mails of local admins who may still use a password; every use is audited and mailed.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "issuer_url": data["issuer_url"],
            "client_id": data["client_id"],
            "client_secret": data["client_secret"] or None,
            "allowed_domains": _lines(data["allowed_domains"]),
            "allowed_group_ids": _lines(data["allowed_group_ids"]),
            "claim_email": data["claim_email"],
            "claim_name": data["claim_name"],
            "claim_groups": data["claim_groups"],
            "require_sso": data["require_sso"],
            "break_glass_emails": _lines(data["break_glass_emails"]),
        }
