"""Find a sync provider by kind. Providers register by being listed in ``PROVIDER_MODULES``:
adding a destination is one folder plus one line here: a ``SyncProvider`` subclass
(``syncs/providers/base.py``) declaring its connection ``methods``, ``destination_fields`` and
``option_fields``. Forms, API validation and schema derive from them (the plugin pattern,
``secrets_app/plugins.py``); the smallest example is ``tests/plugins/kinds/sync_echo/``."""

from __future__ import annotations

from secrets_app.plugins import PluginError, PluginRegistry, plugin_description
from syncs.providers.base import ConfigError, SyncProvider

# kind -> "module:ClassName" (imported lazily, so a provider's SDK loads only when used)
PROVIDER_MODULES: dict[str, str] = {
    "azure_devops": "syncs.providers.azure_devops.provider:AzureDevOpsProvider",
    "azure_key_vault": "syncs.providers.azure_key_vault.provider:AzureKeyVaultProvider",
}

PROVIDERS: PluginRegistry[SyncProvider] = PluginRegistry(PROVIDER_MODULES, base=SyncProvider, noun="destination kind")


def provider_for(kind: str) -> SyncProvider:
    """The provider instance for *kind*; ``ConfigError`` for an unknown kind."""
    try:
        return PROVIDERS.get(kind)
    except PluginError as exc:
        raise ConfigError(str(exc)) from None


def kinds() -> list[tuple[str, str]]:
    """(kind, label) of every provider that imports (for forms and the API schema)."""
    return PROVIDERS.kinds()


def register(provider_class: type[SyncProvider]) -> type[SyncProvider]:
    """For tests and plug-ins: register a provider class directly."""
    return PROVIDERS.register(provider_class)


def provider_description(provider: SyncProvider) -> str:
    """Markdown for the API schema: the kind, its connection methods and each method's fields
    (``plugin_description`` of each ``ConnectionMethod``)."""
    lines = [f"**`{provider.kind}`** — {provider.label}. {provider.description}".rstrip()]
    for method in provider.methods:
        first, *fields = plugin_description(method).splitlines()
        lines.append(f"- `method`: {first}")
        lines += [f"  {line}" for line in fields]
    return "\n".join(lines)


def providers_description() -> str:
    """``provider_description`` of every kind that imports, one paragraph each."""
    return "\n\n".join(provider_description(PROVIDERS.get(kind)) for kind, _ in PROVIDERS.kinds())


def destinations_summary(*, options: bool = False) -> str:
    """One entry per kind naming its declared destination fields (or, with *options*, its option
    fields), ``?`` marking optional ones: ``azure_key_vault: {vault_url}``."""
    parts = []
    for kind, _ in PROVIDERS.kinds():
        provider = PROVIDERS.get(kind)
        declared = provider.option_fields if options else provider.destination_fields
        if declared:
            names = ", ".join(f"{field.name}{'' if field.required else '?'}" for field in declared)
            parts.append(f"{kind}: {{{names}}}")
    return "; ".join(parts) or "(none)"


def methods_summary(*, group: str | None = None) -> str:
    """One line per kind: ``azure_devops: pat | oauth | client_secret``, or with *group*
    (``credentials`` / ``config``) each method's field names in that group."""
    lines = []
    for kind, _ in PROVIDERS.kinds():
        methods = PROVIDERS.get(kind).methods
        if group is None:
            lines.append(f"{kind}: {' | '.join(method.kind for method in methods)}")
            continue
        for method in methods:
            names = [f"{field.name}{'' if field.required else '?'}" for field in method.fields if field.group == group]
            lines.append(f"{kind}/{method.kind}: {', '.join(names) or '(none)'}")
    return "; ".join(lines)
