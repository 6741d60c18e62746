"""The one seam between Strongroom and the ``azure-devops`` SDK: building a Connection whose every
client is configured our way, and turning SDK exceptions into ``ProviderError``s.

Our configuration of every SDK client (the location client used for discovery included):
- msrest's own retries are off (it retries 5xx three times with its own backoff and ignores
  ``Retry-After``): the sync engine is the one retry layer, with jitter and ``Retry-After``;
- redirects are not followed (a 30x must not lead a credential to another host);
- a response hook records the last status and ``Retry-After``, which the SDK's exceptions lack;
- a 30 s timeout.
The SDK logs request bodies (secret values) at DEBUG: settings keep ``azure.devops`` and
``msrest`` at WARNING.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings

# The SDK computes its disk cache directory at import (wire-protocols.md §1.3): keep it in our
# data directory rather than the worker's home, unless the environment already chose one.
os.environ.setdefault("AZURE_DEVOPS_CACHE_DIR", str(settings.DATA_DIR / "azure-devops-cache"))

from azure.devops.connection import Connection  # type: ignore[import-untyped]  # noqa: E402
from azure.devops.exceptions import (  # type: ignore[import-untyped]  # noqa: E402
    AzureDevOpsAuthenticationError,
    AzureDevOpsClientRequestError,
    AzureDevOpsServiceError,
)
from msrest.authentication import BasicAuthentication, BasicTokenAuthentication  # noqa: E402
from msrest.exceptions import ClientRequestError, DeserializationError, HttpOperationError  # noqa: E402

from syncs.providers.base import AuthError, ConfigError, ProviderError, TransientError  # noqa: E402

ADO_RESOURCE_SCOPE = "499b84ac-1321-427f-aa17-267ca6975798/.default"
T = TypeVar("T")


@dataclass
class LastResponse:
    status: int | None = None
    retry_after: float | None = None
    url: str = ""


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            import datetime

            when = parsedate_to_datetime(value)
            return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())
        except (TypeError, ValueError):
            return None


class GuardedConnection(Connection):
    """A Connection that configures every client it creates (see the module docstring)."""

    def __init__(self, base_url: str, creds: Any) -> None:
        super().__init__(base_url=base_url, creds=creds)
        self.last = LastResponse()
        # The SDK calls this hook for every client, the discovery LocationClient included.
        self.use_fiddler = True

    def _configure_client_for_fiddler(self, client: Any) -> None:
        last = self.last

        def record(response: Any, *args: Any, **kwargs: Any) -> Any:
            last.status = response.status_code
            last.retry_after = _retry_after(response.headers.get("Retry-After"))
            last.url = response.url
            return response

        client.config.retry_policy.retries = 0
        client.config.retry_policy.policy.status_forcelist = []  # a 5xx is answered, not raised by urllib3
        client.config.redirect_policy.allow = False
        client.config.connection.timeout = settings.STRONGROOM_SYNC_HTTP_TIMEOUT
        client.config.hooks.append(record)


def credentials_for(method: str, credentials: dict[str, str], config: dict[str, Any]) -> Any:
    if method == "pat":
        return BasicAuthentication("", credentials["token"])
    if method == "oauth":
        return BasicTokenAuthentication({"access_token": credentials["access_token"]})
    if method == "client_secret":
        from azure.core.exceptions import ClientAuthenticationError
        from azure.identity import ClientSecretCredential

        from syncs.providers.entra import connection_verify

        # The same trust settings as the Key Vault provider (a private CA for a private authority).
        kwargs: dict[str, Any] = {"connection_verify": connection_verify()}
        if config.get("authority_host"):
            kwargs["authority"] = config["authority_host"]
            kwargs["disable_instance_discovery"] = True  # a sovereign cloud / AD FS / local authority
        try:
            token = ClientSecretCredential(
                config["tenant_id"], config["client_id"], credentials["client_secret"], **kwargs
            ).get_token(ADO_RESOURCE_SCOPE)
        except ClientAuthenticationError as exc:
            raise AuthError("Microsoft Entra ID refused the client credentials") from exc
        return BasicTokenAuthentication({"access_token": token.token})
    raise ConfigError(f"unknown connection method {method!r}")


def call(connection: GuardedConnection, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one SDK call; map failures to ProviderError with a safe message (status, ADO type key,
    the operation — never a request body)."""
    connection.last.status = None
    connection.last.retry_after = None
    try:
        return fn(*args, **kwargs)
    except AzureDevOpsAuthenticationError as exc:
        raise AuthError(f"Azure DevOps refused the credentials (401) while trying to {what}", status=401) from exc
    except AzureDevOpsServiceError as exc:
        raise _mapped(connection, what, f"{exc.type_key or 'error'}: {exc.message}") from exc
    except AzureDevOpsClientRequestError as exc:
        if connection.last.status is None:
            raise TransientError(f"could not reach Azure DevOps while trying to {what}") from exc
        raise _mapped(connection, what, "") from exc
    except DeserializationError as exc:
        # A 203 sign-in page: what ADO answers when it does not accept the credentials.
        raise AuthError(f"Azure DevOps answered with a sign-in page while trying to {what}") from exc
    except (ClientRequestError, HttpOperationError) as exc:
        raise TransientError(f"could not reach Azure DevOps while trying to {what}") from exc


def _mapped(connection: GuardedConnection, what: str, detail: str) -> ProviderError:
    status = connection.last.status or 0
    retry_after = connection.last.retry_after
    suffix = f" ({detail[:120]})" if detail else ""
    if status in (401, 403):
        return AuthError(f"Azure DevOps refused access ({status}) while trying to {what}{suffix}", status=status)
    if status == 429 or status == 408 or status >= 500:
        return TransientError(
            f"Azure DevOps answered {status} while trying to {what}", retry_after=retry_after, status=status
        )
    return ConfigError(f"Azure DevOps answered {status} while trying to {what}{suffix}", status=status)
