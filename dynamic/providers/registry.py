"""Find a dynamic-secret provider by kind. Adding one is a folder under ``dynamic/providers/`` plus
one line here: a ``DynamicProvider`` subclass (``dynamic/providers/base.py``) declaring its fields
and statements. The form, API validation and schema derive from the declaration (the plugin
pattern, ``secrets_app/plugins.py``); the smallest example is ``tests/plugins/kinds/dynamic_echo/``."""

from __future__ import annotations

from dynamic.providers.base import DynamicProvider
from secrets_app.plugins import PluginRegistry, plugins_description

# kind -> "module:ClassName" (imported lazily, so a driver loads only when its kind is used)
PROVIDER_MODULES: dict[str, str] = {
    "postgresql": "dynamic.providers.postgresql.provider:PostgreSQLProvider",
    "mysql": "dynamic.providers.mysql.provider:MySQLProvider",
    "aws_iam": "dynamic.providers.aws_iam.provider:AwsIamProvider",
    "azure_entra_id": "dynamic.providers.azure_entra_id.provider:AzureEntraIdProvider",
    "redis": "dynamic.providers.redis.provider:RedisProvider",
    "rabbitmq": "dynamic.providers.rabbitmq.provider:RabbitMqProvider",
}

PROVIDERS: PluginRegistry[DynamicProvider] = PluginRegistry(
    PROVIDER_MODULES, base=DynamicProvider, noun="dynamic secret provider"
)


def providers_description() -> str:
    """Markdown of every provider and its fields, for the API schema."""
    return plugins_description(PROVIDERS)
