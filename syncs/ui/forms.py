"""Forms of the sync pages: they parse and shape input; services decide."""

from __future__ import annotations

from typing import Any

from django import forms

from secrets_app.ui.forms import UIForm
from syncs.models import InitialBehavior

_MONO = {"class": "mono", "autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"}


class ConnectionForm(UIForm):
    """An Azure DevOps connection. Secret fields are password inputs and never re-rendered with
    their value (``render_value=False``)."""

    id_prefix = "connection"
    name = forms.CharField(label="Name", max_length=120, widget=forms.TextInput(attrs={"placeholder": "e.g. ado-acme"}))
    kind = forms.ChoiceField(label="Destination", choices=[("azure_devops", "Azure DevOps")])
    method = forms.ChoiceField(
        label="Authentication",
        choices=[
            ("pat", "Personal access token"),
            ("oauth", "OAuth / Entra ID access token"),
            ("client_secret", "Entra ID service principal (client secret)"),
        ],
    )
    organization_url = forms.CharField(
        label="Organization URL", widget=forms.URLInput(attrs={**_MONO, "placeholder": "https://dev.azure.com/acme"})
    )
    secret = forms.CharField(
        label="Token or client secret",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
        help_text="Stored encrypted; never shown again. PAT scopes: Variable Groups (Read, create & manage), Project and Team (Read).",
    )
    tenant_id = forms.CharField(
        label="Tenant ID (service principal)", required=False, widget=forms.TextInput(attrs=_MONO)
    )
    client_id = forms.CharField(
        label="Client ID (service principal)", required=False, widget=forms.TextInput(attrs=_MONO)
    )

    def credentials_and_config(self) -> tuple[dict[str, str], dict[str, str]]:
        data = self.cleaned_data
        method = data["method"]
        field = {"pat": "token", "oauth": "access_token", "client_secret": "client_secret"}[method]
        config = {"organization_url": data["organization_url"]}
        if method == "client_secret":
            config.update({"tenant_id": data["tenant_id"], "client_id": data["client_id"]})
        return {field: data["secret"]}, config


class KeyVaultConnectionForm(UIForm):
    """An Azure Key Vault connection: an Entra ID service principal with a client secret. The
    secret is a password input, never re-rendered with its value."""

    id_prefix = "kv-connection"
    name = forms.CharField(label="Name", max_length=120, widget=forms.TextInput(attrs={"placeholder": "e.g. kv-acme"}))
    kind = forms.CharField(initial="azure_key_vault", widget=forms.HiddenInput)
    tenant_id = forms.CharField(label="Tenant ID", widget=forms.TextInput(attrs=_MONO))
    client_id = forms.CharField(label="Client (application) ID", widget=forms.TextInput(attrs=_MONO))
    client_secret = forms.CharField(
        label="Client secret",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
        help_text="Stored encrypted; never shown again.",
    )
    authority_host = forms.CharField(
        label="Authority host", required=False, widget=forms.TextInput(attrs=_MONO),
        help_text="Optional. Default: login.microsoftonline.com",
    )  # fmt: skip
    vault_url = forms.CharField(
        label="Vault URL (for Test connection)", required=False,
        widget=forms.URLInput(attrs={**_MONO, "placeholder": "https://NAME.vault.azure.net"}),
        help_text="Optional. The service principal needs the Key Vault Secrets Officer role.",
    )  # fmt: skip

    def credentials_and_config(self) -> tuple[dict[str, str], dict[str, str]]:
        data = self.cleaned_data
        config = {"tenant_id": data["tenant_id"].strip(), "client_id": data["client_id"].strip()}
        for optional in ("authority_host", "vault_url"):
            if data[optional].strip():
                config[optional] = data[optional].strip()
        return {"client_secret": data["client_secret"]}, config


class _SyncFormBase(UIForm):
    """What every sync has: source, connection and options. Subclasses add the destination."""

    kind = forms.CharField(widget=forms.HiddenInput)
    name = forms.CharField(
        label="Name", max_length=120, widget=forms.TextInput(attrs={"placeholder": "e.g. pipeline-dev"})
    )
    environment = forms.ChoiceField(label="Environment")
    path = forms.CharField(label="Folder", initial="/", widget=forms.TextInput(attrs=_MONO))
    recursive = forms.BooleanField(label="Include subfolders", required=False)
    connection = forms.ChoiceField(label="Connection")
    key_name_template = forms.CharField(
        label="Key name template", initial="{{secretKey}}", widget=forms.TextInput(attrs=_MONO),
        help_text="{{secretKey}} is the Strongroom key, {{environment}} the environment, e.g. APP_{{secretKey}}.",
    )  # fmt: skip
    initial_behavior = forms.ChoiceField(
        label="When the destination already has a key of the same name",
        choices=InitialBehavior.choices,
        initial=InitialBehavior.IMPORT_DESTINATION,
    )
    confirm_overwrite = forms.BooleanField(
        label="I understand: existing variables with the same names are overwritten", required=False
    )
    auto_sync = forms.BooleanField(label="Sync automatically when a secret changes", required=False, initial=True)
    delete_on_source_removal = forms.BooleanField(
        label="Delete a managed variable when its secret is deleted", required=False, initial=True
    )

    def __init__(self, *args: Any, environments: list[str], connections: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["environment"].choices = [(slug, slug) for slug in environments]  # type: ignore[attr-defined]
        self.fields["connection"].choices = connections  # type: ignore[attr-defined]

    def destination(self) -> dict[str, Any]:
        raise NotImplementedError

    def provider_options(self) -> dict[str, Any]:
        return {}


class SyncCreateForm(_SyncFormBase):
    """A sync to an Azure DevOps variable group."""

    id_prefix = "sync"
    destination_kind = "azure_devops"
    kind = forms.CharField(initial="azure_devops", required=False, widget=forms.HiddenInput)
    project = forms.CharField(label="Azure DevOps project", widget=forms.TextInput(attrs=_MONO))
    group_name = forms.CharField(
        label="Variable group", widget=forms.TextInput(attrs={**_MONO, "placeholder": "e.g. app-dev-secrets"}),
        help_text="Created if absent. Variables already in it that this sync does not manage are never touched.",
    )  # fmt: skip

    def destination(self) -> dict[str, Any]:
        return {"project": self.cleaned_data["project"], "group_name": self.cleaned_data["group_name"]}


class KeyVaultSyncCreateForm(_SyncFormBase):
    """A sync to an Azure Key Vault."""

    id_prefix = "sync-kv"
    destination_kind = "azure_key_vault"
    kind = forms.CharField(initial="azure_key_vault", widget=forms.HiddenInput)
    vault_url = forms.CharField(
        label="Vault URL", widget=forms.URLInput(attrs={**_MONO, "placeholder": "https://NAME.vault.azure.net"}),
        help_text="Secrets already in it that this sync does not manage are never touched.",
    )  # fmt: skip
    removal = forms.ChoiceField(
        label="When a managed secret is removed",
        choices=[
            ("disable", "Disable it in the vault (value kept)"),
            ("delete", "Delete it (soft delete, recoverable)"),
        ],
        initial="disable",
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["delete_on_source_removal"].label = "Remove a managed secret when its Strongroom secret is deleted"
        self.fields["confirm_overwrite"].label = "I understand: existing secrets with the same names are overwritten"

    def destination(self) -> dict[str, Any]:
        return {"vault_url": self.cleaned_data["vault_url"].strip()}

    def provider_options(self) -> dict[str, Any]:
        return {"removal": self.cleaned_data["removal"]}


class SyncDeleteForm(UIForm):
    id_prefix = "sync-delete"
    remove_managed = forms.ChoiceField(
        label="At the destination",
        choices=[
            ("leave", "Leave the variables this sync manages where they are"),
            ("delete", "Delete the variables this sync manages (never any others)"),
        ],
        initial="leave",
        widget=forms.RadioSelect,
    )
