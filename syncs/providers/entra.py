"""What every Microsoft Entra ID service-principal connection shares (Azure DevOps and Key Vault):
its fields, the authority-host check, and the trust store for TLS to private authorities."""

from __future__ import annotations

import os

from django.conf import settings

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
