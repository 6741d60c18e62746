"""A folder's point-in-time history in the secret workspace: what each commit changed (keys and
whether values changed, never a value), the confirmation of a rollback listing what it will delete,
restore and change, and the rollback itself (``services.rollback.folder_rollback``, which decides)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET, require_POST

from secrets_app.errors import DomainError, ValidationFailed
from secrets_app.paths import canonical_path
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.commits import folder_rollback_plan
from secrets_app.selectors.history import folder_history as folder_history_entries
from secrets_app.services import rollback as rollback_services
from secrets_app.ui.framework import is_htmx, page_or_partial, project_view, render_fragments
from secrets_app.ui.projects import PROJECT_PAGE, refreshed_workspace, workspace_context, workspace_environments

HISTORY = "components/folder_history.html"
HISTORY_LIMIT = 100


def _place(data: Any, listed: list[str]) -> str:
    environment = data.get("environment", "")
    if environment not in listed:
        raise ValidationFailed("environment", "is not an environment you can read here")
    return str(environment)


def _commit_id(data: Any) -> int:
    try:
        return int(data.get("commit", ""))
    except ValueError:
        raise ValidationFailed("commit", "must be a commit id") from None


def _history_context(scope: ProjectScope, environment: str, path: str, **extra: Any) -> dict[str, Any]:
    listed = workspace_environments(scope, path)
    environment = _place({"environment": environment}, listed)
    commits = folder_history_entries(scope, environment=environment, path=path, limit=HISTORY_LIMIT)
    where = {"environment": environment, "path": path}
    return {
        "project": scope.project,
        "path": path,
        "environment": environment,
        "history_envs": listed,
        "commits": commits,
        "latest_commit_id": commits[0].id if commits else None,
        "can_rollback": scope.access.can("secrets.rollback", **where),
        "can_read_values": scope.access.can("secrets.read_value", **where),
        **extra,
    }


@require_GET
@project_view
def folder_history(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    path = canonical_path(request.GET.get("path", "/"))
    listed = workspace_environments(scope, path)
    environment = request.GET.get("environment") or (listed[0] if listed else "")
    context = _history_context(scope, environment, path)
    if not is_htmx(request):
        page = {**workspace_context(scope, path, panel_template=f"{HISTORY}#history"), **context}
        return page_or_partial(request, PROJECT_PAGE, page)
    return page_or_partial(request, HISTORY, context, partial="history")


@require_GET
@project_view
def folder_rollback_confirm(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """The confirmation step: what rolling back to this commit deletes, restores and changes (keys,
    never values), and the button that does it. Reads only."""
    path = canonical_path(request.GET.get("path", "/"))
    environment = _place(request.GET, workspace_environments(scope, path))
    plan = folder_rollback_plan(scope, environment=environment, path=path, commit_id=_commit_id(request.GET))
    context = {"project": scope.project, "path": path, "environment": environment, "plan": plan}
    if not is_htmx(request):
        page = {**workspace_context(scope, path, panel_template=f"{HISTORY}#rollback_confirm"), **context}
        return page_or_partial(request, PROJECT_PAGE, page)
    return page_or_partial(request, HISTORY, context, partial="rollback_confirm")


@require_POST
@project_view
def folder_rollback(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    path = canonical_path(request.POST.get("path", "/"))
    environment = request.POST.get("environment", "")
    commit_id = _commit_id(request.POST)
    try:
        plan = folder_rollback_plan(scope, environment=environment, path=path, commit_id=commit_id)
        rollback_services.folder_rollback(scope=scope, environment=environment, path=path, commit_id=commit_id)
    except DomainError as exc:
        context = _history_context(scope, environment, path, error=exc.message)
        return render_fragments(request, [(f"{HISTORY}#history", context)], status=exc.status)
    context = _history_context(scope, environment, path, notice=f"Rolled {environment}:{path} back to #{plan.number}.")
    return render_fragments(request, [(f"{HISTORY}#history", context), *refreshed_workspace(request, scope, path)])
