"""``{{ membership|role_name }}``: the role as people read it — a custom role's name ("Developer (dev
only)"), a built-in role's label ("Viewer") — never the slug alone. Takes anything with
``custom_role``/``builtin_role`` (a project, group or identity membership) or a role slug."""

from __future__ import annotations

from typing import Any

from django import template

from secrets_app.models import BuiltinRole

register = template.Library()

_BUILTIN_LABELS = {choice.value: str(choice.label) for choice in BuiltinRole}


@register.filter
def role_name(value: Any) -> str:
    custom = getattr(value, "custom_role", None)
    if custom is not None:
        return str(custom.name or custom.slug)
    slug = str(getattr(value, "builtin_role", value) or "")
    return _BUILTIN_LABELS.get(slug, slug)
