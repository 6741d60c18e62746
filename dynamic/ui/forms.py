"""Forms of the dynamic secret pages: they parse and shape input only; the services decide.

A definition form is built per provider from the provider's declared fields
(``secrets_app.plugins.plugin_form_class``): root credentials are password inputs, never pre-filled
and, when editing, optional ("leave empty to keep"). Everything else is pre-filled for the provider
— its port, its default statements, the default username template — so a new definition against a
standard server needs only the host, database and root account.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from django import forms

from dynamic.models import DynamicSecret
from dynamic.providers.base import DynamicProvider
from dynamic.providers.templates import DEFAULT_USERNAME_TEMPLATE, password_requirements_from
from dynamic.services.definitions import Definition
from secrets_app.plugins import plugin_form_class, plugin_initial
from secrets_app.ui.forms import UIForm

_MONO = {"class": "mono", "autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"}
STATEMENT_KINDS = ("creation", "renewal", "revocation")


def ttl_text(seconds: int | None) -> str:
    """``3600`` → ``1h``, ``86400`` → ``24h``, ``604800`` → ``7d``: the largest unit that divides it
    (days only from two days on). What the forms show and accept, and the pages print."""
    if not seconds:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and (unit != "d" or seconds >= 2 * 86400):
            return f"{seconds // size}{unit}"
    return str(seconds)


def statements_text(statements: Sequence[str]) -> str:
    """One statement per line (the service splits the text on ``;`` outside quotes and bodies)."""
    return "\n".join(statement.strip() for statement in statements)


class DynamicSecretBaseForm(UIForm):
    """What every definition has, whatever its provider. The provider's fields are added by
    :func:`definition_form_class`; the statement fields follow them on the page."""

    id_prefix = "dyn"
    name = forms.CharField(
        label="Name",
        max_length=64,
        help_text="Lower-case letters, digits, '-' or '_'. Clients lease by this name.",
        widget=forms.TextInput(attrs={**_MONO, "placeholder": "e.g. app-db"}),
    )
    environment = forms.ChoiceField(label="Environment")
    path = forms.CharField(widget=forms.HiddenInput, initial="/")
    provider = forms.CharField(widget=forms.HiddenInput)
    default_ttl = forms.CharField(
        label="Default TTL",
        max_length=20,
        initial="1h",
        help_text="How long a lease lives unless asked otherwise: 90, 30m, 1h, 7d (1 minute to 10 years).",
        widget=forms.TextInput(attrs=_MONO),
    )
    max_ttl = forms.CharField(
        label="Max TTL",
        max_length=20,
        required=False,
        initial="24h",
        help_text="Longest lease and renewal limit from its creation; empty: no cap.",
        widget=forms.TextInput(attrs=_MONO),
    )
    username_template = forms.CharField(
        label="Username template",
        max_length=255,
        required=False,
        widget=forms.TextInput(attrs=_MONO),
    )
    password_length = forms.IntegerField(
        label="Password length",
        min_value=12,
        max_value=250,
        initial=48,
        help_text="Drawn with a CSPRNG, returned once, never stored.",
    )
    creation = forms.CharField(
        label="Creation statements",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={**_MONO, "rows": 4}),
    )
    renewal = forms.CharField(
        label="Renewal statements",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={**_MONO, "rows": 2}),
    )
    revocation = forms.CharField(
        label="Revocation statements",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={**_MONO, "rows": 6}),
    )

    # Set by definition_form_class (plugin_form_class sets plugin_kind).
    plugin_kind: ClassVar[DynamicProvider]
    editing: ClassVar[bool] = False

    def __init__(self, *args: Any, environments: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        provider = self.plugin_kind
        environment = self.fields["environment"]
        assert isinstance(environment, forms.ChoiceField)
        environment.choices = [(env, env) for env in environments]
        self.initial.setdefault("provider", provider.kind)
        self.initial.setdefault("username_template", DEFAULT_USERNAME_TEMPLATE)
        self.fields["username_template"].help_text = (
            "{{random N}}, {{randomUsername}}, {{unixTimestamp}}, {{identity.name}}, {{dynamicSecret.name}}; "
            f"the result must fit {provider.label} ({provider.username_max_length} characters)."
        )
        for kind in STATEMENT_KINDS:
            allowed = provider.statement_variables.get(kind)
            if allowed is None:
                del self.fields[kind]
                continue
            self.initial.setdefault(kind, statements_text(provider.default_statements.get(kind, ())))
            names = ", ".join("{{" + name + "}}" for name in sorted(allowed))
            self.fields[kind].help_text = f"One per line or separated by ';'. May use {names}." + (
                " Empty: the provider's default." if kind != "creation" else ""
            )
        if provider.default_port and "port" in self.fields:
            self.initial.setdefault("port", provider.default_port)
        if self.editing:
            # Where a definition lives and what it is are fixed once saved (its leases name them).
            del self.fields["environment"]

    @classmethod
    def provider_field_names(cls) -> list[str]:
        return [declared.name for declared in cls.plugin_kind.fields]

    def provider_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.provider_field_names()]

    def statement_fields(self) -> list[forms.BoundField]:
        return [self[kind] for kind in STATEMENT_KINDS if kind in self.fields]

    @classmethod
    def error_aliases(cls) -> dict[str, str]:
        """The services' field names (API spelling) → this form's fields."""
        aliases = {f"{declared.group}.{declared.name}": declared.name for declared in cls.plugin_kind.fields}
        aliases.update(
            {
                "defaultTTL": "default_ttl",
                "maxTTL": "max_ttl",
                "usernameTemplate": "username_template",
                "passwordRequirements.length": "password_length",
                "passwordRequirements": "password_length",
                **{f"statements.{kind}": kind for kind in STATEMENT_KINDS},
                "statements": "creation",
            }
        )
        return aliases

    def _password_requirements(self, stored: Mapping[str, Any] | None) -> dict[str, Any]:
        requirements = password_requirements_from(stored).as_dict() if stored else {}
        requirements["length"] = self.cleaned_data["password_length"]
        return requirements

    def definition(self, *, stored: DynamicSecret | None = None) -> Definition:
        """The Definition to hand the services. When editing (*stored*), only what changed is sent:
        the connection only when a setting or a credential changed — so a TTL edit needs no live
        test — and a credential left empty is left out (the stored one is kept)."""
        config, credentials = self.plugin_values()  # type: ignore[attr-defined]
        config = {key: value for key, value in config.items() if value not in (None, "")}
        statements = {kind: self.cleaned_data.get(kind) or "" for kind in STATEMENT_KINDS if kind in self.fields}
        if stored is None:
            return Definition(
                config=config,
                credentials=credentials,
                default_ttl=self.cleaned_data["default_ttl"],
                max_ttl=self.cleaned_data["max_ttl"] or None,
                username_template=self.cleaned_data["username_template"],
                password_requirements=self._password_requirements(None),
                statements=statements,
            )
        config_changed = any(declared.name in self.changed_data for declared in self.plugin_kind.config_fields)
        stored_statements = stored.statements or {}
        changed_statements = {
            kind: text
            for kind, text in statements.items()
            if _same_lines(text) != _same_lines(statements_text(stored_statements.get(kind) or []))
        }
        length_changed = (
            password_requirements_from(stored.password_requirements).length != self.cleaned_data["password_length"]
        )
        template = self.cleaned_data["username_template"]
        return Definition(
            config=config if config_changed else None,
            credentials=credentials or None,
            default_ttl=self.cleaned_data["default_ttl"],
            max_ttl=self.cleaned_data["max_ttl"] or 0,
            username_template=None if template == stored.username_template else template,
            password_requirements=self._password_requirements(stored.password_requirements) if length_changed else None,
            statements=changed_statements or None,
        )


def _same_lines(text: str) -> str:
    """Statements as compared for "changed": browsers post CRLF, and blank edges do not count."""
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").strip().split("\n"))


def definition_form_class(provider: DynamicProvider, *, editing: bool = False) -> type[DynamicSecretBaseForm]:
    """The form of *provider*'s definitions: the base fields plus the provider's declared ones."""
    form_class = plugin_form_class(provider, editing=editing, base=DynamicSecretBaseForm)
    form_class.editing = editing  # type: ignore[attr-defined]
    return form_class


def definition_initial(secret: DynamicSecret, provider: DynamicProvider) -> dict[str, Any]:
    """An edit form's values from a stored definition (never a credential: those are not in config)."""
    requirements = password_requirements_from(secret.password_requirements)
    initial: dict[str, Any] = {
        # A choice the definition never set shows (and posts back) its first option: not a change.
        **{declared.name: declared.choices[0][0] for declared in provider.config_fields if declared.choices},
        **plugin_initial(provider, secret.config),
        "name": secret.name,
        "path": secret.folder.path,
        "provider": secret.provider,
        "default_ttl": ttl_text(secret.default_ttl),
        "max_ttl": ttl_text(secret.max_ttl),
        "username_template": secret.username_template,
        "password_length": requirements.length,
    }
    for kind in STATEMENT_KINDS:
        stored = (secret.statements or {}).get(kind)
        if stored is not None:
            initial[kind] = statements_text(stored)
    return initial


class LeaseCreateForm(UIForm):
    id_prefix = "lease"
    ttl = forms.CharField(
        label="TTL",
        max_length=20,
        required=False,
        help_text="Empty: the default TTL.",
        widget=forms.TextInput(attrs={**_MONO, "placeholder": "e.g. 15m"}),
    )


class DynamicSecretDeleteForm(UIForm):
    id_prefix = "dyn-delete"
    force = forms.BooleanField(
        label="Force: delete now and leave live leases in place",
        required=False,
        help_text="Their database users keep working until each lease expires (they are revoked then). "
        "Use only when the target cannot be reached.",
    )
