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

from dynamic.providers.base import DynamicProvider, PluginField, PluginFieldError, ProviderError, Target
from dynamic.providers.http import TIMEOUT_SECONDS, status_error, target_session, transport_error
from dynamic.providers.templates import POSTGRESQL
from secrets_app import outbound

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
DEFAULT_GRAPH = "https://graph.microsoft.com"
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
        for name in ("authorityUrl", "graphUrl"):
            if cleaned.get(name):
                try:
                    outbound.split_url(cleaned[name])
                except outbound.OutboundRefused as exc:
                    raise PluginFieldError(f"config.{name}", exc.reason) from None
                cleaned[name] = cleaned[name].rstrip("/")
        for name in ("tenantId", "userId", "applicationId"):
            if any(char in cleaned[name] for char in "/?#%\\ "):
                raise PluginFieldError(f"config.{name}", "must be an ID (no / ? # % or spaces)")
        return cleaned, secret_values

    def _authority(self, config: Mapping[str, Any]) -> str:
        return str(config.get("authorityUrl") or DEFAULT_AUTHORITY)

    def _graph(self, config: Mapping[str, Any]) -> str:
        return str(config.get("graphUrl") or DEFAULT_GRAPH)

    def endpoint(self, config: Mapping[str, Any]) -> tuple[str, int, str]:
        return self._endpoint_of(self._graph(config))

    def endpoints(self, config: Mapping[str, Any]) -> list[tuple[str, int, str]]:
        return [self.endpoint(config), self._endpoint_of(self._authority(config))]

    @staticmethod
    def _endpoint_of(url: str) -> tuple[str, int, str]:
        try:
            _, host, port = outbound.split_url(url)
        except outbound.OutboundRefused:
            return ("", 0, "")
        return (host, port, "")

    def lease_username(self, config: Mapping[str, Any], rendered: str) -> str:
        return str(config["userId"])

    # --- calls ----------------------------------------------------------------------------------

    def _token(self, session: requests.Session, target: Target) -> str:
        config = target.config
        url = f"{self._authority(config)}/{quote(str(config['tenantId']), safe='')}/oauth2/v2.0/token"
        try:
            response = session.post(
                url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": str(config["applicationId"]),
                    "client_secret": target.credentials.get("clientSecret", ""),
                    "scope": f"{self._graph(config)}/.default",
                },
                timeout=TIMEOUT_SECONDS,
            )
        except (requests.RequestException, outbound.OutboundRefused) as exc:
            raise transport_error("token request", exc) from None
        if response.status_code != 200:
            error = status_error("token request", response)
            code = _json(response).get("error")
            if code in ("invalid_client", "unauthorized_client"):
                error = ProviderError(f"token request: {code} (check applicationId and clientSecret)")
                error.retryable = False
            raise error
        token = _json(response).get("access_token")
        if not isinstance(token, str) or not token:
            raise ProviderError("token request: the answer has no access_token")
        return token

    def _user_url(self, config: Mapping[str, Any], user_id: str) -> str:
        return f"{self._graph(config)}/v1.0/users/{quote(user_id, safe='@')}"

    def _set_password(self, target: Target, user_id: str, password: str, *, missing_ok: bool) -> None:
        with target_session(target) as session:
            token = self._token(session, target)
            try:
                response = session.patch(
                    self._user_url(target.config, user_id),
                    json={"passwordProfile": {"forceChangePasswordNextSignIn": False, "password": password}},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=TIMEOUT_SECONDS,
                )
            except (requests.RequestException, outbound.OutboundRefused) as exc:
                raise transport_error("password reset", exc) from None
        if response.status_code == 404 and missing_ok:
            return
        if response.status_code not in (200, 204):
            error = status_error("password reset", response)
            code = _json(response).get("error", {})
            if isinstance(code, dict) and code.get("code"):
                error = ProviderError(f"{error}: {str(code['code'])[:80]}")
                error.retryable = response.status_code not in (401, 403)
            raise error

    def test(self, target: Target) -> None:
        with target_session(target) as session:
            token = self._token(session, target)
            try:
                response = session.get(
                    self._user_url(target.config, str(target.config["userId"])),
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=TIMEOUT_SECONDS,
                )
            except (requests.RequestException, outbound.OutboundRefused) as exc:
                raise transport_error("user lookup", exc) from None
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


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
