"""Talking to Microsoft Entra ID and Microsoft Graph, for every part of Strongroom that signs in as
an application: the dynamic provider of this folder (a user's password) and the rotation kind of
application client secrets (``rotation.kinds.azure_client_secret``).

- The token endpoint (``authorityUrl``, default ``https://login.microsoftonline.com``) and Graph
  (``graphUrl``, default ``https://graph.microsoft.com``; national clouds have their own) are the
  two endpoints a configuration declares (``entra_endpoints``): both pass the organization's target
  allowlist and are dialled at the checked addresses through ``dynamic.providers.http``.
- Errors are ``ProviderError`` whose text names the call, the HTTP status and at most Graph's error
  *code* (never a body or message: they can echo what was sent).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

import requests

from dynamic.providers.base import PluginFieldError, ProviderError
from dynamic.providers.http import TIMEOUT_SECONDS, status_error, transport_error
from secrets_app import outbound

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
DEFAULT_GRAPH = "https://graph.microsoft.com"
ID_FORBIDDEN = "/?#%\\ "


class TokenRefused(ProviderError):
    """The token endpoint refused the client (``invalid_client``: wrong, removed or expired secret;
    ``unauthorized_client``: unknown client id). ``code`` is the OAuth error."""

    retryable = False

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def authority_url(config: Mapping[str, Any]) -> str:
    return str(config.get("authorityUrl") or DEFAULT_AUTHORITY)


def graph_url(config: Mapping[str, Any]) -> str:
    return str(config.get("graphUrl") or DEFAULT_GRAPH)


def endpoint_of(url: str) -> tuple[str, int, str]:
    """(host, port, "") of *url* for the target check; empty when the URL cannot be dialled."""
    try:
        _, host, port = outbound.split_url(url)
    except outbound.OutboundRefused:
        return ("", 0, "")
    return (host, port, "")


def entra_endpoints(config: Mapping[str, Any]) -> list[tuple[str, int, str]]:
    """Graph first (the provider's ``endpoint``), then the token endpoint."""
    return [endpoint_of(graph_url(config)), endpoint_of(authority_url(config))]


def clean_entra_config(cleaned: dict[str, Any], *, ids: Iterable[str]) -> None:
    """Check (in place) the optional ``authorityUrl``/``graphUrl`` (dialable, no trailing slash)
    and that each of *ids* is an ID that cannot change the path it is put in. PluginFieldError
    naming the field otherwise."""
    for name in ("authorityUrl", "graphUrl"):
        if cleaned.get(name):
            try:
                outbound.split_url(cleaned[name])
            except outbound.OutboundRefused as exc:
                raise PluginFieldError(f"config.{name}", exc.reason) from None
            cleaned[name] = cleaned[name].rstrip("/")
    for name in ids:
        if any(char in str(cleaned.get(name) or "") for char in ID_FORBIDDEN):
            raise PluginFieldError(f"config.{name}", "must be an ID (no / ? # % or spaces)")


def response_json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def client_credentials_token(
    session: requests.Session,
    *,
    config: Mapping[str, Any],
    client_id: str,
    client_secret: str,
    check: str,
) -> str:
    """An application token for Graph (client-credentials grant, scope ``<graph>/.default``) in
    the tenant ``config["tenantId"]``. ``TokenRefused`` (its text says to check *check*) when the
    endpoint refuses the client; other failures are ordinary ``ProviderError``."""
    url = f"{authority_url(config)}/{quote(str(config['tenantId']), safe='')}/oauth2/v2.0/token"
    try:
        response = session.post(
            url,
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": client_secret,
                "scope": f"{graph_url(config)}/.default",
            },
            timeout=TIMEOUT_SECONDS,
        )
    except (requests.RequestException, outbound.OutboundRefused) as exc:
        raise transport_error("token request", exc) from None
    if response.status_code != 200:
        code = response_json(response).get("error")
        if code in ("invalid_client", "unauthorized_client"):
            raise TokenRefused(f"token request: {code} (check {check})", str(code))
        raise status_error("token request", response)
    token = response_json(response).get("access_token")
    if not isinstance(token, str) or not token:
        raise ProviderError("token request: the answer has no access_token")
    return token


def graph_request(
    session: requests.Session, method: str, url: str, *, what: str, token: str, body: Any = None
) -> requests.Response:
    """One Graph call with the bearer *token*; a transport failure is a ProviderError naming *what*."""
    try:
        return session.request(
            method,
            url,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT_SECONDS,
        )
    except (requests.RequestException, outbound.OutboundRefused) as exc:
        raise transport_error(what, exc) from None


def graph_error(what: str, response: requests.Response) -> ProviderError:
    """``status_error`` plus Graph's error code when the answer has one (401/403 are final)."""
    error = status_error(what, response)
    code = response_json(response).get("error", {})
    if isinstance(code, dict) and code.get("code"):
        error = ProviderError(f"{error}: {str(code['code'])[:80]}")
        error.retryable = response.status_code not in (401, 403)
    return error
