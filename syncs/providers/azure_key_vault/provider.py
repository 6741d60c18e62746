"""Azure Key Vault secrets (wire-protocols.md §2), through ``azure-keyvault-secrets``'s
``SecretClient`` and ``azure-identity``'s ``ClientSecretCredential``.

Destination: a vault URL (``https://NAME.vault.azure.net``). What we guarantee and how:

- Names: Key Vault allows ``[0-9A-Za-z-]{1,127}``, case-insensitively, so ``_`` maps to ``-``
  after the key name template. Two source keys that end at one vault name (``A_B`` and ``A-B``,
  ``db`` and ``DB``) are a **blocking** plan error: the run fails before anything is written.
- Every secret we write carries the tags ``managed-by=strongroom`` and ``strongroom-sync=<sync id>``.
  A managed secret whose tags were stripped is rewritten (tags restored); removals and
  ``delete_items`` only ever touch secrets that still carry ``managed-by=strongroom`` *and* are
  recorded as managed by this sync. Untagged / unmanaged secrets are never touched (a clash with
  one is settled by the sync's initial behaviour, as for every provider).
- A soft-deleted secret in the way is recovered (``POST /deletedsecrets/{name}/recover``) and then
  written; a write answered ``409 ObjectIsDeletedButRecoverable`` is recovered and retried once.
- A managed secret whose source key is gone is **disabled** (``attributes.enabled=false``) by
  default, or deleted (soft delete) with ``provider_options={"removal": "delete"}``. A disabled
  managed secret whose key comes back is re-enabled by the next write.
- Each write is one request and is reported to the engine at once (``ctx.progress``): a worker
  killed mid-run loses nothing.

Drift: Key Vault reveals values and versions. A managed secret whose current version is not the
one our last write produced is "changed" (adoptable when enabled); a missing (or soft-deleted) one
is "missing"; secrets we do not manage are "unmanaged".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from secrets_app.plugins import PluginField
from syncs.netguard import allowlisted_host, check_destination_url
from syncs.providers import entra
from syncs.providers.base import (
    ActionKind,
    AppliedItem,
    ApplyProgress,
    ApplyResult,
    ConfigError,
    ConnectionInfo,
    ConnectionMethod,
    Credential,
    DesiredItem,
    DriftItem,
    ManagedState,
    Plan,
    PlanError,
    PlanOptions,
    ProviderError,
    RemoteItem,
    SyncContext,
    SyncProvider,
)

TAG_MANAGED_BY = "managed-by"
MANAGED_BY = "strongroom"
TAG_SYNC = "strongroom-sync"
VAULT_SCOPE = "https://vault.azure.net/.default"
VAULT_SUFFIXES = (".vault.azure.net", ".vault.azure.cn", ".vault.usgovcloudapi.net", ".vault.microsoftazure.de")
_SECRET_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
# Seconds between the SDK's recover polls (the first poll is immediate; tests never wait).
RECOVER_POLL_SECONDS = 1


class ServicePrincipal(ConnectionMethod):
    kind = "client_secret"
    label = entra.METHOD_LABEL
    description = "Token for https://vault.azure.net/.default."
    fields = (
        entra.TENANT_ID,
        entra.CLIENT_ID,
        entra.CLIENT_SECRET,
        entra.AUTHORITY_HOST,
        Credential(
            "vault_url",
            "Vault URL (for the connection test)",
            secret=False,
            required=False,
            input="url",
            placeholder="https://NAME.vault.azure.net",
            help="https://NAME.vault.azure.net; needs the Key Vault Secrets Officer role",
        ),
    )


def _vault_url(url: str, *, field: str) -> str:
    url = check_destination_url(url, field=field)
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https":
        raise ConfigError(f"{field}: Key Vault needs an https:// URL")
    if parts.path not in ("", "/"):
        raise ConfigError(f"{field}: a vault URL has no path (https://NAME.vault.azure.net)")
    if not host.endswith(VAULT_SUFFIXES) and not allowlisted_host(url):
        raise ConfigError(f"{field}: not a Key Vault URL (expected https://NAME.vault.azure.net)")
    return url


def _same_vault(url: str, connection_config: Mapping[str, Any]) -> bool:
    """A connection that names a vault is bound to it: its token may reach no other vault host."""
    bound = str(connection_config.get("vault_url") or "")
    if not bound:
        return True
    return (urlsplit(url).hostname or "").lower() == (urlsplit(bound).hostname or "").lower() and (
        urlsplit(url).port == urlsplit(bound).port
    )


def _private_vault(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return not host.endswith(VAULT_SUFFIXES)


def _tagged(item: RemoteItem) -> bool:
    return item.tags.get(TAG_MANAGED_BY) == MANAGED_BY


class AzureKeyVaultProvider(SyncProvider):
    kind = "azure_key_vault"
    label = "Azure Key Vault"
    reveals_values = True
    names_case_insensitive = True  # Key Vault names are case-insensitive
    description = "Secrets of a vault, tagged managed-by=strongroom"
    max_value_bytes = 25_000  # "maximum size of 25k bytes" per secret value (Key Vault service limits)
    methods = (ServicePrincipal(),)
    destination_fields = (
        PluginField(
            "vault_url",
            "Vault URL",
            input="url",
            placeholder="https://NAME.vault.azure.net",
            help="Secrets already in it that this sync does not manage are never touched.",
        ),
    )
    option_fields = (
        PluginField(
            "removal",
            "When a managed secret is removed",
            input="radio",
            choices=(
                ("disable", "Disable it in the vault (value kept)"),
                ("delete", "Delete it (soft delete, recoverable)"),
            ),
            default="disable",
        ),
    )
    form_labels = {
        "delete_on_source_removal": "Remove a managed secret when its Strongroom secret is deleted",
        "confirm_overwrite": "I understand: existing secrets with the same names are overwritten",
    }

    # --- connections ------------------------------------------------------------------------
    def validate_connection(
        self, *, method: str, credentials: Mapping[str, str], config: Mapping[str, Any]
    ) -> dict[str, Any]:
        cleaned = super().validate_connection(method=method, credentials=credentials, config=config)
        if cleaned.get("vault_url"):
            cleaned["vault_url"] = _vault_url(cleaned["vault_url"], field="config.vault_url")
        if cleaned.get("authority_host"):
            cleaned["authority_host"] = entra.clean_authority_host(cleaned["authority_host"])
        return cleaned

    def _client(self, info: ConnectionInfo, vault_url: str) -> Any:
        from syncs.providers.azure_key_vault.client import credential_for, secret_client

        url = _vault_url(vault_url, field="vault_url")  # again at connect time
        if not _same_vault(url, info.config):
            raise ConfigError(
                f"refused to send the connection's token to {urlsplit(url).hostname}: the connection is bound to "
                f"the vault {info.config['vault_url']}"
            )
        if info.config.get("authority_host"):
            check_destination_url(info.config["authority_host"], field="authority_host")
        credential = credential_for(info.method, dict(info.credentials), dict(info.config))
        return secret_client(url, credential, verify_challenge_resource=not _private_vault(url))

    def test_connection(self, connection: ConnectionInfo) -> str:
        from syncs.providers.azure_key_vault.client import call, credential_for

        vault_url = connection.config.get("vault_url", "")
        if not vault_url:
            credential = credential_for(connection.method, dict(connection.credentials), dict(connection.config))
            call("get a Key Vault token", credential.get_token, VAULT_SCOPE)
            return "Microsoft Entra ID issued a Key Vault token"
        client = self._client(connection, vault_url)
        pages = call("list secrets", lambda: client.list_properties_of_secrets(max_page_size=1).by_page())
        call("list secrets", lambda: next(iter(pages), None))
        return f"reached {vault_url}"

    # --- destinations -------------------------------------------------------------------------
    def validate_destination(
        self, destination: Mapping[str, Any], connection_config: Mapping[str, Any]
    ) -> dict[str, Any]:
        vault_url = str(destination.get("vault_url") or connection_config.get("vault_url") or "").strip()
        if not vault_url:
            raise ConfigError("destination.vault_url: this field is required")
        unknown = set(destination) - {"vault_url"}
        if unknown:
            raise ConfigError(f"destination: unknown field(s) {', '.join(sorted(unknown))}")
        vault_url = _vault_url(vault_url, field="destination.vault_url")
        if not _same_vault(vault_url, connection_config):
            raise ConfigError(
                f"destination.vault_url: must be the connection's vault ({connection_config['vault_url']}); "
                "a connection with a vault URL is bound to that vault"
            )
        return {"vault_url": vault_url}

    def target_key(self, destination: Mapping[str, Any]) -> str:
        return f"kv:{destination['vault_url'].lower()}"

    def describe_destination(self, destination: Mapping[str, Any]) -> str:
        return str(destination["vault_url"])

    # --- names --------------------------------------------------------------------------------
    def normalize_name(self, name: str) -> str:
        return name.replace("_", "-")

    def validate_name(self, name: str) -> str | None:
        if not _SECRET_NAME.match(name):
            return "Key Vault secret names may use letters, digits and '-' only (1–127 characters)"
        return None

    def removal_action(self, options: PlanOptions) -> str:
        removal = str(options.provider_options.get("removal", "disable"))
        return ActionKind.DELETE if removal == "delete" else ActionKind.DISABLE

    def needs_rewrite(self, item: RemoteItem) -> bool:
        return not item.enabled or not _tagged(item)

    def plan(
        self,
        desired: Mapping[str, DesiredItem],
        remote: Mapping[str, RemoteItem],
        managed: Mapping[str, ManagedState],
        options: PlanOptions,
    ) -> Plan:
        """The shared plan, plus: a removal is planned only for a secret that still carries our
        ``managed-by`` tag (an untagged one is reported and left alone)."""
        result = super().plan(desired, remote, managed, options)
        if result.blocked:
            return result
        by_key = {name.lower(): item for name, item in remote.items()}
        kept = []
        for action in result.actions:
            there = by_key.get(action.name.lower())
            if action.kind in ActionKind.REMOVALS and (there is None or not _tagged(there)):
                result.errors.append(
                    PlanError(
                        "untagged_remote",
                        f"{action.name} no longer carries the {TAG_MANAGED_BY}={MANAGED_BY} tag, so it was not removed",
                        (action.name,),
                        blocking=False,
                    )
                )
                continue
            kept.append(action)
        result.actions = kept
        return result

    # --- remote access ------------------------------------------------------------------------
    def read_remote(self, ctx: SyncContext) -> dict[str, RemoteItem]:
        from syncs.providers.azure_key_vault.client import call

        client = self._client(ctx.connection, ctx.destination["vault_url"])
        items: dict[str, RemoteItem] = {}
        properties = call("list secrets", lambda: list(client.list_properties_of_secrets()))
        for count, prop in enumerate(properties):
            if count % 50 == 0:
                ctx.heartbeat()
            if prop.managed:  # backing secrets of certificates: never ours
                continue
            name = str(prop.name)
            tags = dict(prop.tags or {})
            if prop.enabled:
                secret = call("read a secret", client.get_secret, name)
                items[name] = RemoteItem(
                    name=name, value=secret.value, version=str(secret.properties.version or ""), tags=tags
                )
            else:
                items[name] = RemoteItem(name=name, value=None, enabled=False, tags=tags)
        try:
            deleted = call("list deleted secrets", lambda: list(client.list_deleted_secrets()))
        except ProviderError:
            deleted = []  # no permission to list them: a 409 on write is handled in apply
        for secret in deleted:
            name = str(secret.name)
            if name.lower() not in {key.lower() for key in items}:
                items[name] = RemoteItem(name=name, deleted=True, tags=dict(secret.properties.tags or {}))
        return items

    # --- apply --------------------------------------------------------------------------------
    @staticmethod
    def _recover(client: Any, name: str) -> None:
        from syncs.providers.azure_key_vault.client import call

        try:
            poller = call(
                "recover a deleted secret",
                client.begin_recover_deleted_secret,
                name,
                _polling_interval=RECOVER_POLL_SECONDS,
            )
        except ProviderError as exc:
            if exc.status == 404:
                return  # already recovered (or purged): the write below settles it
            raise
        call("recover a deleted secret", poller.wait)

    def _write(self, client: Any, ctx: SyncContext, name: str, value: str, *, recover: bool) -> str:
        from syncs.providers.azure_key_vault.client import call

        tags = {TAG_MANAGED_BY: MANAGED_BY, TAG_SYNC: str(ctx.sync_id)}
        if recover:
            self._recover(client, name)
        try:
            props = call("write a secret", client.set_secret, name, value, tags=tags, enabled=True)
        except ProviderError as exc:
            if exc.status != 409 or recover:
                raise
            self._recover(client, name)  # soft-deleted since we read the vault
            props = call("write a secret", client.set_secret, name, value, tags=tags, enabled=True)
        return str(props.properties.version or "")

    def apply(self, ctx: SyncContext, plan: Plan) -> ApplyResult:
        from syncs.providers.azure_key_vault.client import call

        result = ApplyResult()
        actions = plan.of_kind(*ActionKind.WRITES, ActionKind.DELETE, ActionKind.DISABLE)
        if not actions:
            return result
        client = self._client(ctx.connection, ctx.destination["vault_url"])
        for action in actions:
            ctx.heartbeat()
            if action.kind in ActionKind.WRITES:
                version = self._write(
                    client, ctx, action.name, action.value or "", recover=action.kind == ActionKind.RECOVER
                )
                applied = AppliedItem(
                    name=action.name,
                    key=action.key,
                    digest=action.digest,
                    version=version,
                    created=action.kind == ActionKind.CREATE,
                )
                result.applied.append(applied)
                ctx.progress(ApplyProgress(applied=(applied,)))
            elif action.kind == ActionKind.DISABLE:
                try:
                    call("disable a secret", client.update_secret_properties, action.name, enabled=False)
                except ProviderError as exc:
                    if exc.status != 404:
                        raise
                    result.removed.append(action.name)
                    ctx.progress(ApplyProgress(removed=(action.name,)))
                    continue
                result.disabled.append(action.name)
                ctx.progress(ApplyProgress(disabled=(action.name,)))
            else:
                self._delete(client, action.name)
                result.removed.append(action.name)
                ctx.progress(ApplyProgress(removed=(action.name,)))
        return result

    @staticmethod
    def _delete(client: Any, name: str) -> None:
        from syncs.providers.azure_key_vault.client import call

        try:
            call("delete a secret", client.begin_delete_secret, name, _polling_interval=RECOVER_POLL_SECONDS)
        except ProviderError as exc:
            if exc.status != 404:
                raise

    def delete_items(self, ctx: SyncContext, names: list[str], *, delete_container: bool) -> dict[str, str] | None:
        """Soft-delete *names*, but only those still tagged ``managed-by=strongroom`` (a vault is
        never deleted: it is not ours to remove). Returns the untagged ones, left alone."""
        from syncs.providers.azure_key_vault.client import call

        client = self._client(ctx.connection, ctx.destination["vault_url"])
        doomed = {name.lower(): name for name in names}
        left: dict[str, str] = {}
        for prop in call("list secrets", lambda: list(client.list_properties_of_secrets())):
            name = doomed.get(str(prop.name).lower())
            if name is None:
                continue
            if (prop.tags or {}).get(TAG_MANAGED_BY) == MANAGED_BY:
                self._delete(client, str(prop.name))
            else:
                left[name] = f"no longer carries the {TAG_MANAGED_BY}={MANAGED_BY} tag, so it was not removed"
        return left

    # --- drift --------------------------------------------------------------------------------
    def drift(
        self,
        remote: Mapping[str, RemoteItem],
        managed: Mapping[str, ManagedState],
        desired_names: set[str],
        state: Mapping[str, Any] | None = None,
    ) -> list[DriftItem]:
        items: list[DriftItem] = []
        by_key = {name.lower(): item for name, item in remote.items()}
        managed_keys = {name.lower() for name in managed}
        for name, record in sorted(managed.items()):
            there = by_key.get(name.lower())
            if there is None or there.deleted:
                items.append(DriftItem(name, "missing", "managed secret is gone (or soft-deleted) from the vault"))
            elif not there.enabled:
                if name.lower() in {n.lower() for n in desired_names}:
                    items.append(DriftItem(name, "changed", "disabled at the vault"))
            elif record.version and there.version and there.version != record.version:
                items.append(DriftItem(name, "changed", "a new version was written at the vault", adoptable=True))
            elif not _tagged(there):
                items.append(DriftItem(name, "changed", f"the {TAG_MANAGED_BY} tag was removed at the vault"))
        for key, there in sorted(by_key.items()):
            if key not in managed_keys and not there.deleted:
                items.append(
                    DriftItem(there.name, "unmanaged", "not managed by this sync", adoptable=there.value is not None)
                )
        return items
