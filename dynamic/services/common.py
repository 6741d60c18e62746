"""What the dynamic-secret services share: permissions, TTL parsing, providers and targets, and
scrubbing error text before it is stored or shown.

Permissions (docs/dynamic-secrets.md, "Who may do what"):

- defining, changing and deleting a dynamic secret, and force-revoking a lease, need
  ``dynamic_secrets.manage`` (project-wide; part of the built-in admin role only) — the root
  credentials can mint users on a database, which is an admin's decision;
- listing and reading definitions (never the root credentials) need ``secrets.read`` at the
  environment and path;
- taking, reading, listing, renewing and revoking leases need ``secrets.read_value`` at the
  environment and path: a lease hands out a credential, exactly as reading a secret value does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings

from dynamic.models import DynamicSecret, Lease
from dynamic.providers.base import DynamicProvider, ProviderError, Target
from dynamic.providers.registry import PROVIDERS
from dynamic.sealing import CredentialsUnavailable
from dynamic.targets import TargetRefused, target_address
from secrets_app.errors import ValidationFailed
from secrets_app.policy.enforcement import require
from secrets_app.selectors.access import ProjectScope

MIN_TTL_SECONDS = 60
MAX_TTL_SECONDS = 10 * 365 * 24 * 3600
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdwy]?)\s*\Z", re.IGNORECASE)

MANAGE = "dynamic_secrets.manage"
READ_DEFINITION = "secrets.read"
LEASE = "secrets.read_value"


def require_manage(scope: ProjectScope, *, environment: str, path: str, resource: str = "") -> None:
    require(scope, MANAGE, environment=environment, path=path, resource=resource or "dynamic_secret")


def require_read_definition(scope: ProjectScope, *, environment: str, path: str, resource: str = "") -> None:
    require(scope, READ_DEFINITION, environment=environment, path=path, tags=(), resource=resource)


def require_lease(scope: ProjectScope, *, environment: str, path: str, resource: str = "") -> None:
    require(scope, LEASE, environment=environment, path=path, tags=(), resource=resource)


def parse_ttl(raw: Any, *, field: str) -> int:
    """Seconds from an integer or an ``ms``-style text (``90``, ``30m``, ``1h``, ``7d``): from one
    minute to ten years (Infisical's bounds and words), else ValidationFailed naming *field*."""
    if isinstance(raw, bool):
        raise ValidationFailed(field, "must be a duration such as 3600, 30m, 1h or 7d")
    if isinstance(raw, int | float):
        seconds = int(raw)
    else:
        match = _DURATION.match(str(raw or ""))
        if not match:
            raise ValidationFailed(field, "must be a duration such as 3600, 30m, 1h or 7d")
        seconds = int(float(match.group(1)) * _UNITS[(match.group(2) or "s").lower()])
    if seconds < int(getattr(settings, "STRONGROOM_DYNAMIC_MIN_TTL_SECONDS", MIN_TTL_SECONDS)):
        raise ValidationFailed(field, "TTL must be a greater than 1min")
    if seconds > MAX_TTL_SECONDS:
        raise ValidationFailed(field, "TTL must be less than 10 years")
    return seconds


def provider_for(kind: str) -> DynamicProvider:
    return PROVIDERS.require(kind, field="provider")


def connect_target(
    provider: DynamicProvider, *, organization_id: int, config: Mapping[str, Any], credentials: Mapping[str, str]
) -> Target:
    """A Target whose addresses (every endpoint the provider declares) passed the organization's
    target check; TargetRefused otherwise."""
    addresses: dict[str, str] = {}
    for host, port, database in provider.endpoints(config):
        key = host.strip().lower().rstrip(".")
        if key not in addresses:
            addresses[key] = target_address(organization_id=organization_id, host=host, port=port, database=database)
    first = provider.endpoint(config)[0].strip().lower().rstrip(".")
    address = addresses.get(first) or next(iter(addresses.values()), "")
    return Target(config=dict(config), credentials=dict(credentials), address=address, addresses=addresses)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """*text* without any of *secrets* (passwords, usernames, database names), cut to 240."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        if len(secret) >= 3:
            text = text.replace(secret, "[redacted]")
    return text[:240]


def failure_text(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """A safe sentence for a failed provider call: our own errors say what happened; anything
    else names only its class (a driver message can quote a statement holding a password)."""
    if isinstance(exc, ProviderError | TargetRefused | CredentialsUnavailable):
        return scrub(str(exc), secrets)
    return f"unexpected error ({type(exc).__name__})"


def definition_values(secret: DynamicSecret | Lease) -> list[str]:
    config = secret.config if isinstance(secret, DynamicSecret) else secret.config_snapshot
    return [str(config.get("database") or ""), str(config.get("username") or "")]
