"""The provider plugin pattern: one folder declares a *kind*, its fields and their validation; the
model, API, forms and UI derive from that declaration.

Every provider family follows it: sync destinations (``syncs/providers/registry.py``),
notification channels (``notifications/channels/registry.py``), audit stream kinds
(``audit/streams/registry.py``), dynamic-secret providers (``dynamic/providers/registry.py``) and
rotation kinds (``rotation/kinds/registry.py``). A new kind is one folder and one line in its
family's registry (or ``REGISTRY.register(KindClass)``); ``tests/plugins/kinds/`` holds the
smallest example of each::

    class SlackBotChannel(PluginKind):
        kind = "slack_bot"
        label = "Slack (bot)"
        description = "Posts with a Slack app's bot token; replaces the message when settled."
        fields = (
            PluginField("bot_token", "Bot token", secret=True, input="password", placeholder="xoxb-…"),
            PluginField("channel", "Channel ID", placeholder="C0123456789"),
        )

    CHANNELS = PluginRegistry({"slack_bot": "notifications.channels.slack_bot.kind:SlackBotChannel"})

Contract of a field:

- ``secret`` fields are sealed at rest by the owning app, **write-only** after save: never
  returned by an API, never pre-filled in a form (an edit form says "leave empty to keep");
- the others are plain settings, stored and shown (``config``);
- ``PluginKind.validate(values)`` returns the cleaned values or raises :class:`PluginFieldError`
  naming the field (``"config.channel: this field is required"``), never echoing a secret.

No Django model here and no I/O: the owning app stores ``config`` (non-secret values) and the
sealed secret values however it likes. What every family derives from a registry:
``PluginRegistry.require`` (a 400 naming ``kind`` for an unknown one), ``registered_kind_field``
(the API's kind choices), ``kinds_described`` (the schema's description, built when the schema is),
``plugin_form_class`` / ``plugin_initial`` (forms), ``clean_declared`` (validation of any group of
declared fields, e.g. a sync's ``destination``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, ClassVar, Generic, TypeVar

INPUT_KINDS = ("text", "url", "email", "password", "choice", "radio", "bool", "int", "textarea")


class PluginError(Exception):
    """A kind cannot be used as asked (unknown kind, bad configuration). ``str()`` is safe to show."""


class PluginFieldError(PluginError):
    """A value of one field is wrong. ``field`` is ``credentials.<name>`` for a secret field and
    ``config.<name>`` for a setting; the message never contains the submitted value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class PluginField:
    """One field a kind declares."""

    name: str
    label: str
    secret: bool = False  # sealed at rest and write-only after save
    required: bool = True
    input: str = "text"  # one of INPUT_KINDS; secret fields render as password inputs anyway
    choices: tuple[tuple[str, str], ...] = ()
    help: str = ""
    placeholder: str = ""
    max_length: int = 2000
    default: Any = None  # what a new form shows (not applied to API input: required stays required)

    @property
    def group(self) -> str:
        """Where the value lives: ``credentials`` (secret) or ``config``."""
        return "credentials" if self.secret else "config"

    def clean(self, raw: Any, *, prefix: str | None = None) -> Any:
        """The cleaned value of this field, or ``PluginFieldError`` naming ``<prefix>.<name>``
        (*prefix* defaults to the group) and never echoing *raw*. Returns None for an empty
        optional field."""
        where = f"{prefix or self.group}.{self.name}"
        if self.input == "bool":
            if isinstance(raw, bool):
                return raw
            if raw in (None, ""):
                return False
            if isinstance(raw, str) and raw.lower() in ("true", "on", "1", "yes"):
                return True
            if isinstance(raw, str) and raw.lower() in ("false", "off", "0", "no"):
                return False
            raise PluginFieldError(where, "must be true or false")
        if raw is None or (isinstance(raw, str) and not raw.strip()) or raw == []:
            if self.required:
                raise PluginFieldError(where, "this field is required")
            return None
        if self.input == "int":
            try:
                return int(raw)
            except (TypeError, ValueError):
                raise PluginFieldError(where, "must be a whole number") from None
        if isinstance(raw, list | tuple):
            if self.input not in ("email", "text", "textarea"):
                raise PluginFieldError(where, "must be text")
            return [self._clean_text(where, str(item)) for item in raw]
        if not isinstance(raw, str):
            raise PluginFieldError(where, "must be text")
        value = raw if self.secret else raw.strip()
        if self.input in ("choice", "radio") and value not in {choice for choice, _ in self.choices}:
            raise PluginFieldError(where, f"must be one of {', '.join(choice for choice, _ in self.choices)}")
        return self._clean_text(where, value)

    def _clean_text(self, where: str, value: str) -> str:
        if len(value) > self.max_length:
            raise PluginFieldError(where, f"must be at most {self.max_length} characters")
        if "\x00" in value:
            raise PluginFieldError(where, "must not contain NUL characters")
        if self.input == "url" and not re.match(r"^https?://", value.strip(), re.IGNORECASE):
            raise PluginFieldError(where, "must be an https:// URL")
        return value


class PluginKind:
    """Base of every kind. Subclasses set the class attributes and may override ``validate``
    (calling super first) and ``test``.

    - ``kind``: registry key and the value stored in the owning model's ``kind`` column;
    - ``label`` / ``description``: shown in the UI and the API schema;
    - ``fields``: the declaration (order = form order).
    """

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""
    description: ClassVar[str] = ""
    fields: ClassVar[tuple[PluginField, ...]] = ()

    def field(self, name: str) -> PluginField:
        for declared in self.fields:
            if declared.name == name:
                return declared
        raise PluginError(f"{self.kind} has no field {name!r}")

    @property
    def secret_fields(self) -> tuple[PluginField, ...]:
        return tuple(declared for declared in self.fields if declared.secret)

    @property
    def config_fields(self) -> tuple[PluginField, ...]:
        return tuple(declared for declared in self.fields if not declared.secret)

    def validate(
        self, *, config: Mapping[str, Any], credentials: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """(cleaned config, cleaned credentials), or ``PluginFieldError`` naming the field.
        Unknown names are refused (a typo must not be dropped silently)."""
        # Both groups' unknown names first: a typo is the first thing a caller is told.
        for group, values, declared in (
            ("config", config, self.config_fields),
            ("credentials", credentials, self.secret_fields),
        ):
            unknown = sorted(set(values) - {item.name for item in declared})
            if unknown:
                raise PluginFieldError(f"{group}.{unknown[0]}", "unknown field")
        cleaned_config = clean_declared(self.config_fields, config, prefix="config")
        cleaned_credentials = {
            name: str(value)
            for name, value in clean_declared(self.secret_fields, credentials, prefix="credentials").items()
        }
        return cleaned_config, cleaned_credentials

    def describe(self) -> str:
        """One paragraph for the OpenAPI description: the kind and its fields."""
        return plugin_description(self)


def clean_declared(declared: Iterable[PluginField], values: Mapping[str, Any], *, prefix: str) -> dict[str, Any]:
    """*values* cleaned field by field as *declared* (empty optional ones left out), or
    ``PluginFieldError`` naming ``<prefix>.<name>``. Unknown names are refused: a typo must not
    be dropped silently."""
    fields = tuple(declared)
    unknown = sorted(set(values) - {item.name for item in fields})
    if unknown:
        raise PluginFieldError(f"{prefix}.{unknown[0]}", "unknown field")
    cleaned: dict[str, Any] = {}
    for item in fields:
        value = item.clean(values.get(item.name), prefix=prefix)
        if value is not None:
            cleaned[item.name] = value
    return cleaned


# Any class with ``kind`` and ``label`` class attributes: PluginKind subclasses, and sync providers
# (whose connection fields are PluginFields grouped by connection method).
PluginT = TypeVar("PluginT")


class PluginRegistry(Generic[PluginT]):
    """kind → ``"module:Class"``, imported lazily (an SDK loads only when its kind is used).
    Classes must have ``kind`` and ``label`` class attributes."""

    def __init__(self, modules: Mapping[str, str], *, base: type[PluginT] | None = None, noun: str = "kind") -> None:
        self.modules: dict[str, str] = dict(modules)
        self.base = base
        self.noun = noun
        self._instances: dict[str, PluginT] = {}

    def get(self, kind: str) -> PluginT:
        """The instance for *kind*; ``PluginError`` for an unknown kind (``ImportError`` passes
        through when its SDK is missing)."""
        if kind not in self._instances:
            target = self.modules.get(kind)
            if target is None:
                raise PluginError(f"unknown {self.noun} {kind!r}")
            module_name, class_name = target.split(":")
            plugin_class = getattr(import_module(module_name), class_name)
            if plugin_class.kind != kind:
                raise PluginError(f"{target} declares kind {plugin_class.kind!r}, not {kind!r}")
            if self.base is not None and not issubclass(plugin_class, self.base):
                raise PluginError(f"{target} is not a {self.base.__name__}")
            self._instances[kind] = plugin_class()
        return self._instances[kind]

    def require(self, kind: str, *, field: str = "kind") -> PluginT:
        """The instance for *kind* a caller asked for, or ``ValidationFailed`` on *field* (a 400
        naming it): an unknown kind lists the registered ones; a kind whose SDK is missing here
        says so."""
        from secrets_app.errors import ValidationFailed

        if kind not in self:
            raise ValidationFailed(field, f"must be one of {', '.join(self.modules)}")
        try:
            return self.get(kind)
        except ImportError:
            raise ValidationFailed(field, f"this {self.noun} is not available on this server") from None
        except PluginError as exc:
            raise ValidationFailed(field, str(exc)) from None

    def kinds(self) -> list[tuple[str, str]]:
        """(kind, label) of every registered kind that imports (for forms and the API schema)."""
        available = []
        for kind in self.modules:
            try:
                available.append((kind, str(getattr(self.get(kind), "label", kind))))
            except (ImportError, PluginError):
                continue
        return available

    def __contains__(self, kind: object) -> bool:
        return kind in self.modules or kind in self._instances

    def register(self, plugin_class: type[PluginT]) -> type[PluginT]:
        """For tests and plug-ins: register a class directly (usable as a decorator)."""
        kind = str(getattr(plugin_class, "kind", ""))
        self.modules.setdefault(kind, f"{plugin_class.__module__}:{plugin_class.__qualname__}")
        self._instances[kind] = plugin_class()
        return plugin_class

    def unregister(self, kind: str) -> None:
        """Undo ``register``: the kind is unknown again."""
        self._instances.pop(kind, None)
        self.modules.pop(kind, None)


# --- derived interfaces ----------------------------------------------------------------------------


def plugin_form_class(kind: PluginKind, *, editing: bool = False, base: type | None = None) -> type:
    """A Django form class with one form field per declared field.

    Secret fields are password inputs that are never pre-filled (``render_value=False``); when
    *editing*, they are optional and say "leave empty to keep" — the caller keeps the stored value
    for an empty one. Lists (``email`` fields taking several addresses) are textareas, one per line.
    """
    from django import forms

    attrs: dict[str, Any] = {}
    for declared in kind.fields:
        widget_attrs: dict[str, Any] = {"autocomplete": "off", "spellcheck": "false"}
        if declared.placeholder:
            widget_attrs["placeholder"] = declared.placeholder
        help_text = declared.help
        required = declared.required
        form_field: forms.Field
        if declared.secret:
            required = declared.required and not editing
            if editing:
                help_text = (help_text + " " if help_text else "") + "Stored encrypted; leave empty to keep it."
            widget_attrs["autocomplete"] = "new-password"
            form_field = forms.CharField(
                label=declared.label,
                required=required,
                strip=False,
                max_length=declared.max_length,
                widget=forms.PasswordInput(attrs=widget_attrs, render_value=False),
                help_text=help_text,
            )
        elif declared.input == "bool":
            form_field = forms.BooleanField(label=declared.label, required=False, help_text=help_text)
        elif declared.input in ("choice", "radio"):
            form_field = forms.ChoiceField(
                label=declared.label,
                required=required,
                choices=list(declared.choices),
                help_text=help_text,
                widget=forms.RadioSelect if declared.input == "radio" else forms.Select,
            )
        elif declared.input == "int":
            form_field = forms.IntegerField(
                label=declared.label, required=required, help_text=help_text, widget=forms.NumberInput(widget_attrs)
            )
        else:
            widget: forms.Widget
            if declared.input in ("textarea", "email"):
                widget = forms.Textarea(attrs={**widget_attrs, "rows": 3})
            elif declared.input == "url":
                widget = forms.URLInput(attrs={**widget_attrs, "class": "mono"})
            else:
                widget = forms.TextInput(attrs=widget_attrs)
            form_field = forms.CharField(
                label=declared.label,
                required=required,
                max_length=declared.max_length if declared.input not in ("textarea", "email") else None,
                widget=widget,
                help_text=help_text,
            )
        if declared.default is not None and not declared.secret:
            form_field.initial = declared.default
        attrs[declared.name] = form_field

    def plugin_values(self: Any) -> tuple[dict[str, Any], dict[str, str]]:
        """(config, credentials) from cleaned_data; empty secret fields are left out (keep)."""
        config: dict[str, Any] = {}
        credentials: dict[str, str] = {}
        for declared in kind.fields:
            value = self.cleaned_data.get(declared.name)
            if declared.secret:
                if value:
                    credentials[declared.name] = value
            elif declared.input == "email" and isinstance(value, str):
                config[declared.name] = [part.strip() for part in re.split(r"[\s,;]+", value) if part.strip()]
            else:
                config[declared.name] = value
        return config, credentials

    attrs["plugin_values"] = plugin_values
    attrs["plugin_kind"] = kind
    bases = (base,) if base is not None else (forms.Form,)
    return type(f"{type(kind).__name__}Form", bases, attrs)


def plugin_initial(kind: PluginKind, config: Mapping[str, Any]) -> dict[str, Any]:
    """Form initial values from stored *config* (never a secret: those are not in config)."""
    initial: dict[str, Any] = {}
    for declared in kind.config_fields:
        value = config.get(declared.name)
        if isinstance(value, list):
            value = "\n".join(str(item) for item in value)
        if value is not None:
            initial[declared.name] = value
    return initial


def plugin_serializer_fields(kind: PluginKind, *, group: str) -> dict[str, Any]:
    """DRF serializer fields for one *group* (``config`` or ``credentials``) of *kind*: secret
    fields are ``write_only``. For building a per-kind request serializer."""
    from rest_framework import serializers

    built: dict[str, Any] = {}
    for declared in kind.fields:
        if declared.group != group:
            continue
        common: dict[str, Any] = {"required": declared.required, "help_text": declared.help or declared.label}
        if declared.secret:
            built[declared.name] = serializers.CharField(write_only=True, trim_whitespace=False, **common)
        elif declared.input == "bool":
            built[declared.name] = serializers.BooleanField(**common)
        elif declared.input == "int":
            built[declared.name] = serializers.IntegerField(**common)
        elif declared.input in ("choice", "radio"):
            built[declared.name] = serializers.ChoiceField(choices=[c for c, _ in declared.choices], **common)
        elif declared.input == "email":
            built[declared.name] = serializers.ListField(child=serializers.EmailField(), **common)
        else:
            built[declared.name] = serializers.CharField(**common)
    return built


def registered_kind_field(registry: PluginRegistry[Any], **kwargs: Any) -> Any:
    """A DRF ``ChoiceField`` of the kinds registered in *registry* when a serializer is built
    (DRF copies declared fields per instance), so a kind registered after import is accepted and
    documented too."""
    from rest_framework import serializers

    class RegisteredKindField(serializers.ChoiceField):
        def __init__(self, **field_kwargs: Any) -> None:
            super().__init__(choices=list(registry.modules), **field_kwargs)

    return RegisteredKindField(**kwargs)


def plugin_description(kind: PluginKind) -> str:
    """Markdown describing a kind's fields (for OpenAPI descriptions and docs)."""
    lines = [f"**`{kind.kind}`** — {kind.label}. {kind.description}".rstrip()]
    for declared in kind.fields:
        flags = [declared.group, "required" if declared.required else "optional"]
        if declared.secret:
            flags.append("write-only")
        text = f"- `{declared.group}.{declared.name}` ({', '.join(flags)}): {declared.label}"
        if declared.help:
            text += f" — {declared.help}"
        lines.append(text)
    return "\n".join(lines)


def kinds_described(intro: str, describe: Callable[[], str]) -> str:
    """An OpenAPI operation description: *intro*, then ``describe()`` evaluated each time the schema
    is generated (a lazy string), so a kind registered after import is documented too. A kind that
    cannot describe itself (its SDK is missing) leaves the list out rather than break the schema."""
    from django.utils.functional import lazy

    def text() -> str:
        try:
            return intro + describe()
        except Exception:
            return intro

    return lazy(text, str)()


def plugins_description(registry: PluginRegistry[Any]) -> str:
    parts = []
    for kind, _ in registry.kinds():
        plugin = registry.get(kind)
        if isinstance(plugin, PluginKind):
            parts.append(plugin_description(plugin))
    return "\n\n".join(parts)


@dataclass(frozen=True)
class PresenceFlags:
    """``{"bot_token": "set"}``: which secret fields hold a value (never the value)."""

    names: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self, declared: Iterable[PluginField]) -> dict[str, str]:
        return {item.name: ("set" if item.name in self.names else "unset") for item in declared if item.secret}


__all__ = [
    "INPUT_KINDS",
    "PluginError",
    "PluginField",
    "PluginFieldError",
    "PluginKind",
    "PluginRegistry",
    "PresenceFlags",
    "clean_declared",
    "kinds_described",
    "plugin_description",
    "plugin_form_class",
    "plugin_initial",
    "plugin_serializer_fields",
    "plugins_description",
    "registered_kind_field",
]
