"""Microsoft Entra application client secrets, issued by Microsoft Graph for one application (the
*target*) with the credentials of another (the *admin* application).

- **issue**: ``POST /v1.0/applications/{objectId}/addPassword`` with ``displayName`` = the
  rotation's label and an ``endDateTime`` (see ``key_end``); the answer's ``secretText`` is shown
  this once and goes, sealed, into the engine's pending record;
- **verify**: a client-credentials token request as the target application (``clientId``) with
  the new secret alone, retried for a while because Entra replicates a new secret with a delay;
- **delete**: ``POST …/removePassword`` with ``keyId``; a key that is already gone is success;
- **list_key_ids**: ``GET /v1.0/applications/{objectId}``, the ``keyId`` of every password
  credential whose ``displayName`` is the rotation's label. Secrets somebody else added to the
  application have another displayName: the rotation never sees, never deletes them.

The admin application needs the Graph **application** permission ``Application.ReadWrite.All``
with admin consent (``Application.ReadWrite.OwnedBy`` is enough when it is an owner of the target
application). Tokens, endpoints (``authorityUrl``/``graphUrl`` for national clouds), the target
allowlist, pinned addresses and the safe error text are the Entra ID dynamic-secret provider's
(``dynamic.providers.azure_entra_id.client``).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests

from dynamic.providers.azure_entra_id.client import (
    DEFAULT_AUTHORITY,
    DEFAULT_GRAPH,
    TokenRefused,
    clean_entra_config,
    client_credentials_token,
    graph_error,
    graph_request,
    graph_url,
    response_json,
)
from dynamic.providers.http import target_session
from dynamic.providers.registry import PROVIDERS
from dynamic.services.common import connect_target
from rotation.kinds.base import IssuedCredential, IssuedCredentialKind, ProviderError, Target
from secrets_app.plugins import PluginField, PluginFieldError, PluginKind

CONFIG_FIELDS = ("tenantId", "objectId", "clientId", "adminClientId", "authorityUrl", "graphUrl")
REQUIRED_CONFIG = ("tenantId", "objectId", "clientId", "adminClientId")
ADMIN_SECRET = "adminClientSecret"  # noqa: S105 - the name of a field
# A new secret can be refused by the token endpoint for a while (Entra replicates it across its
# regions); Microsoft advises waiting, so verify retries for up to this long before failing. The
# engine rolls the same key forward on the next run, so a slow replication costs a retry, not a key.
VERIFY_SECONDS = 60.0
# How long past two intervals an issued secret stays valid: see ``key_end``.
KEY_END_MARGIN = dt.timedelta(days=7)
PERMISSION_HINT = "the admin application needs the Graph application permission Application.ReadWrite.All"


class AzureClientSecretFields(PluginKind):
    """The declaration of this kind's settings, for the create/edit forms and the detail page."""

    kind = "azure_client_secret"
    label = "Entra application client secret"
    description = "Client secrets of one Entra application, added and removed through Microsoft Graph."
    fields = (
        PluginField("tenantId", "Tenant ID", placeholder="00000000-0000-0000-0000-000000000000", max_length=100),
        PluginField(
            "objectId",
            "Application object ID",
            help="The application whose client secrets rotate (App registrations → Overview → Object ID).",
            max_length=100,
        ),
        PluginField(
            "clientId",
            "Application (client) ID",
            help="The same application's client ID: the new secret signs in as it, and the owned secrets hold it.",
            max_length=100,
        ),
        PluginField(
            "adminClientId",
            "Admin application (client) ID",
            help="An application with the Graph application permission Application.ReadWrite.All (admin consent).",
            max_length=100,
        ),
        PluginField(ADMIN_SECRET, "Admin client secret", secret=True, input="password", max_length=500),
        PluginField(
            "authorityUrl", "Authority URL", input="url", required=False, placeholder=DEFAULT_AUTHORITY, max_length=500
        ),
        PluginField("graphUrl", "Graph URL", input="url", required=False, placeholder=DEFAULT_GRAPH, max_length=500),
    )


class AzureClientSecret(IssuedCredentialKind):
    kind = "azure_client_secret"
    infisical_type = "azure-client-secret"
    label = "Entra application client secret"
    form = "rotation.kinds.azure_client_secret.form:EntraClientSecretForm"
    usernames_help = "[config.objectId]"
    mapping_fields = ("client_id", "client_secret")
    settings_fields = ("client_id",)
    default_mapping = {"client_id": "AZURE_CLIENT_ID", "client_secret": "AZURE_CLIENT_SECRET"}
    verify_seconds = VERIFY_SECONDS

    def plugin(self) -> PluginKind:
        return AzureClientSecretFields()

    # --- settings -------------------------------------------------------------------------------

    def check_config(self, config: Mapping[str, Any], usernames: list[str]) -> None:
        unknown = sorted(set(config) - set(CONFIG_FIELDS))
        if unknown:
            raise ValueError(f"config.{unknown[0]} is not a setting of {self.label} ({', '.join(CONFIG_FIELDS)})")
        cleaned = {name: str(value).strip() for name, value in config.items() if value not in (None, "")}
        for name in REQUIRED_CONFIG:
            if not cleaned.get(name):
                raise ValueError(f"config.{name} is required")
        try:
            clean_entra_config(cleaned, ids=REQUIRED_CONFIG)
        except PluginFieldError as exc:
            raise ValueError(str(exc)) from None
        if usernames != [cleaned["objectId"]]:
            raise ValueError("usernames must be [config.objectId]: the one application whose secrets rotate")

    def check_credentials(self, credentials: Mapping[str, str]) -> None:
        unknown = sorted(set(credentials) - {ADMIN_SECRET})
        if unknown:
            raise ValueError(f"credentials.{unknown[0]} is not a credential of {self.label} ({ADMIN_SECRET})")
        if not str(credentials.get(ADMIN_SECRET) or "").strip():
            raise ValueError(f"credentials.{ADMIN_SECRET} is required")

    def target(self, *, organization_id: int, config: Mapping[str, Any], credentials: Mapping[str, str]) -> Target:
        normalized = {name: str(value).strip() for name, value in config.items() if value not in (None, "")}
        for name in ("authorityUrl", "graphUrl"):
            if normalized.get(name):
                normalized[name] = normalized[name].rstrip("/")
        # The Entra ID provider declares the same two endpoints (Graph, the token endpoint) from the
        # same settings: both pass the organization's allowlist and are dialled at those addresses.
        return connect_target(
            PROVIDERS.get("azure_entra_id"), organization_id=organization_id, config=normalized, credentials=credentials
        )

    # --- calls ----------------------------------------------------------------------------------

    def _admin_token(self, session: requests.Session, target: Target) -> str:
        return client_credentials_token(
            session,
            config=target.config,
            client_id=str(target.config["adminClientId"]),
            client_secret=str(target.credentials.get(ADMIN_SECRET) or ""),
            check="adminClientId and adminClientSecret",
        )

    def _application_url(self, target: Target, action: str = "") -> str:
        url = f"{graph_url(target.config)}/v1.0/applications/{quote(str(target.config['objectId']), safe='')}"
        return f"{url}/{action}" if action else url

    def _application(self, session: requests.Session, target: Target, token: str) -> dict[str, Any]:
        response = graph_request(session, "GET", self._application_url(target), what="application lookup", token=token)
        if response.status_code == 404:
            raise ProviderError("application lookup: no application with that objectId in the tenant")
        if response.status_code in (401, 403):
            error = graph_error("application lookup", response)
            error = ProviderError(f"{error} ({PERMISSION_HINT})")
            error.retryable = False
            raise error
        if response.status_code != 200:
            raise graph_error("application lookup", response)
        return response_json(response)

    def test_root(self, target: Target) -> None:
        """A token for the admin application, a read of the target application (whose ``appId``
        must be ``clientId``), and a removal of a key id that cannot exist: Graph refuses that
        with 403 when the admin may not manage the application's secrets, and otherwise answers
        "no such key" — the permission is proved on save without changing anything."""
        with target_session(target) as session:
            token = self._admin_token(session, target)
            application = self._application(session, target, token)
            if str(application.get("appId") or "") != str(target.config["clientId"]):
                raise ProviderError("application lookup: clientId is not the application (client) ID of objectId")
            probe = graph_request(
                session,
                "POST",
                self._application_url(target, "removePassword"),
                what="permission check",
                token=token,
                body={"keyId": str(uuid.uuid4())},
            )
        if probe.status_code in (401, 403):
            error = ProviderError(f"{graph_error('permission check', probe)} ({PERMISSION_HINT})")
            error.retryable = False
            raise error
        if probe.status_code >= 500:
            raise graph_error("permission check", probe)

    def check_principal(self, target: Target, *, principal: str) -> None:
        """Done by ``test_root`` (the principal is ``config.objectId``)."""

    @staticmethod
    def key_end(valid_for: dt.timedelta | None, *, now: dt.datetime) -> dt.datetime | None:
        """When a new secret stops working: two intervals plus a margin, or None (Graph's default
        of two years) when the rotation has no schedule.

        A secret is *active* for one interval and *previous* for one more (consumers that read
        the owned secrets late keep working) and is deleted by the run after that, so it must
        outlive two intervals. The margin covers that run being late: retries with backoff, then
        a rotation marked failed whose admins need days to fix it, during which the active secret
        must keep working. An end date still bounds a leaked secret if rotation stops for good."""
        if valid_for is None:
            return None
        return now + 2 * valid_for + KEY_END_MARGIN

    def issue(
        self, target: Target, *, principal: str, label: str, valid_for: dt.timedelta | None = None
    ) -> IssuedCredential:
        requested: dict[str, str] = {"displayName": label}
        end = self.key_end(valid_for, now=dt.datetime.now(dt.UTC))
        if end is not None:
            requested["endDateTime"] = end.strftime("%Y-%m-%dT%H:%M:%SZ")
        with target_session(target) as session:
            token = self._admin_token(session, target)
            response = graph_request(
                session,
                "POST",
                self._application_url(target, "addPassword"),
                what="add password",
                token=token,
                body={"passwordCredential": requested},
            )
        if response.status_code == 404:
            raise ProviderError("add password: no application with that objectId in the tenant")
        if response.status_code != 200:
            raise graph_error("add password", response)
        answer = response_json(response)
        key_id, secret = answer.get("keyId"), answer.get("secretText")
        if not isinstance(key_id, str) or not key_id or not isinstance(secret, str) or not secret:
            raise ProviderError("add password: the answer has no keyId or secretText")
        return IssuedCredential(key_id=key_id, secret=secret, expires_at=str(answer.get("endDateTime") or ""))

    def verify(self, target: Target, *, principal: str, credential: IssuedCredential) -> None:
        deadline = time.monotonic() + self.verify_seconds
        pause = 0.5
        with target_session(target) as session:
            while True:
                try:
                    client_credentials_token(
                        session,
                        config=target.config,
                        client_id=str(target.config["clientId"]),
                        client_secret=credential.secret,
                        check="clientId and the new secret; Entra may still be replicating it",
                    )
                    return
                except TokenRefused as exc:
                    # invalid_client is also what a not-yet-replicated secret gets.
                    if exc.code != "invalid_client" or time.monotonic() + pause > deadline:
                        raise
                time.sleep(pause)
                pause = min(pause * 2, 8.0)

    def delete(self, target: Target, *, principal: str, key_id: str) -> None:
        with target_session(target) as session:
            token = self._admin_token(session, target)
            response = graph_request(
                session,
                "POST",
                self._application_url(target, "removePassword"),
                what="remove password",
                token=token,
                body={"keyId": key_id},
            )
            if response.status_code in (200, 204):
                return
            if response.status_code in (401, 403) or response.status_code >= 500:
                raise graph_error("remove password", response)
            # How Graph answers a key id the application does not have (a 400 or a 404) is not part
            # of its documented contract: read the application to tell "already gone" (success, the
            # contract's idempotence) from a refusal; a missing application fails the read.
            listed = self._application(session, target, token).get("passwordCredentials") or []
        if any(isinstance(item, dict) and item.get("keyId") == key_id for item in listed):
            raise graph_error("remove password", response)

    def list_key_ids(self, target: Target, *, principal: str, label: str) -> list[str]:
        with target_session(target) as session:
            token = self._admin_token(session, target)
            listed = self._application(session, target, token).get("passwordCredentials") or []
        return [
            str(item["keyId"])
            for item in listed
            if isinstance(item, dict) and item.get("keyId") and item.get("displayName") == label
        ]

    def issued_values(self, credential: IssuedCredential, *, config: Mapping[str, Any] | None = None) -> dict[str, str]:
        """The application's client ID (from the settings: not secret, unchanged by a rotation) and
        the new client secret."""
        return {"client_id": str((config or {}).get("clientId") or ""), "client_secret": credential.secret}
