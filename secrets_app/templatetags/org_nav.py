"""Organization navigation: ``{% org_admin organization as is_admin %}`` (the top bar hides admin-only
links from members) and ``{% org_settings_links organization as links %}`` (the left sub-navigation of the
organization settings pages). Both ask ``is_org_admin``, the same decision the pages make; the
pages check again, this only hides links a person cannot open."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

register = template.Library()

# (key, label, URL name, admins only). People is open to every member of the organization.
SETTINGS_LINKS: tuple[tuple[str, str, str, bool], ...] = (
    ("people", "People", "ui:people", False),
    ("groups", "Groups", "ui:groups", True),
    ("identities", "Identities", "ui:identities", True),
    ("connections", "Connections", "syncs_ui:connections", True),
    ("notifications", "Notification channels", "notifications_ui:page", True),
    ("audit_streams", "Audit streams", "audit_streams_ui:page", True),
    ("estate", "Azure DevOps estate", "estate:home", True),
    ("pipeline_gates", "Pipeline gates", "governance:pipeline_gates", True),
    ("scim", "SCIM", "scim_ui:tokens", True),
)


def signed_in_org_admin(context: Any, organization: Any) -> bool:
    """Whether the request's person administers *organization* (asked once per render, for every link)."""
    from secrets_app.principals import Principal
    from secrets_app.selectors.access import is_org_admin

    request = context.get("request")
    user = getattr(request, "user", None)
    if organization is None or user is None or not user.is_authenticated:
        return False
    cache = context.render_context if hasattr(context, "render_context") else {}
    key = ("org_admin", organization.pk)
    if key not in cache:
        cache[key] = is_org_admin(Principal.for_user(user), organization.pk)
    return bool(cache[key])


@register.simple_tag(takes_context=True)
def org_admin(context: Any, organization: Any) -> bool:
    """Whether the signed-in person administers *organization*."""
    return signed_in_org_admin(context, organization)


@register.simple_tag(takes_context=True)
def org_settings_links(context: Any, organization: Any) -> list[dict[str, Any]]:
    """The settings pages the person may open; the one at the request's path is marked current."""
    admin = signed_in_org_admin(context, organization)
    request = context.get("request")
    here = getattr(request, "path", "")
    links = []
    for key, label, name, admins_only in SETTINGS_LINKS:
        if admin or not admins_only:
            url = reverse(name, args=[organization.slug])
            links.append({"key": key, "label": label, "url": url, "current": url == here})
    return links
