"""Find a sync provider by kind. Providers register by being listed in ``PROVIDER_MODULES``:
adding a destination is one folder plus one line here. The registry is the plugin pattern's
``PluginRegistry`` (``secrets_app.plugins``), shared with notification channels."""

from __future__ import annotations

from secrets_app.plugins import PluginError, PluginRegistry
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
