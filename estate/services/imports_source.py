"""Reading what an import brings in, fresh, at the moment it is previewed or applied: the variable
group or pipeline definition from Azure DevOps (``estate.ado.rest.AdoRest``), and for a group
linked to a Key Vault the secrets of that vault through a Strongroom Azure Key Vault connection.

Values live in memory only (``SourceVariable.value`` is hidden from ``repr``): they are compared
with Strongroom's values or handed to the secrets service, never logged, stored or returned.
Azure DevOps never returns a secret variable's value: those come back with ``value=None``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from estate.ado.rest import AdoRest, NotFoundError
from estate.models import EstateResource, ItemSource, ResourceKind
from secrets_app.errors import Conflict, DomainError, ValidationFailed
from secrets_app.models import Organization
from syncs.models import AppConnection, ConnectionKind
from syncs.providers.base import ProviderError

KEY_VAULT = "AzureKeyVault"


class AdoUnavailable(DomainError):
    """Azure DevOps could not be read (the message names the operation and status, never a body)."""

    status = 502
    code = "azure_devops_unavailable"


@dataclass
class SourceVariable:
    name: str
    is_secret: bool
    source: str  # ItemSource
    value: str | None = field(default=None, repr=False)  # plain values only (and Key Vault values once read)
    enabled: bool = True  # a Key Vault group's variable whose secret is disabled in the vault: False


@dataclass
class SourceRead:
    """One fresh read of a resource: its variables by name, the group type and the Key Vault it is
    linked to (name and service connection id), when it is."""

    variables: dict[str, SourceVariable]
    group_type: str = ""
    vault: str = ""
    service_endpoint_id: str = ""


def item_source(resource: EstateResource, *, is_secret: bool, group_type: str | None = None) -> str:
    kind = group_type if group_type is not None else str((resource.details or {}).get("type") or "")
    if resource.kind == ResourceKind.VARIABLE_GROUP and kind == KEY_VAULT:
        return ItemSource.KEY_VAULT
    return ItemSource.REENTRY if is_secret else ItemSource.PLAIN


def _project_ref(resource: EstateResource) -> str:
    return quote(resource.ado_project_id or resource.ado_project_name, safe="")


def _read(resource: EstateResource, path: str, what: str) -> Any:
    try:
        with AdoRest.for_connection(resource.connection) as rest:
            body, _ = rest.get(path, what=what)
    except NotFoundError:
        raise Conflict(f"'{resource.name}' no longer exists in Azure DevOps; scan again") from None
    except ProviderError as exc:
        raise AdoUnavailable(str(exc)) from None
    if not isinstance(body, dict):
        raise Conflict(f"'{resource.name}' no longer exists in Azure DevOps; scan again")
    return body


def source_read(resource: EstateResource) -> SourceRead:
    """The resource's variables as Azure DevOps has them now. Conflict when it is gone,
    AdoUnavailable (502) when Azure DevOps cannot be read."""
    external = quote(str(resource.external_id), safe="")
    if resource.kind == ResourceKind.VARIABLE_GROUP:
        body = _read(
            resource,
            f"{_project_ref(resource)}/_apis/distributedtask/variablegroups/{external}",
            "read the variable group",
        )
        group_type = str(body.get("type") or "Vsts")
        provider = body.get("providerData") or {}
        variables: dict[str, SourceVariable] = {}
        for name, raw in (body.get("variables") or {}).items():
            raw = raw or {}
            secret = bool(raw.get("isSecret")) or group_type == KEY_VAULT
            value = raw.get("value")
            variables[str(name)] = SourceVariable(
                name=str(name),
                is_secret=secret,
                source=item_source(resource, is_secret=secret, group_type=group_type),
                value=None if secret or value is None else str(value),
                enabled=raw.get("enabled") is not False,
            )
        return SourceRead(
            variables=variables,
            group_type=group_type,
            vault=str(provider.get("vault") or ""),
            service_endpoint_id=str(provider.get("serviceEndpointId") or ""),
        )
    if resource.kind == ResourceKind.PIPELINE:
        body = _read(
            resource, f"{_project_ref(resource)}/_apis/build/definitions/{external}", "read the pipeline definition"
        )
        variables = {}
        for name, raw in (body.get("variables") or {}).items():
            raw = raw or {}
            secret = bool(raw.get("isSecret"))
            value = raw.get("value")
            variables[str(name)] = SourceVariable(
                name=str(name),
                is_secret=secret,
                source=ItemSource.REENTRY if secret else ItemSource.PLAIN,
                value=None if secret or value is None else str(value),
            )
        return SourceRead(variables=variables)
    raise ValidationFailed("resource", "only variable groups and pipelines can be imported")


# --- Key Vault ---------------------------------------------------------------------------------


def key_vault_connection_get(organization: Organization, ref: str) -> AppConnection:
    """A Strongroom Azure Key Vault connection of *organization* by public id, id or name."""
    ref = str(ref or "").strip()
    query = AppConnection.objects.filter(organization=organization)
    try:
        found = query.filter(public_id=uuid.UUID(ref)).first()
    except ValueError:
        found = query.filter(pk=int(ref)).first() if ref.isdigit() else query.filter(name=ref).first()
    if found is None:
        raise ValidationFailed("keyVaultConnection", "no such connection in this organization")
    if found.kind != ConnectionKind.AZURE_KEY_VAULT:
        raise ValidationFailed("keyVaultConnection", "must be an Azure Key Vault connection")
    return found


def default_vault_url(vault: str) -> str:
    return f"https://{vault}.vault.azure.net" if vault else ""


@dataclass
class VaultRead:
    """The values read from the vault (hidden from repr), the names it does not hold, and the
    reason it could not be read at all (empty when it could)."""

    values: dict[str, str] = field(default_factory=dict, repr=False)
    missing: list[str] = field(default_factory=list)
    error: str = ""


def vault_read(connection: AppConnection, vault_url: str, names: list[str]) -> VaultRead:
    """Read *names* from the vault at *vault_url* through *connection* (the Key Vault sync
    provider's client: its token reaches only that vault host). A name the vault does not hold is
    ``missing``; any other failure ends the read with ``error`` (a safe message)."""
    from syncs.providers.azure_key_vault.client import call
    from syncs.providers.azure_key_vault.provider import AzureKeyVaultProvider
    from syncs.services.connections import connection_info

    result = VaultRead()
    try:
        client = AzureKeyVaultProvider()._client(connection_info(connection), vault_url)
        for name in names:
            try:
                secret = call("read a secret", client.get_secret, name)
            except ProviderError as exc:
                if getattr(exc, "status", None) == 404:
                    result.missing.append(name)
                    continue
                raise
            if secret.value is None:
                result.missing.append(name)
            else:
                result.values[name] = str(secret.value)
    except ProviderError as exc:
        result.values.clear()
        result.error = str(exc)[:200]
    return result
