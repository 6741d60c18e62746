"""The one seam between Strongroom and the Azure SDK for Key Vault: building a ``SecretClient``
with a ``ClientSecretCredential`` configured our way, and turning SDK exceptions into
``ProviderError``s (wire-protocols.md §2).

Our configuration:
- azure-core's own retries are off (``retry_total=0``; it would retry 429/5xx ten times): the sync
  engine is the one retry layer, with jitter and ``Retry-After``;
- every session goes through ``secrets_app.outbound``: the credential's to the connection's
  authority host only, the vault client's to the vault host only (public addresses, the checked
  address dialled, no redirects, no proxy variables);
- ``connection_verify`` is ``STRONGROOM_SYNC_CA_BUNDLE`` (Django setting or environment variable) when set (a PEM file: a private CA, or the
  test emulators' self-signed certificate), for both the credential and the vault client; otherwise
  the system/certifi store (``REQUESTS_CA_BUNDLE`` is also honoured by requests);
- a custom authority (``authority_host``) turns MSAL instance discovery off (it would call
  login.microsoftonline.com for an unknown host);
- ``verify_challenge_resource`` stays on except for vault hosts listed in
  ``STRONGROOM_SYNC_ALLOWED_HOSTS`` (private endpoints, the emulator), which cannot end in
  ``.vault.azure.net``; public vault URLs must end in a known Key Vault suffix anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings

from secrets_app import outbound
from syncs.providers.base import AuthError, ConfigError, ProviderError, TransientError
from syncs.providers.entra import client_secret_credential, connection_verify, pinned_transport

T = TypeVar("T")


def _timeouts() -> dict[str, Any]:
    timeout = settings.STRONGROOM_SYNC_HTTP_TIMEOUT
    return {"connection_timeout": timeout, "read_timeout": timeout}


def credential_for(method: str, credentials: dict[str, str], config: dict[str, Any]) -> Any:
    """The Entra credential; its client secret can reach only the connection's authority host."""
    if method != "client_secret":
        raise ConfigError(f"unknown connection method {method!r}")
    return client_secret_credential(config, credentials["client_secret"])


def secret_client(vault_url: str, credential: Any, *, verify_challenge_resource: bool) -> Any:
    """A SecretClient whose session can reach only *vault_url*'s host (the Key Vault token it
    carries goes nowhere else), with no redirects and no retries."""
    from azure.keyvault.secrets import SecretClient

    return SecretClient(
        vault_url,
        credential,
        verify_challenge_resource=verify_challenge_resource,
        connection_verify=connection_verify(),
        transport=pinned_transport([vault_url]),
        retry_total=0,
        permit_redirects=False,
        **_timeouts(),
    )


def _retry_after(exc: Any) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def call(what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one SDK call; map failures to ProviderError with a safe message (status, error code,
    the operation — never a request body or value). A refusal of the outbound guard (a host
    outside the binding, a non-public address, a redirect) is a permanent ConfigError naming the host."""
    try:
        return fn(*args, **kwargs)
    except ProviderError:
        raise
    except Exception as exc:
        mapped = _mapped(what, exc)
        if mapped is None:
            raise
        raise mapped from (None if isinstance(mapped, ConfigError) and outbound.refusal_in(exc) else exc)


def _mapped(what: str, exc: Exception) -> ProviderError | None:
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )

    refusal = outbound.refusal_in(exc)
    if refusal is not None:
        return ConfigError(f"refused to contact {refusal.host} while trying to {what}: {refusal.reason}")
    if isinstance(exc, ClientAuthenticationError):
        status = getattr(exc, "status_code", None)
        return AuthError(
            f"Key Vault or Microsoft Entra ID refused the credentials while trying to {what}",
            status=status if status in (401, 403) else 401,
        )
    if isinstance(exc, HttpResponseError):
        status = exc.status_code or 0
        code = ""
        error = getattr(exc, "error", None)
        if error is not None and getattr(error, "code", None):
            code = f" ({str(error.code)[:60]})"
        if status in (401, 403):
            return AuthError(f"Key Vault refused access ({status}) while trying to {what}{code}", status=status)
        if status in (408, 429) or status >= 500:
            return TransientError(
                f"Key Vault answered {status} while trying to {what}", retry_after=_retry_after(exc), status=status
            )
        return ConfigError(f"Key Vault answered {status} while trying to {what}{code}", status=status)
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return TransientError(f"could not reach Key Vault while trying to {what}")
    if isinstance(exc, ValueError):  # e.g. the SDK's challenge-resource / authority checks
        return ConfigError(f"Key Vault configuration rejected while trying to {what}")
    return None
