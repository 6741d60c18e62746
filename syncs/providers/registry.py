"""Find a sync provider by kind. Providers register by being listed in ``PROVIDER_MODULES``:
adding a destination is one folder plus one line here."""

from __future__ import annotations

from importlib import import_module

from syncs.providers.base import ConfigError, SyncProvider

# kind -> "module:ClassName" (imported lazily, so a provider's SDK loads only when used)
PROVIDER_MODULES: dict[str, str] = {
    "azure_devops": "syncs.providers.azure_devops.provider:AzureDevOpsProvider",
    "azure_key_vault": "syncs.providers.azure_key_vault.provider:AzureKeyVaultProvider",
}

_instances: dict[str, SyncProvider] = {}


def provider_for(kind: str) -> SyncProvider:
    """The provider instance for *kind*; ``ConfigError`` for an unknown kind."""
    if kind not in _instances:
        target = PROVIDER_MODULES.get(kind)
        if target is None:
            raise ConfigError(f"unknown destination kind {kind!r}")
        module_name, class_name = target.split(":")
        provider_class = getattr(import_module(module_name), class_name)
        if provider_class.kind != kind:
            raise ConfigError(f"provider {target} declares kind {provider_class.kind!r}, not {kind!r}")
        _instances[kind] = provider_class()
    return _instances[kind]


def kinds() -> list[tuple[str, str]]:
    """(kind, label) of every provider that imports (for forms and the API schema)."""
    available = []
    for kind in PROVIDER_MODULES:
        try:
            available.append((kind, provider_for(kind).label))
        except (ImportError, ConfigError):
            continue
    return available


def register(provider_class: type[SyncProvider]) -> type[SyncProvider]:
    """For tests and plug-ins: register a provider class directly."""
    _instances[provider_class.kind] = provider_class()
    return provider_class
