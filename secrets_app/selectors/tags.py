"""A project's tags (names only; visible to everyone who sees the project)."""

from __future__ import annotations

from secrets_app.models import Tag
from secrets_app.selectors.access import ProjectScope


def tag_list(scope: ProjectScope) -> list[Tag]:
    return list(Tag.objects.filter(project=scope.project).order_by("slug"))
