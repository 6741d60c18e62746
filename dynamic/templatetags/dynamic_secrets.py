"""Dynamic secrets on the core's pages, without the core importing this app:

- ``{% dynamic_secrets_section %}`` — in the folder view: the dynamic secrets of this path in each
  environment the caller may list, with provider, TTLs and live lease count, and "New dynamic
  secret" for those who may define one;
- ``{% irrevocable_leases_banner %}`` — on the project page: a warning linking to the leases that
  could not be revoked, for the people who can force-revoke them;
- ``{{ lease|remaining }}`` — the server-rendered time left (static/js/leases.js counts it down).
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from dynamic.services.common import LEASE, MANAGE, READ_DEFINITION

register = template.Library()


def duration_text(seconds: float) -> str:
    """``5025`` → ``1h 23m 45s``; two units at most past an hour (``2d 3h``)."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


@register.filter
def remaining(lease: Any) -> str:
    """Time left until the lease's expiry, or ``expired``."""
    left = (lease.expire_at - timezone.now()).total_seconds()
    return duration_text(left) if left > 0 else "expired"


@register.filter
def ttl(seconds: int | None) -> str:
    """A TTL in seconds as people read it (``3600`` → ``1h``); ``—`` for none."""
    from dynamic.ui.forms import ttl_text

    return ttl_text(seconds) or "—"


@register.inclusion_tag("dynamic/_folder_section.html", takes_context=True)
def dynamic_secrets_section(context: template.Context) -> dict[str, Any]:
    from dynamic.providers.registry import PROVIDERS
    from dynamic.selectors import dynamic_secret_list, irrevocable_counts

    scope = context.get("scope")
    matrix = context.get("matrix")
    path = context.get("path") or "/"
    if scope is None or matrix is None:
        return {"show": False}
    access = scope.access
    present = [column.slug for column in matrix.columns if column.state != "no-folder"]
    readable = [env for env in present if access.can(READ_DEFINITION, environment=env, path=path, tags=())]
    secrets = [secret for env in readable for secret in dynamic_secret_list(scope, environment=env, path=path)]
    labels = dict(PROVIDERS.kinds())
    stuck = irrevocable_counts(secrets) if secrets else {}
    for secret in secrets:
        secret.irrevocable_leases = stuck.get(secret.pk, 0)  # type: ignore[attr-defined]
    can_manage = bool(present) and access.can(MANAGE)
    return {
        "show": bool(readable) or can_manage,
        "project": scope.project,
        "path": path,
        "secrets": secrets,
        "labels": labels,
        "can_manage": can_manage,
        "lease_envs": [env for env in readable if access.can(LEASE, environment=env, path=path, tags=())],
    }


@register.inclusion_tag("dynamic/_irrevocable_banner.html", takes_context=True)
def irrevocable_leases_banner(context: template.Context) -> dict[str, Any]:
    from dynamic.selectors import irrevocable_count

    scope = context.get("scope")
    if scope is None or not scope.access.can(MANAGE):
        return {"count": 0}
    return {"count": irrevocable_count(scope), "project": scope.project}


@register.simple_tag
def provider_label(labels: dict[str, str], kind: str) -> str:
    return labels.get(kind, kind)
