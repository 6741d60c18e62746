"""``{% notifications_nav organization %}``: the "Notifications" nav link for the organization's
admins, with a badge counting deliveries that failed in the last 24 hours."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.inclusion_tag("notifications/_nav_link.html", takes_context=True)
def notifications_nav(context: dict[str, Any], organization: Any) -> dict[str, Any]:
    from notifications.selectors import failed_count_recent
    from secrets_app.templatetags.org_nav import signed_in_org_admin

    show = signed_in_org_admin(context, organization)
    return {
        "show": show,
        "organization": organization,
        "failed": failed_count_recent(organization.pk) if show else 0,
        "current": context.get("nav") == "notifications",
    }
