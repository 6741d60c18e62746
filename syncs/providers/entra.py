"""What every Microsoft Entra ID service-principal connection shares (Azure DevOps and Key Vault):
its fields, the authority-host check, the trust store for TLS to private authorities, and the
credential whose client secret is bound to the connection's authority host."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from secrets_app import outbound
from syncs.netguard import check_destination_url
from syncs.providers.types import ConfigError, Credential

CLIENT_SECRET = Credential("client_secret", "Client secret")
TENANT_ID = Credential("tenant_id", "Tenant ID", secret=False)
CLIENT_ID = Credential("client_id", "Client (application) ID", secret=False)
AUTHORITY_HOST = Credential(
    "authority_host", "Authority host", secret=False, required=False, help="Default: login.microsoftonline.com"
)
METHOD_LABEL = "Microsoft Entra ID service principal (client secret)"


def clean_authority_host(value: str) -> str:
    """An https authority URL (a bare host gets ``https://``) on a permitted address, or ConfigError."""
    authority = value if "://" in value else "https://" + value
    if not authority.startswith("https://"):
        raise ConfigError("config.authority_host: must be an https:// URL")
    return check_destination_url(authority, field="config.authority_host")


def connection_verify() -> bool | str:
    """``STRONGROOM_SYNC_CA_BUNDLE`` (a PEM file: a private CA) when set, else the default trust store."""
    bundle = getattr(settings, "STRONGROOM_SYNC_CA_BUNDLE", "") or os.environ.get("STRONGROOM_SYNC_CA_BUNDLE", "")
    return str(bundle) or True


DEFAULT_AUTHORITY = "https://login.microsoftonline.com"


def pinned_transport(bound_to: list[str]) -> Any:
    """An azure-core transport whose session may reach only *bound_to*'s hosts, dials the address it
    checked, follows no redirect and ignores proxy variables (``secrets_app.outbound``)."""
    from azure.core.pipeline.transport import RequestsTransport

    timeout = settings.STRONGROOM_SYNC_HTTP_TIMEOUT
    return RequestsTransport(
        session=outbound.session(bound_to=bound_to),
        session_owner=False,
        use_env_settings=False,
        connection_verify=connection_verify(),
        connection_timeout=timeout,
        read_timeout=timeout,
    )


def client_secret_credential(config: Mapping[str, Any], client_secret: str) -> Any:
    """A ``ClientSecretCredential`` whose client secret can reach only the connection's authority
    host (``authority_host``, else login.microsoftonline.com): the token endpoint, and instance
    discovery for the default authority, are on that host."""
    from azure.identity import ClientSecretCredential

    authority = str(config.get("authority_host") or DEFAULT_AUTHORITY)
    kwargs: dict[str, Any] = {"authority": authority, "transport": pinned_transport([authority])}
    if config.get("authority_host"):
        kwargs["disable_instance_discovery"] = True  # a sovereign cloud / AD FS / local authority
    return ClientSecretCredential(config["tenant_id"], config["client_id"], client_secret, **kwargs)
