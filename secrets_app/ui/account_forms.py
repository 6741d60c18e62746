"""Forms of recovery codes and e-mail invitations (parse and shape input only; rules live in
``secrets_app/services/recovery_codes.py`` and ``secrets_app/services/invitations.py``)."""

from __future__ import annotations

from typing import Any

from django import forms

from secrets_app.models import OrgRole
from secrets_app.ui.forms import UIForm


class RecoveryCodeLoginForm(UIForm):
    id_prefix = "recovery"
    recovery_code = forms.CharField(
        label="Recovery code",
        max_length=32,
        help_text="One of the codes you saved when you turned on two-factor authentication (xxxxx-xxxxx).",
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "off", "class": "mono"}
        ),
    )


class RecoveryCodesRegenerateForm(UIForm):
    id_prefix = "recovery-regenerate"
    password_or_code = forms.CharField(
        label="Your password, or a code from your authenticator app",
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class InvitationCreateForm(UIForm):
    id_prefix = "invite"
    email = forms.CharField(
        label="Email", max_length=254, widget=forms.EmailInput(attrs={"placeholder": "name@company.com"})
    )
    role = forms.ChoiceField(label="Organization role", choices=OrgRole.choices, initial=OrgRole.MEMBER)


class InvitationAcceptForm(UIForm):
    id_prefix = "accept"
    password = forms.CharField(
        label="Password",
        strip=False,
        help_text="At least 12 characters, not a common password.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "autofocus": True}),
    )
    confirm_password = forms.CharField(
        label="Confirm password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self) -> dict[str, Any]:
        """The two password fields must match; otherwise nothing is created."""
        data = super().clean() or {}
        password, confirm = data.get("password"), data.get("confirm_password")
        if password is not None and confirm is not None and password != confirm:
            self.add_error("confirm_password", "Does not match the password: type the same password twice.")
        return data
