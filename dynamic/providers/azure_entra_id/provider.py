"""Microsoft Entra ID: a lease is the password of one designated, existing user.

Infisical's ``azure-entra-id`` inputs (``tenantId``, ``userId``, ``email``, ``applicationId``,
``clientSecret``). Strongroom signs in as the application (client-credentials grant, scope
``<graph>/.default``; the app needs the Graph permission ``User-PasswordProfile.ReadWrite.All`` or
``User.ReadWrite.All`` and a role allowed to reset that user's password) and:

- **lease**: ``PATCH /v1.0/users/{userId}`` with ``passwordProfile {password,
  forceChangePasswordNextSignIn: false}`` — data ``email`` and ``password`` (Infisical's lower-case
  keys); the lease's ``externalEntityId`` is the ``userId``;
- **renewal**: nothing to do (the password has no expiry of its own);
- **revocation**: the same call with a fresh random password that is never shown or stored, so the
  leased one stops working. A user that no longer exists is revoked.

The user is never created or deleted. Every lease of the same dynamic secret resets the same
user: a new lease ends the previous lease's password, and revoking any lease ends the current one.

The token endpoint (``authorityUrl``, default ``https://login.microsoftonline.com``) and Graph
(``graphUrl``, default ``https://graph.microsoft.com``; national clouds have their own) both pass
the organization's target allowlist and are dialled at the checked addresses; TLS is verified
against the system CAs or ``REQUESTS_CA_BUNDLE`` (a private CA).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import requests

from dynamic.providers.azure_entra_id.client import (
    DEFAULT_AUTHORITY,
    DEFAULT_GRAPH,
    authority_url,
    clean_entra_config,
    client_credentials_token,
    endpoint_of,
    entra_endpoints,
    graph_error,
    graph_request,
    graph_url,
)
from dynamic.providers.base import DynamicProvider, PluginField, ProviderError, Target
from dynamic.providers.http import status_error, target_session
from dynamic.providers.templates import POSTGRESQL

# Infisical's alphabet for Entra passwords: none of them needs escaping anywhere.
PASSWORD_SYMBOLS = "-_.~!*$#"  # noqa: S105 - an alphabet, not a password
PASSWORD_LENGTH = 64


def unseen_password() -> str:
    """64 characters from letters, digits and ``-_.~!*$#``, with every class present (Entra asks
    for three of four): the password a revocation sets and nobody ever sees."""
    alphabet = string.ascii_letters + string.digits + PASSWORD_SYMBOLS
    chars = [secrets.choice(pool) for pool in (string.ascii_lowercase, string.ascii_uppercase, string.digits)]
    chars.append(secrets.choice(PASSWORD_SYMBOLS))
    chars += [secrets.choice(alphabet) for _ in range(PASSWORD_LENGTH - len(chars))]
    for index in range(len(chars) - 1, 0, -1):
        other = secrets.randbelow(index + 1)
        chars[index], chars[other] = chars[other], chars[index]
    return "".join(chars)


class AzureEntraIdProvider(DynamicProvider):
    kind = "azure_entra_id"
    infisical_type = "azure-entra-id"
    label = "Microsoft Entra ID"
    description = "The password of one existing Entra ID user, reset per lease and reset again at expiry."
    fields = (
        PluginField("tenantId", "Tenant ID", placeholder="00000000-0000-0000-0000-000000000000", max_length=100),
        PluginField("userId", "User object ID", help="The user whose password leases hand out.", max_length=200),
        PluginField("email", "User e-mail", input="email", help="Returned with each lease.", max_length=320),
        PluginField("applicationId", "Application (client) ID", max_length=100),
        PluginField("clientSecret", "Client secret", secret=True, input="password", max_length=500),
        PluginField(
            "authorityUrl", "Authority URL", input="url", required=False, placeholder=DEFAULT_AUTHORITY, max_length=500
        ),
        PluginField("graphUrl", "Graph URL", input="url", required=False, placeholder=DEFAULT_GRAPH, max_length=500),
    )
    dialect = POSTGRESQL  # unused: no statements
    data_keys = ("email", "password")

    def validate(
        self, *, config: Mapping[str, Any], credentials: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        cleaned, secret_values = super().validate(config=config, credentials=credentials)
        clean_entra_config(cleaned, ids=("tenantId", "userId", "applicationId"))
        return cleaned, secret_values

    def _authority(self, config: Mapping[str, Any]) -> str:
        return authority_url(config)

    def _graph(self, config: Mapping[str, Any]) -> str:
        return graph_url(config)

    def endpoint(self, config: Mapping[str, Any]) -> tuple[str, int, str]:
        return endpoint_of(graph_url(config))

    def endpoints(self, config: Mapping[str, Any]) -> list[tuple[str, int, str]]:
        return entra_endpoints(config)

    def lease_username(self, config: Mapping[str, Any], rendered: str) -> str:
        return str(config["userId"])

    # --- calls ----------------------------------------------------------------------------------

    def _token(self, session: requests.Session, target: Target) -> str:
        return client_credentials_token(
            session,
            config=target.config,
            client_id=str(target.config["applicationId"]),
            client_secret=target.credentials.get("clientSecret", ""),
            check="applicationId and clientSecret",
        )

    def _user_url(self, config: Mapping[str, Any], user_id: str) -> str:
        return f"{self._graph(config)}/v1.0/users/{quote(user_id, safe='@')}"

    def _set_password(self, target: Target, user_id: str, password: str, *, missing_ok: bool) -> None:
        with target_session(target) as session:
            token = self._token(session, target)
            response = graph_request(
                session,
                "PATCH",
                self._user_url(target.config, user_id),
                what="password reset",
                token=token,
                body={"passwordProfile": {"forceChangePasswordNextSignIn": False, "password": password}},
            )
        if response.status_code == 404 and missing_ok:
            return
        if response.status_code not in (200, 204):
            raise graph_error("password reset", response)

    def test(self, target: Target) -> None:
        with target_session(target) as session:
            token = self._token(session, target)
            response = graph_request(
                session,
                "GET",
                self._user_url(target.config, str(target.config["userId"])),
                what="user lookup",
                token=token,
            )
        if response.status_code == 404:
            raise ProviderError("user lookup: no user with that userId in the tenant")
        if response.status_code != 200:
            raise status_error("user lookup", response)

    def issue(
        self,
        target: Target,
        *,
        username: str,
        password: str,
        expire_at: Any,
        statements: Sequence[str],
        undo: Sequence[str] = (),
    ) -> dict[str, str]:
        self._set_password(target, username, password, missing_ok=False)
        return {"email": str(target.config["email"]), "password": password}

    def renew_user(self, target: Target, *, username: str, statements: Sequence[str]) -> None:
        """Nothing to do: the password has no expiry of its own."""

    def revoke_user(self, target: Target, *, username: str, statements: Sequence[str]) -> str | None:
        self._set_password(target, username, unseen_password(), missing_ok=True)
        return None
