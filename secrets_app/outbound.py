"""The one outbound-HTTP guard (security bar E4): every request Strongroom makes to a URL that a
person configured — sync destinations, Entra/Key Vault/Azure DevOps, JWKS and OIDC discovery,
Kubernetes TokenReview, and the notifications and audit streams to come — goes through here.

What it guarantees:

- **Public addresses only.** The host is resolved once per connection and every address must be
  public: loopback, private (RFC 1918, ULA), link-local (169.254.169.254), CGNAT 100.64/10,
  multicast, reserved, unspecified, documentation/benchmark ranges, and every IPv6 form that
  embeds an IPv4 address (IPv4-mapped/-compatible, NAT64 ``64:ff9b::/96`` and ``64:ff9b:1::/48``,
  6to4 ``2002::/16``, Teredo ``2001::/32``) are refused. Numeric host spellings other than the
  canonical dotted quad (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``) are refused outright.
- **Connect to the checked address.** :class:`PinnedAdapter` dials exactly the address it checked,
  while the Host header, TLS SNI and certificate check keep the name: a DNS answer that changes
  between the check and the connect (rebinding) cannot redirect the connection.
- **Credentials stay with their host.** A session made with ``bound_to`` refuses any host outside
  that set, whatever a caller, an SDK fallback or a redirect says.
- **No redirects.** A 3xx answer is refused at the transport (never followed, by any client).
- **No ambient configuration.** Proxy variables and ``.netrc`` are ignored (``trust_env`` off): a
  proxy would defeat the address check and ``.netrc`` could attach credentials. ``REQUESTS_CA_BUNDLE``
  / ``CURL_CA_BUNDLE`` still name the CA bundle when the caller asks for default verification.

Escape hatch: ``STRONGROOM_OUTBOUND_ALLOWED_HOSTS`` (``STRONGROOM_SYNC_ALLOWED_HOSTS`` is read too,
its older name) lists host names, IPs or CIDRs that may be non-public (an Azure DevOps Server on
the LAN, the local emulators in tests); only those may use plain ``http``.

Failures raise :class:`OutboundRefused` (not a ``requests`` exception, so SDKs pass it through
unwrapped or as the cause of their own error: :func:`refusal_in` finds it).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as urllib3_connection

Resolver = Callable[[str, int], list[str]]
UNRESOLVABLE = "the host name does not resolve"
HostPort = tuple[str, int]

# Ranges ``ipaddress.is_global`` lets through but that reach (or embed) internal addresses.
_REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "0.0.0.0/8",
        "100.64.0.0/10",  # CGNAT
        "192.0.0.0/24",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/96",  # IPv4-compatible
        "::ffff:0:0/96",  # IPv4-mapped
        "64:ff9b::/96",  # NAT64 well-known prefix
        "64:ff9b:1::/48",  # NAT64 local-use
        "2001::/32",  # Teredo
        "2002::/16",  # 6to4
        "fec0::/10",  # site-local (deprecated, still routed internally)
        "ff00::/8",
    )
)


class OutboundRefused(Exception):
    """An outbound request was refused before (or instead of) reaching *host*. ``reason`` says why
    in words fit for an administrator; it never contains a credential."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"outbound request to {host} refused: {reason}")
        self.host = host
        self.reason = reason


# --- resolving --------------------------------------------------------------------------------------


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]).split("%")[0] for info in infos})


_resolver: Resolver = _system_resolver
_resolver_lock = threading.Lock()


@contextlib.contextmanager
def use_resolver(resolver: Resolver) -> Iterator[None]:
    """Answer DNS with *resolver* for the duration (tests stand in for DNS here, at the wire)."""
    global _resolver
    with _resolver_lock:
        previous, _resolver = _resolver, resolver
    try:
        yield
    finally:
        with _resolver_lock:
            _resolver = previous


def resolve(host: str, port: int) -> list[str]:
    """The addresses *host* resolves to; ``OutboundRefused`` when it does not resolve."""
    try:
        addresses = _resolver(host, port)
    except (OSError, UnicodeError):
        raise OutboundRefused(host, UNRESOLVABLE) from None
    if not addresses:
        raise OutboundRefused(host, UNRESOLVABLE)
    return addresses


# --- policy -----------------------------------------------------------------------------------------


def allowed_entries() -> list[str]:
    entries = list(getattr(settings, "STRONGROOM_OUTBOUND_ALLOWED_HOSTS", []) or [])
    entries += list(getattr(settings, "STRONGROOM_SYNC_ALLOWED_HOSTS", []) or [])
    return [str(entry).strip().lower() for entry in entries if str(entry).strip()]


def allowlisted(host: str, addresses: Iterable[str]) -> bool:
    """True when the escape hatch names *host*, or a CIDR/IP holding every one of *addresses*."""
    entries = allowed_entries()
    host = host.lower().rstrip(".")
    if host in entries or f"[{host}]" in entries:
        return True
    addresses = list(addresses)
    for entry in entries:
        try:
            network = ipaddress.ip_network(entry.strip("[]"), strict=False)
        except ValueError:
            continue
        if addresses and all(ipaddress.ip_address(address) in network for address in addresses):
            return True
    return False


def address_refusal(address: str) -> str | None:
    """Why *address* may not be dialled, or None for a public unicast address."""
    ip = ipaddress.ip_address(address)
    if any(ip.version == network.version and ip in network for network in _REFUSED_NETWORKS):
        return f"{address} is not a public address"
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_link_local or ip.is_loopback:
        return f"{address} is not a public address"
    return None


def _non_canonical_ipv4(host: str) -> bool:
    """``2130706433``, ``0x7f.1``, ``127.1``, ``0177.0.0.1``: forms the C resolver reads as an
    IPv4 address although they are not its canonical dotted quad."""
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return True
    return False


def split_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; ``OutboundRefused`` for anything else."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError:
        raise OutboundRefused(str(url)[:100], "not a valid URL") from None
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise OutboundRefused(host or str(url)[:100], "must be an https:// URL")
    if parts.username or parts.password:
        raise OutboundRefused(host, "must not contain a user name or password")
    if _non_canonical_ipv4(host):
        raise OutboundRefused(host, "an IP address must be written as a plain dotted quad")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def host_of(url: str) -> HostPort:
    _, host, port = split_url(url)
    return host, port


def checked_address(scheme: str, host: str, port: int) -> str:
    """Resolve *host* once and return the address to dial, or raise ``OutboundRefused``."""
    addresses = resolve(host, port)
    if allowlisted(host, addresses):
        return addresses[0]
    if scheme != "https":
        raise OutboundRefused(host, "must be an https:// URL")
    for address in addresses:
        reason = address_refusal(address)
        if reason is not None:
            raise OutboundRefused(host, f"resolves to a non-public address ({reason})")
    return addresses[0]


def check_url(url: str, *, unresolvable_ok: bool = False) -> str:
    """*url* stripped when it may be used (syntax, scheme and resolved addresses), else
    ``OutboundRefused``. Run at save time; :class:`PinnedAdapter` checks again at connect time.
    *unresolvable_ok*: a name that does not resolve (yet, or from here) is accepted when it is https
    — nothing can be dialled until it resolves, and then to a checked address only."""
    scheme, host, port = split_url(url)
    try:
        checked_address(scheme, host, port)
    except OutboundRefused as refusal:
        if not unresolvable_ok or refusal.reason != UNRESOLVABLE:
            raise
        if scheme != "https" and not allowlisted(host, []):
            raise OutboundRefused(host, "must be an https:// URL") from None
    return url.strip()


# --- transport --------------------------------------------------------------------------------------


class _PinnedConnectionMixin:
    """Dial ``pinned_ip`` instead of resolving ``host`` again; Host, SNI and the certificate
    check still use ``host``."""

    _pinned_ip: str
    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any

    def __init__(self, *args: Any, pinned_ip: str, **kwargs: Any) -> None:
        self._pinned_ip = pinned_ip
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        try:
            return urllib3_connection.create_connection(
                (self._pinned_ip, self.port),
                self.timeout,
                source_address=self.source_address,
                socket_options=self.socket_options,
            )
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[arg-type]
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out") from exc
        except OSError as exc:
            raise NewConnectionError(self, f"Failed to establish a new connection: {exc}") from exc  # type: ignore[arg-type]


class _PinnedHTTPConnection(_PinnedConnectionMixin, HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnectionMixin, HTTPSConnection):
    pass


class _PinnedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


class PinnedAdapter(HTTPAdapter):
    """A requests adapter that checks each request's host (binding, address policy) and dials the
    address it checked; a 3xx answer raises ``OutboundRefused`` instead of being returned."""

    def __init__(self, bound_to: Iterable[HostPort] | None = None, **kwargs: Any) -> None:
        self.bound_to = frozenset(bound_to) if bound_to is not None else None
        self._pools: dict[tuple[Any, ...], HTTPConnectionPool] = {}
        self._pools_lock = threading.Lock()
        super().__init__(**kwargs)

    def get_connection_with_tls_context(
        self, request: Any, verify: Any, proxies: Any = None, cert: Any = None
    ) -> HTTPConnectionPool:
        scheme, host, port = split_url(request.url)
        if self.bound_to is not None and (host, port) not in self.bound_to:
            raise OutboundRefused(host, "this credential is bound to " + _describe(self.bound_to))
        address = checked_address(scheme, host, port)
        _, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        key = (scheme, host, port, address, tuple(sorted((k, str(v)) for k, v in pool_kwargs.items())))
        with self._pools_lock:
            pool = self._pools.get(key)
            if pool is None:
                pool_class = _PinnedHTTPSConnectionPool if scheme == "https" else _PinnedHTTPConnectionPool
                if scheme != "https":
                    pool_kwargs = {}
                pool = pool_class(host, port, maxsize=self._pool_maxsize, pinned_ip=address, **pool_kwargs)
                self._pools[key] = pool
        return pool

    def send(
        self,
        request: Any,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        if verify is True:
            # trust_env is off (no proxies, no .netrc), but a CA bundle named the usual way still counts.
            verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        # Never through a proxy: the address checked must be the address dialled.
        response = super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies={})
        if response.is_redirect:
            host = split_url(request.url)[1]
            response.close()
            raise OutboundRefused(
                host, f"answered with a redirect (HTTP {response.status_code}), which is never followed"
            )
        return response

    def close(self) -> None:
        with self._pools_lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
        super().close()


def _describe(bound_to: Iterable[HostPort]) -> str:
    return ", ".join(sorted(host if port in (80, 443) else f"{host}:{port}" for host, port in bound_to))


def session(*, bound_to: Iterable[str] | None = None) -> requests.Session:
    """A ``requests.Session`` whose every request goes through :class:`PinnedAdapter`.
    *bound_to*: URLs whose (host, port) are the only ones this session may reach (pass the URLs a
    credential is fixed to); None = any host the address policy allows."""
    bound = {host_of(url) for url in bound_to} if bound_to is not None else None
    outbound = requests.Session()
    outbound.trust_env = False
    outbound.max_redirects = 0
    adapter = PinnedAdapter(bound)
    outbound.mount("https://", adapter)
    outbound.mount("http://", adapter)
    return outbound


def pin_session(target: requests.Session, adapter: PinnedAdapter) -> None:
    """Make an SDK's own session use *adapter* (idempotent)."""
    target.trust_env = False
    if target.adapters.get("https://") is not adapter:
        target.mount("https://", adapter)
        target.mount("http://", adapter)


def refusal_in(exc: BaseException | None) -> OutboundRefused | None:
    """The ``OutboundRefused`` behind *exc* (SDKs wrap transport errors), or None."""
    pending: list[BaseException] = [exc] if exc is not None else []
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OutboundRefused):
            return current
        for link in (
            getattr(current, "inner_exception", None),
            getattr(current, "error", None),
            current.__cause__,
            current.__context__,
            *(arg for arg in current.args if isinstance(arg, BaseException)),
        ):
            if isinstance(link, BaseException):
                pending.append(link)
    return None


__all__ = [
    "OutboundRefused",
    "PinnedAdapter",
    "address_refusal",
    "allowlisted",
    "check_url",
    "checked_address",
    "host_of",
    "pin_session",
    "refusal_in",
    "resolve",
    "session",
    "split_url",
    "use_resolver",
]
