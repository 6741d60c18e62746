"""Outbound destination checks (security bar E4): where a sync or connection may connect.

A destination URL must be ``https`` and every address its host resolves to must be public
(not loopback, private, link-local — 169.254.169.254 —, multicast, reserved or unspecified).
``STRONGROOM_SYNC_ALLOWED_HOSTS`` lists host names, IPs or CIDRs that are allowed anyway (a
self-hosted Azure DevOps Server on the LAN; the local emulators in tests); those hosts may also use
plain ``http``. The check runs when a connection or sync is saved *and* right before each
connection is made, so a DNS answer that changed since (rebinding) is caught; providers also turn
off redirect following, so a 30x cannot lead to an internal address.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from syncs.providers.base import ConfigError


def _allowed_entries() -> list[str]:
    return [entry.strip().lower() for entry in getattr(settings, "STRONGROOM_SYNC_ALLOWED_HOSTS", []) if entry.strip()]


def _allowlisted(host: str, addresses: list[str]) -> bool:
    entries = _allowed_entries()
    if host.lower().rstrip(".") in entries:
        return True
    for entry in entries:
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if addresses and all(ipaddress.ip_address(address) in network for address in addresses):
            return True
    return False


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"cannot resolve host {host}") from exc
    return sorted({str(info[4][0]).split("%")[0] for info in infos})


def check_destination_url(url: str, *, field: str = "url", resolve: bool = True) -> str:
    """Return *url* normalised (no trailing slash) or raise ``ConfigError`` naming *field*."""
    url = (url or "").strip().rstrip("/")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"{field}: not a valid URL") from exc
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigError(f"{field}: must be an https:// URL")
    if parts.username or parts.password:
        raise ConfigError(f"{field}: must not contain a user name or password")
    if parts.query or parts.fragment:
        raise ConfigError(f"{field}: must not have a query string or fragment")
    if not resolve:
        return url
    addresses = _resolve(host, port or (443 if parts.scheme == "https" else 80))
    if _allowlisted(host, addresses):
        return url
    if parts.scheme != "https":
        raise ConfigError(f"{field}: must be an https:// URL")
    for address in addresses:
        ip = ipaddress.ip_address(address)
        if not ip.is_global or ip.is_multicast:
            raise ConfigError(f"{field}: {host} resolves to a non-public address, which is not allowed")
    return url
