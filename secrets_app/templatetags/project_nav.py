"""``{% project_tabs project as tabs %}``: which project tabs the signed-in person may open, asked of the
permission decision (``project_access(...).can``) once per render. The pages check again; this only hides tabs a
person cannot open, so every project page shows the same tabs whatever its view passed in."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()

# tab → the action its page requires (tabs not listed are open to every project member)
TAB_ACTIONS = {
    "members": "members.read",
    "syncs": "syncs.read",
    "governance": "governance.read",
    "audit": "audit.read",
}


@register.simple_tag(takes_context=True)
def project_tabs(context: Any, project: Any) -> dict[str, bool]:
    from secrets_app.principals import Principal
    from secrets_app.selectors.access import project_access

    request = context.get("request")
    user = getattr(request, "user", None)
    if project is None or user is None or not user.is_authenticated:
        return dict.fromkeys(TAB_ACTIONS, False)
    cache = context.render_context if hasattr(context, "render_context") else {}
    key = ("project_tabs", project.pk)
    if key not in cache:
        access = project_access(Principal.for_user(user), project)
        cache[key] = {tab: access.can(action) for tab, action in TAB_ACTIONS.items()}
    return dict(cache[key])
