"""Project overviews for listings: the caller's role, environment counts, and the environments the
caller may see (a dev-only role never learns that ``prod`` exists)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count

from secrets_app.models import Environment, Project
from secrets_app.principals import Principal
from secrets_app.selectors.access import ProjectScope, project_access, project_list_for_principal, project_scope_for


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
            environment_count=project.environment_count,
            role=project_access(principal, project).role,
        )
        for project in projects
    ]


@dataclass(frozen=True)
class ProjectView:
    project: Project
    role: str
    environments: list[Environment]


def environment_is_visible(scope: ProjectScope, slug: str) -> bool:
    return scope.access.sees_environment(slug)


def environment_list(scope: ProjectScope) -> list[Environment]:
    """The project's environments, in order, limited to those where the caller may read something."""
    return [env for env in scope.project.environments.all() if environment_is_visible(scope, env.slug)]


def project_view(scope: ProjectScope) -> ProjectView:
    """The project as the caller sees it: their role and the environments visible to them."""
    return ProjectView(project=scope.project, role=scope.access.role, environments=environment_list(scope))


def project_view_list(principal: Principal) -> list[ProjectView]:
    """Every project the principal sees, by name, each with the caller's role and visible environments."""
    projects = project_list_for_principal(principal).prefetch_related("environments")
    return [project_view(project_scope_for(principal, project)) for project in projects]
