"""Where dynamic secrets may connect: every connection (test on save, lease, renewal, revocation)
passes :func:`target_address` first and dials the address it returns.

- The organization's **allowlist** (host names, IPs, CIDRs; empty by default: nothing allowed)
  must name the host or hold every address it resolves to. The product-wide outbound escape hatch
  does not count: database targets are allowed per organization, by its admins.
- **Link-local** addresses (169.254.0.0/16, fe80::/10: cloud metadata services) are always refused.
- **Strongroom's own** database (same server *and* database name) and Redis (same server) are
  always refused, whatever the allowlist says: a dynamic secret must never mint users in the store
  of the secrets manager itself.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.conf import settings

from dynamic.models import TargetAllowlist
from secrets_app import outbound

MAX_ENTRIES = 200
_HOST_RE = re.compile(r"^(?=.{1,253}\Z)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\Z")


class TargetRefused(Exception):
    """A connection was refused before it was made. ``str()`` names the host, never a credential."""


def _addresses(host: str, port: int) -> list[str]:
    try:
        return outbound.resolve(host, port)
    except outbound.OutboundRefused as exc:
        raise TargetRefused(f"{host}: {exc.reason}") from None


def clean_entries(entries: Iterable[object]) -> list[str]:
    """Allowlist entries normalised (lower case, stripped); ValueError naming the bad entry."""
    cleaned: list[str] = []
    for index, raw in enumerate(entries):
        entry = str(raw or "").strip().lower().rstrip(".")
        if not entry:
            continue
        try:
            if "/" in entry:
                ipaddress.ip_network(entry, strict=False)
            else:
                ipaddress.ip_address(entry.strip("[]"))
        except ValueError:
            if "/" in entry:
                raise ValueError(f"entries[{index}]: not a valid CIDR") from None
            if not _HOST_RE.match(entry):
                raise ValueError(f"entries[{index}]: not a host name, IP address or CIDR") from None
        cleaned.append(entry)
    if len(cleaned) > MAX_ENTRIES:
        raise ValueError(f"entries: at most {MAX_ENTRIES} entries")
    return list(dict.fromkeys(cleaned))


def allowlist_entries(organization_id: int) -> list[str]:
    row = TargetAllowlist.objects.filter(organization_id=organization_id).only("entries").first()
    return list(row.entries) if row is not None else []


def _allowed(host: str, addresses: list[str], entries: list[str]) -> bool:
    host = host.lower().rstrip(".")
    if host in entries:
        return True
    for entry in entries:
        try:
            network = ipaddress.ip_network(entry.strip("[]"), strict=False)
        except ValueError:
            continue
        if all(ipaddress.ip_address(address) in network for address in addresses):
            return True
    return False


def _own_endpoints() -> list[tuple[str, int, str | None]]:
    """(host, port, database or None for "any") of the servers Strongroom itself uses."""
    own: list[tuple[str, int, str | None]] = []
    for alias in settings.DATABASES.values():
        engine = str(alias.get("ENGINE", ""))
        if "postgresql" in engine or "mysql" in engine:
            default_port = 5432 if "postgresql" in engine else 3306
            host = str(alias.get("HOST") or "127.0.0.1")
            if host.startswith("/"):
                host = "127.0.0.1"  # a Unix socket: the local server
            own.append((host, int(alias.get("PORT") or default_port), str(alias.get("NAME") or "")))
            test_name = (alias.get("TEST") or {}).get("NAME")
            if test_name:
                own.append((host, int(alias.get("PORT") or default_port), str(test_name)))
    for url in (getattr(settings, "REDIS_URL", None), getattr(settings, "CELERY_BROKER_URL", None)):
        if url and str(url).startswith(("redis://", "rediss://")):
            parts = urlsplit(str(url))
            own.append((parts.hostname or "127.0.0.1", parts.port or 6379, None))
    return own


def _is_own(addresses: list[str], port: int, database: str) -> bool:
    from django.db import connection

    current_database = str(connection.settings_dict.get("NAME") or "")
    for host, own_port, own_database in _own_endpoints():
        if own_port != port:
            continue
        try:
            own_addresses = set(_addresses(host, own_port))
        except TargetRefused:
            continue
        if host in ("127.0.0.1", "localhost", "::1"):
            own_addresses |= {"127.0.0.1", "::1"}
        if not own_addresses & set(addresses):
            continue
        if own_database is None or database in (own_database, current_database):
            return True
    return False


def target_address(*, organization_id: int, host: str, port: int, database: str = "") -> str:
    """The address to dial for (*host*, *port*, *database*), or TargetRefused saying why."""
    host = (host or "").strip().lower().rstrip(".")
    if not host:
        raise TargetRefused("host: this field is required")
    if not 0 < port < 65536:
        raise TargetRefused("port: must be from 1 to 65535")
    addresses = _addresses(host, port)
    for address in addresses:
        ip = ipaddress.ip_address(address)
        if ip.is_link_local or (
            isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped and ip.ipv4_mapped.is_link_local
        ):
            raise TargetRefused(f"{host} resolves to a link-local address, which is never allowed")
        if ip.is_multicast or ip.is_unspecified:
            raise TargetRefused(f"{host} resolves to an address that cannot be a database server")
    if _is_own(addresses, port, database):
        raise TargetRefused(f"{host}:{port} is Strongroom's own database or Redis, which is never allowed")
    if not _allowed(host, addresses, allowlist_entries(organization_id)):
        raise TargetRefused(
            f"{host} is not on the organization's dynamic secret target allowlist (an organization admin adds it"
            " under People → Dynamic secret targets)"
        )
    return addresses[0]
