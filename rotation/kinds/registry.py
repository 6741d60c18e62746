"""The rotation kinds by name. Add a kind: a folder under ``rotation/kinds/`` with a
``RotationKind`` subclass (``rotation/kinds/base.py``), and one line here. Its connection fields
are a ``PluginKind`` (``plugin()``, or the dynamic-secret provider it reuses); the form, the API
description and the settings' validation derive from them (the plugin pattern,
``secrets_app/plugins.py``); the smallest example is ``tests/plugins/kinds/rotation_echo/``."""

from __future__ import annotations

import dataclasses

from rotation.kinds.base import RotationKind
from secrets_app.plugins import PluginError, PluginKind, PluginRegistry, plugin_description

# kind -> "module:ClassName" (imported lazily, so a kind's SDK loads only when it is used)
KINDS: PluginRegistry[RotationKind] = PluginRegistry(
    {
        "postgresql": "rotation.kinds.postgresql:PostgreSQLCredentials",
        "mysql": "rotation.kinds.mysql:MySQLCredentials",
        "aws_iam_access_key": "rotation.kinds.aws_iam:AwsIamAccessKeys",
        "azure_client_secret": "rotation.kinds.azure_client_secret:AzureClientSecret",
    },
    base=RotationKind,
    noun="rotation kind",
)


def kind_for(name: str) -> RotationKind:
    """The kind called *name*; KeyError when there is none."""
    try:
        return KINDS.get(name)
    except PluginError:
        raise KeyError(name) from None


def kind_plugin(kind: RotationKind) -> PluginKind:
    """The plugin whose declared fields are this kind's connection settings (SQL kinds reuse their
    dynamic-secret provider's declaration; a kind with a ``plugin()`` declares its own)."""
    own = getattr(kind, "plugin", None)
    if own is not None:
        declared: PluginKind = own()
        return declared
    provider = getattr(kind, "provider", None)
    if provider is None:
        raise TypeError(f"rotation kind {kind.kind} declares no connection fields")
    plugin: PluginKind = provider()
    root_user_help = getattr(kind, "root_user_help", "")
    if root_user_help:
        # The provider's help says what a dynamic secret's root needs; a rotation's root needs other
        # rights. A subclass, not a change to the provider the dynamic-secret pages share.
        fields = tuple(
            dataclasses.replace(declared, help=root_user_help) if declared.name == "username" else declared
            for declared in plugin.fields
        )
        plugin = type(type(plugin).__name__, (type(plugin),), {"fields": fields})()
    return plugin


def kinds_description() -> str:
    """Markdown of every kind that imports: its settings and root credentials (declared fields),
    the owned secrets it maps and the users it names, for the API schema."""
    parts = []
    for name, _ in KINDS.kinds():
        kind = kind_for(name)
        try:
            field_lines = plugin_description(kind_plugin(kind)).splitlines()[1:]
        except TypeError:  # a kind that declares no connection fields
            field_lines = []
        text = "\n".join([f"**`{name}`** — {kind.label}.", *field_lines])
        text += f"\n- `secretsMapping`: {', '.join(kind.mapping_fields)}"
        if kind.usernames_help:
            text += f"\n- `usernames`: {kind.usernames_help}"
        parts.append(text)
    return "\n\n".join(parts)
