"""The one seam between Strongroom and the Azure SDK for Key Vault: building a ``SecretClient``
with a ``ClientSecretCredential`` configured our way, and turning SDK exceptions into
``ProviderError``s (wire-protocols.md §2).

Our configuration:
- azure-core's own retries are off (``retry_total=0``; it would retry 429/5xx ten times): the sync
  engine is the one retry layer, with jitter and ``Retry-After``;
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

from syncs.providers.base import AuthError, ConfigError, TransientError
from syncs.providers.entra import connection_verify

T = TypeVar("T")


def _timeouts() -> dict[str, Any]:
    timeout = settings.STRONGROOM_SYNC_HTTP_TIMEOUT
    return {"connection_timeout": timeout, "read_timeout": timeout}


def credential_for(method: str, credentials: dict[str, str], config: dict[str, Any]) -> Any:
    if method != "client_secret":
        raise ConfigError(f"unknown connection method {method!r}")
    from azure.identity import ClientSecretCredential

    kwargs: dict[str, Any] = {"connection_verify": connection_verify(), **_timeouts()}
    if config.get("authority_host"):
        kwargs["authority"] = config["authority_host"]
        kwargs["disable_instance_discovery"] = True
    return ClientSecretCredential(config["tenant_id"], config["client_id"], credentials["client_secret"], **kwargs)


def secret_client(vault_url: str, credential: Any, *, verify_challenge_resource: bool) -> Any:
    from azure.keyvault.secrets import SecretClient

    return SecretClient(
        vault_url,
        credential,
        verify_challenge_resource=verify_challenge_resource,
        connection_verify=connection_verify(),
        retry_total=0,
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
    the operation — never a request body or value)."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )

    try:
        return fn(*args, **kwargs)
    except ClientAuthenticationError as exc:
        status = getattr(exc, "status_code", None)
        return_status = status if status in (401, 403) else 401
        raise AuthError(
            f"Key Vault or Microsoft Entra ID refused the credentials while trying to {what}", status=return_status
        ) from exc
    except HttpResponseError as exc:
        status = exc.status_code or 0
        code = ""
        error = getattr(exc, "error", None)
        if error is not None and getattr(error, "code", None):
            code = f" ({str(error.code)[:60]})"
        if status in (401, 403):
            raise AuthError(f"Key Vault refused access ({status}) while trying to {what}{code}", status=status) from exc
        if status in (408, 429) or status >= 500:
            raise TransientError(
                f"Key Vault answered {status} while trying to {what}", retry_after=_retry_after(exc), status=status
            ) from exc
        raise ConfigError(f"Key Vault answered {status} while trying to {what}{code}", status=status) from exc
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise TransientError(f"could not reach Key Vault while trying to {what}") from exc
    except ValueError as exc:  # e.g. the SDK's challenge-resource / authority checks
        raise ConfigError(f"Key Vault configuration rejected while trying to {what}") from exc
