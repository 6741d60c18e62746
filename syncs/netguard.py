"""Where a sync connection may connect (security bar E4): the product-wide outbound guard
(``secrets_app.outbound``) with the syncs' error type.

A destination URL must be ``https`` and every address its host resolves to must be public (see
``secrets_app.outbound`` for the refused ranges and forms). ``STRONGROOM_OUTBOUND_ALLOWED_HOSTS``
(or its older name ``STRONGROOM_SYNC_ALLOWED_HOSTS``) lists host names, IPs or CIDRs allowed
anyway; those hosts may also use plain ``http``. The check runs when a connection or sync is saved,
and the providers' transports check again at connect time and dial the address they checked.
"""

from __future__ import annotations

from secrets_app import outbound
from syncs.providers.base import ConfigError


def check_destination_url(url: str, *, field: str = "url", resolve: bool = True) -> str:
    """Return *url* normalised (no trailing slash) or raise ``ConfigError`` naming *field*."""
    url = (url or "").strip().rstrip("/")
    try:
        scheme, host, port = outbound.split_url(url)
        if "?" in url or "#" in url:
            raise ConfigError(f"{field}: must not have a query string or fragment")
        if resolve:
            outbound.checked_address(scheme, host, port)
    except outbound.OutboundRefused as exc:
        raise ConfigError(
            f"{field}: {exc.reason}"
            if exc.reason.startswith(("must", "not a", "an IP"))
            else f"{field}: {exc.host} {exc.reason}"
        ) from None
    return url


def allowlisted_host(url: str) -> bool:
    """True when the escape hatch names *url*'s host (or a network holding all its addresses)."""
    host, port = outbound.host_of(url)
    try:
        return outbound.allowlisted(host, outbound.resolve(host, port))
    except outbound.OutboundRefused:
        return False
