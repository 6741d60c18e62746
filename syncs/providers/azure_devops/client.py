"""The one seam between Strongroom and the ``azure-devops`` SDK: building a Connection whose every
client is configured our way, and turning SDK exceptions into ``ProviderError``s.

Our configuration of every SDK client (the location client used for discovery included):
- msrest's own retries are off (it retries 5xx three times with its own backoff and ignores
  ``Retry-After``): the sync engine is the one retry layer, with jitter and ``Retry-After``;
- the credential is bound to the connection's host: every client's session goes through
  ``secrets_app.outbound.PinnedAdapter`` bound to the organization URL's host (public addresses
  only, the checked address dialled, no redirects); a ResourceAreas answer pointing an area at
  another host, and the SDK's fallback to the deployment-level location service
  (``app.vssps.visualstudio.com``) when the organization does not list an area, are refused
  before any request: a permanent ``ConfigError`` naming the refused host;
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

from secrets_app import outbound

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
    """A Connection that configures every client it creates (see the module docstring). The
    credential can reach only *base_url*'s host."""

    def __init__(self, base_url: str, creds: Any) -> None:
        super().__init__(base_url=base_url, creds=creds)
        self.last = LastResponse()
        self.bound_to = {outbound.host_of(base_url)}
        self.adapter = outbound.PinnedAdapter(self.bound_to)
        # The SDK calls this hook for every client, the discovery LocationClient included.
        self.use_fiddler = True

    def _get_url_for_client_instance(self, client_class: Any) -> str:
        url = str(super()._get_url_for_client_instance(client_class))
        if outbound.host_of(url) not in self.bound_to:
            raise outbound.OutboundRefused(
                outbound.host_of(url)[0], "the organization placed this API on another host than the connection's"
            )
        return url

    def _get_deployment_resource_area_from_sps(self, resource_id: str) -> Any:
        # The SDK would ask the deployment-level location service, with our credential, for an
        # area the organization does not list: that is another host than the connection's.
        from azure.devops.connection import sps_url

        raise outbound.OutboundRefused(
            outbound.host_of(sps_url)[0],
            "the organization does not list this API area and the SDK's fallback location service is "
            "another host than the connection's",
        )

    def _configure_client_for_fiddler(self, client: Any) -> None:
        last = self.last
        adapter = self.adapter

        def pin(session: Any, global_config: Any, local_config: Any, **kwargs: Any) -> Any:
            outbound.pin_session(session, adapter)
            return kwargs

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
        client.config.proxies.use_env_settings = False
        client.config.session_configuration_callback = pin


def credentials_for(method: str, credentials: dict[str, str], config: dict[str, Any]) -> Any:
    if method == "pat":
        return BasicAuthentication("", credentials["token"])
    if method == "oauth":
        return BasicTokenAuthentication({"access_token": credentials["access_token"]})
    if method == "client_secret":
        from azure.core.exceptions import AzureError, ClientAuthenticationError

        from syncs.providers.entra import client_secret_credential

        # The same trust settings as the Key Vault provider (a private CA for a private authority);
        # the client secret can reach only the connection's authority host.
        try:
            token = client_secret_credential(config, credentials["client_secret"]).get_token(ADO_RESOURCE_SCOPE)
        except (ClientAuthenticationError, AzureError, outbound.OutboundRefused) as exc:
            refusal = outbound.refusal_in(exc)
            if refusal is not None:
                raise refused(refusal, "get a Microsoft Entra ID token") from None
            if isinstance(exc, ClientAuthenticationError):
                raise AuthError("Microsoft Entra ID refused the client credentials") from exc
            raise TransientError("could not reach Microsoft Entra ID to get a token") from exc
        return BasicTokenAuthentication({"access_token": token.token})
    raise ConfigError(f"unknown connection method {method!r}")


def call(connection: GuardedConnection, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one SDK call; map failures to ProviderError with a safe message (status, ADO type key,
    the operation — never a request body)."""
    connection.last.status = None
    connection.last.retry_after = None
    try:
        return _call(connection, what, fn, *args, **kwargs)
    except ProviderError:
        raise
    except Exception as exc:
        refusal = outbound.refusal_in(exc)
        if refusal is None:
            raise
        raise refused(refusal, what) from None


def refused(refusal: outbound.OutboundRefused, what: str) -> ConfigError:
    """A permanent failure naming the host the credential was not sent to."""
    return ConfigError(f"refused to contact {refusal.host} while trying to {what}: {refusal.reason}")


def _call(connection: GuardedConnection, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return fn(*args, **kwargs)
    except AzureDevOpsAuthenticationError as exc:
        raise AuthError(f"Azure DevOps refused the credentials (401) while trying to {what}", status=401) from exc
    except AzureDevOpsServiceError as exc:
        raise _mapped(connection, what, f"{exc.type_key or 'error'}: {exc.message}") from exc
    except AzureDevOpsClientRequestError as exc:
        if outbound.refusal_in(exc) is not None:
            raise
        if connection.last.status is None:
            raise TransientError(f"could not reach Azure DevOps while trying to {what}") from exc
        raise _mapped(connection, what, "") from exc
    except DeserializationError as exc:
        # A 203 sign-in page: what ADO answers when it does not accept the credentials.
        raise AuthError(f"Azure DevOps answered with a sign-in page while trying to {what}") from exc
    except (ClientRequestError, HttpOperationError) as exc:
        if outbound.refusal_in(exc) is not None:
            raise
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
