"""``{% folder_changeable scope path as name %}``: whether the caller may rename or delete the
folder at *path* in some environment, so the workspace offers "Rename or delete folder" only to
them (the services decide again on every write)."""

from __future__ import annotations

from django import template

from secrets_app.selectors.access import ProjectScope

register = template.Library()


@register.simple_tag
def folder_changeable(scope: ProjectScope, path: str, environments: list[str]) -> bool:
    if path == "/":
        return False
    return any(
        scope.access.can(action, environment=env, path=path)
        for env in environments
        for action in ("folders.edit", "folders.delete")
    )
