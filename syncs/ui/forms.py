"""Forms of the sync pages: they parse and shape input; services decide."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django import forms
from django.http import QueryDict

from secrets_app.plugins import PluginError, PluginField, PluginKind, plugin_form_class
from secrets_app.ui.forms import UIForm
from syncs.models import InitialBehavior
from syncs.providers.base import ConnectionMethod, SyncProvider

_MONO = {"class": "mono", "autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"}


class ConnectionBaseForm(UIForm):
    """What every connection has: a name, its destination kind and how it authenticates. The
    method's declared fields follow (``connection_form_class``); no provider writes a form."""

    name = forms.CharField(
        label="Name", max_length=120, widget=forms.TextInput(attrs={"placeholder": "e.g. acme-prod"})
    )
    kind = forms.CharField(widget=forms.HiddenInput)
    method = forms.ChoiceField(label="Authentication")

    # Set by connection_form_class (plugin_form_class sets plugin_kind).
    provider: ClassVar[SyncProvider]
    plugin_kind: ClassVar[ConnectionMethod]

    def __init__(self, data: Mapping[str, Any] | None = None, *args: Any, **kwargs: Any) -> None:
        if data is not None:
            data = _with_defaults(data, self.provider, self.plugin_kind)
        super().__init__(data, *args, **kwargs)
        method = self.fields["method"]
        method.choices = [(declared.kind, declared.label) for declared in self.provider.methods]  # type: ignore[attr-defined]
        if len(self.provider.methods) == 1:
            method.widget = forms.HiddenInput()
        self.initial.setdefault("kind", self.provider.kind)
        self.initial.setdefault("method", self.plugin_kind.kind)

    @classmethod
    def declared_names(cls) -> list[str]:
        """The form fields that come from the method's declaration (rendered after the base)."""
        return [declared.name for declared in cls.plugin_kind.fields]

    def method_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.declared_names()]

    @classmethod
    def error_aliases(cls) -> dict[str, str]:
        """Service error names (``config.tenant_id``, ``credentials.token``) → this form's fields."""
        return {f"{declared.group}.{declared.name}": declared.name for declared in cls.plugin_kind.fields}


def _with_defaults(data: Mapping[str, Any], provider: SyncProvider, method: ConnectionMethod) -> Mapping[str, Any]:
    """The posted data with what an older form left out: ``method`` when the provider has only
    one, and the former Azure DevOps form's single ``secret`` input as the method's only secret
    field (``token``, ``access_token`` or ``client_secret``)."""
    filled: Any = data.copy() if isinstance(data, QueryDict) else dict(data)
    if not filled.get("method") and len(provider.methods) == 1:
        filled["method"] = method.kind
    secret_fields = method.secret_fields
    if len(secret_fields) == 1 and secret_fields[0].name not in filled and "secret" in filled:
        filled[secret_fields[0].name] = filled["secret"]
    return filled


RESERVED_NAMES = frozenset(ConnectionBaseForm.base_fields)


def connection_form_class(
    provider: SyncProvider, method: ConnectionMethod, *, editing: bool = False
) -> type[ConnectionBaseForm]:
    """The form for a *provider*'s connection by *method*, built from the method's declared fields
    (``plugin_form_class``): secret fields are password inputs never pre-filled ("leave empty to
    keep" when *editing*), settings are plain inputs."""
    clash = RESERVED_NAMES & set(field.name for field in method.fields)
    if clash:
        raise PluginError(
            f"{provider.kind}.{method.kind} declares a field named {sorted(clash)[0]!r}, used by every connection"
        )
    form_class: type[ConnectionBaseForm] = plugin_form_class(method, editing=editing, base=ConnectionBaseForm)
    form_class.provider = provider
    form_class.id_prefix = f"connection-{provider.kind}"
    for declared in method.fields:
        field = form_class.base_fields[declared.name]
        if declared.secret and not editing:
            field.help_text = _sentences(declared.help, "Stored encrypted; never shown again.")
        elif not declared.required and not declared.secret:
            field.help_text = _sentences("Optional.", declared.help)
    return form_class


def _sentences(*parts: str) -> str:
    return " ".join(part if part.endswith((".", "?", "!")) else part + "." for part in parts if part)


def connection_form(
    provider: SyncProvider, method: str | None = None, data: Mapping[str, Any] | None = None
) -> ConnectionBaseForm:
    """A connection form for *provider*, by *method* (its first method when *method* is not one of
    its own: the form's ``method`` choice then refuses a posted unknown value)."""
    declared = next((item for item in provider.methods if item.kind == method), provider.methods[0])
    return connection_form_class(provider, declared)(data)


class SyncFormBase(UIForm):
    """What every sync has: source, connection and options. The destination's declared fields
    follow (``sync_form_class``); no provider writes a form."""

    kind = forms.CharField(required=False, widget=forms.HiddenInput)
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

    provider: ClassVar[SyncProvider]  # set by sync_form_class

    def __init__(self, *args: Any, environments: list[str], connections: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial.setdefault("kind", self.provider.kind)
        self.fields["environment"].choices = [(slug, slug) for slug in environments]  # type: ignore[attr-defined]
        self.fields["connection"].choices = connections  # type: ignore[attr-defined]
        for name, label in self.provider.form_labels.items():
            self.fields[name].label = label

    def destination_fields(self) -> list[forms.BoundField]:
        """The declared destination and option fields, in declaration order."""
        return [self[declared.name] for declared in (*self.provider.destination_fields, *self.provider.option_fields)]

    def _declared_values(self, declared: tuple[PluginField, ...]) -> dict[str, Any]:
        config, _ = self.plugin_values()  # type: ignore[attr-defined]
        return {item.name: config[item.name] for item in declared if config.get(item.name) not in (None, "")}

    def destination(self) -> dict[str, Any]:
        return self._declared_values(self.provider.destination_fields)

    def provider_options(self) -> dict[str, Any]:
        return self._declared_values(self.provider.option_fields)

    @classmethod
    def error_aliases(cls) -> dict[str, str]:
        """Service error fields → form fields."""
        aliases = {
            "confirmOverwrite": "confirm_overwrite",
            "keyNameTemplate": "key_name_template",
            "initialBehavior": "initial_behavior",
        }
        aliases.update({f"destination.{item.name}": item.name for item in cls.provider.destination_fields})
        aliases.update({f"options.{item.name}": item.name for item in cls.provider.option_fields})
        return aliases


def sync_form_class(provider: SyncProvider) -> type[SyncFormBase]:
    """The "new sync" form of *provider*: the shared fields plus its declared destination and
    option fields (``plugin_form_class``)."""
    declaration = type(
        f"{type(provider).__name__}Destination",
        (PluginKind,),
        {
            "kind": provider.kind,
            "label": provider.label,
            "fields": (*provider.destination_fields, *provider.option_fields),
        },
    )()
    form_class: type[SyncFormBase] = plugin_form_class(declaration, base=SyncFormBase)
    form_class.provider = provider
    form_class.id_prefix = f"sync-{provider.kind}"
    return form_class


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
