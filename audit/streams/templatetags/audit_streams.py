"""``{% audit_streams_nav organization %}``: the "Audit streams" nav link for the organization's
admins, with a badge counting failing streams; ``|lag_duration``: seconds as "4 min 12 s"."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.inclusion_tag("audit_streams/_nav_link.html", takes_context=True)
def audit_streams_nav(context: dict[str, Any], organization: Any) -> dict[str, Any]:
    from audit.streams.selectors import failing_stream_count
    from secrets_app.templatetags.org_nav import signed_in_org_admin

    show = signed_in_org_admin(context, organization)
    return {
        "show": show,
        "organization": organization,
        "failing": failing_stream_count(organization.pk) if show else 0,
        "current": context.get("nav") == "audit_streams",
    }


@register.filter
def lag_duration(seconds: Any) -> str:
    """``0`` → "0 s", ``75`` → "1 min 15 s", ``900`` → "15 min", ``7260`` → "2 h 1 min", ``200000`` → "2 d 7 h"."""
    try:
        total = max(0, int(seconds))
    except (TypeError, ValueError):
        return ""
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"
