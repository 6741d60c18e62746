"""Outbound HTTP for the providers that talk to an API (AWS, Microsoft Graph, RabbitMQ's management
API): the transport of ``secrets_app.outbound`` (no redirects, no proxies or ``.netrc``, the CA
bundle from ``REQUESTS_CA_BUNDLE``), but dialling the addresses the **dynamic target check**
allowed (``Target.addresses``) instead of the product-wide public-address policy: where a dynamic
secret may connect is the organization's allowlist, decided by its admins.

A host the provider did not declare in ``endpoints`` is refused: a credential cannot be carried to
a host named by an answer or an SDK fallback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from urllib3.connectionpool import HTTPConnectionPool

from dynamic.providers.base import ProviderError, Target
from secrets_app import outbound

TIMEOUT_SECONDS = 15


class TargetAdapter(outbound.PinnedAdapter):
    """``outbound.PinnedAdapter`` whose address check is the dynamic target check, done already."""

    def __init__(self, addresses: Mapping[str, str], *, ca_data: str | None = None, **kwargs: Any) -> None:
        self.addresses = dict(addresses)
        self.ca_data = ca_data or None
        super().__init__(None, **kwargs)

    def get_connection_with_tls_context(
        self, request: Any, verify: Any, proxies: Any = None, cert: Any = None
    ) -> HTTPConnectionPool:
        scheme, host, port = outbound.split_url(request.url)
        address = self.addresses.get(host)
        if address is None:
            raise outbound.OutboundRefused(host, "not an endpoint of this dynamic secret")
        _, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        if scheme == "https" and self.ca_data and pool_kwargs.get("cert_reqs") == "CERT_REQUIRED":
            # The target's own CA (PEM from its settings) replaces the bundle for this session.
            pool_kwargs.pop("ca_certs", None)
            pool_kwargs.pop("ca_cert_dir", None)
            pool_kwargs["ca_cert_data"] = self.ca_data
        key = (scheme, host, port, address, tuple(sorted((k, str(v)) for k, v in pool_kwargs.items())))
        with self._pools_lock:
            pool = self._pools.get(key)
            if pool is None:
                if scheme == "https":
                    pool = outbound._PinnedHTTPSConnectionPool(host, port, pinned_ip=address, **pool_kwargs)
                else:
                    pool = outbound._PinnedHTTPConnectionPool(host, port, pinned_ip=address)
                self._pools[key] = pool
        return pool


def target_session(target: Target, *, ca: str | None = None) -> requests.Session:
    """A session that reaches only the target's checked endpoints, at their checked addresses.
    *ca*: PEM of the CA that signs the target's certificate (instead of the system bundle)."""
    session = requests.Session()
    session.trust_env = False
    session.max_redirects = 0
    adapter = TargetAdapter(target.addresses, ca_data=ca)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def pin_botocore_client(client: Any, target: Target) -> None:
    """Make a boto3 client dial the target's checked addresses and ignore proxy variables.

    botocore has no public seam for this: its ``URLLib3Session`` keeps a urllib3 ``PoolManager``
    whose pool classes are swapped for botocore's own, with a connection that dials the checked
    address (Host, SNI and the certificate check keep the name) and refuses undeclared hosts.
    """
    from botocore.awsrequest import (
        AWSHTTPConnection,
        AWSHTTPConnectionPool,
        AWSHTTPSConnection,
        AWSHTTPSConnectionPool,
    )
    from botocore.httpsession import ProxyConfiguration

    addresses = dict(target.addresses)

    class PinnedConnection(outbound._PinnedConnectionMixin, AWSHTTPConnection):
        pass

    class PinnedTLSConnection(outbound._PinnedConnectionMixin, AWSHTTPSConnection):
        pass

    def _address(host: str) -> str:
        address = addresses.get(host.strip("[]").lower())
        if address is None:
            raise outbound.OutboundRefused(host, "not an endpoint of this dynamic secret")
        return address

    class PinnedPool(AWSHTTPConnectionPool):
        ConnectionCls = PinnedConnection

        def __init__(self, host: str, *args: Any, **kwargs: Any) -> None:
            super().__init__(host, *args, pinned_ip=_address(host), **kwargs)

    class PinnedTLSPool(AWSHTTPSConnectionPool):
        ConnectionCls = PinnedTLSConnection

        def __init__(self, host: str, *args: Any, **kwargs: Any) -> None:
            super().__init__(host, *args, pinned_ip=_address(host), **kwargs)

    http_session = client._endpoint.http_session
    http_session._proxy_config = ProxyConfiguration()  # never through a proxy from the environment
    http_session._manager.pool_classes_by_scheme = {"http": PinnedPool, "https": PinnedTLSPool}
    http_session._manager.clear()


def status_error(what: str, response: requests.Response) -> ProviderError:
    """A ProviderError naming the call and the HTTP status (never a body: it may echo a secret)."""
    error = ProviderError(f"{what}: HTTP {response.status_code}")
    if response.status_code in (401, 403):
        error.retryable = False  # refused credentials: retrying cannot help (DESIGN §6)
    return error


def transport_error(what: str, exc: BaseException) -> ProviderError:
    refusal = outbound.refusal_in(exc)
    if refusal is not None:
        return ProviderError(f"{what}: {refusal}")
    return ProviderError(f"{what}: connection failed ({type(exc).__name__})")
