"""Project overviews for listings (the projects page): counts and the caller's role, without N+1."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count

from secrets_app.models import Project
from secrets_app.principals import Principal
from secrets_app.selectors.access import project_access, project_list_for_principal


@dataclass
class ProjectSummary:
    project: Project
    environment_count: int
    role: str


def project_summary_list(principal: Principal) -> list[ProjectSummary]:
    """The projects the principal sees (``project_list_for_principal``), with environment counts and
    the principal's role in each."""
    projects = project_list_for_principal(principal).annotate(environment_count=Count("environments", distinct=True))
    return [
        ProjectSummary(
            project=project,
            environment_count=project.environment_count,  # type: ignore[attr-defined]
            role=project_access(principal, project).role,
        )
        for project in projects
    ]
