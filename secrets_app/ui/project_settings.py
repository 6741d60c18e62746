"""The project settings page: rename the project, manage its environments (add, rename, reorder,
delete) and delete the project. Every change is the REST API's service (services/projects.py);
the permission decision is theirs (``require``): this module only hides controls the caller's
role does not allow, and a refused POST is the 403 page ``project_view`` renders."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from secrets_app.errors import DomainError, NotFound, ValidationFailed
from secrets_app.policy.enforcement import require
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.contents import environment_contents_list
from secrets_app.selectors.projects import environment_list
from secrets_app.services import projects as project_services
from secrets_app.ui.framework import apply_domain_error, page_or_partial, project_view, redirect_to
from secrets_app.ui.settings_forms import (
    EnvironmentAddForm,
    EnvironmentRenameForm,
    ProjectDeleteForm,
    ProjectRenameForm,
)

PAGE = "pages/project_settings.html"


def _environment_rows(scope: ProjectScope, forms: dict[str, EnvironmentRenameForm]) -> list[dict[str, Any]]:
    """Rows of the environments table. People who may manage environments see every one with
    what deleting it removes; others see the ones they can read, without counts."""
    if not scope.access.can("environments.manage"):
        return [{"environment": env} for env in environment_list(scope)]
    rows = []
    contents = environment_contents_list(scope)
    for index, item in enumerate(contents):
        env = item.environment
        form = forms.get(env.slug) or EnvironmentRenameForm(
            environment=env.slug, initial={"slug": env.slug, "name": env.name}
        )
        rows.append(
            {
                "environment": env,
                "secret_count": item.secret_count,
                "folder_count": item.folder_count,
                "form": form,
                "first": index == 0,
                "last": index == len(contents) - 1,
            }
        )
    return rows


def _context(scope: ProjectScope, **extra: Any) -> dict[str, Any]:
    access = scope.access
    project = scope.project
    context: dict[str, Any] = {
        "project": project,
        "role": access.role,
        "nav": "settings",
        "can_edit_project": access.can("project.edit"),
        "can_manage_environments": access.can("environments.manage"),
        "can_delete_project": access.can("project.delete"),
        "rename_form": ProjectRenameForm(initial={"name": project.name}),
        "add_form": EnvironmentAddForm(),
        "delete_form": ProjectDeleteForm(),
    }
    rename_forms = extra.pop("rename_forms", {})
    context.update(extra)
    context["environment_rows"] = _environment_rows(scope, rename_forms)
    return context


def _environments(request: HttpRequest, scope: ProjectScope, *, status: int = 200, **extra: Any) -> HttpResponse:
    return page_or_partial(request, PAGE, _context(scope, **extra), partial="environments", status=status)


@require_http_methods(["GET", "POST"])
@project_view
def settings_page(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """GET: the settings page. POST: rename the project (``project.edit``)."""
    if request.method == "GET":
        notice = "Project renamed." if request.GET.get("renamed") else ""
        return page_or_partial(request, PAGE, _context(scope, project_notice=notice))
    form = ProjectRenameForm(request.POST)
    if form.is_valid():
        try:
            project_services.project_update(scope=scope, name=form.cleaned_data["name"])
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            # The whole page again: the name is in the header and the top bar too.
            return redirect_to(request, reverse("ui:project_settings", args=[scope.project.slug]) + "?renamed=1")
    return page_or_partial(request, PAGE, _context(scope, rename_form=form), partial="project_card", status=422)


@require_POST
@project_view
def environment_add(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    form = EnvironmentAddForm(request.POST)
    if form.is_valid():
        try:
            environment = project_services.environment_create(
                scope=scope, slug=form.cleaned_data["slug"], name=form.cleaned_data["name"]
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            return _environments(request, scope, env_notice=f"Added environment {environment.slug}.")
    return _environments(request, scope, add_form=form, status=422)


@require_POST
@project_view
def environment_rename(request: HttpRequest, scope: ProjectScope, environment: str) -> HttpResponse:
    form = EnvironmentRenameForm(request.POST, environment=environment)
    if form.is_valid():
        try:
            updated = project_services.environment_update(
                scope=scope, slug=environment, new_slug=form.cleaned_data["slug"], name=form.cleaned_data["name"]
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            return _environments(request, scope, env_notice=f"Environment {environment} is now {updated.slug}.")
    return _environments(request, scope, rename_forms={environment: form}, open_row=environment, status=422)


@require_POST
@project_view
def environment_move(request: HttpRequest, scope: ProjectScope, environment: str) -> HttpResponse:
    """Move one environment up or down a place: the new full order goes to ``environment_reorder``."""
    direction = request.POST.get("direction", "")
    if direction not in ("up", "down"):
        raise ValidationFailed("direction", "must be up or down")
    order = [item.environment.slug for item in environment_contents_list(scope)]
    if environment not in order:
        require(scope, "environments.manage")  # refused people learn nothing about which slugs exist
        raise NotFound(f"Environment '{environment}' not found")
    index = order.index(environment)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(order):
        order[index], order[other] = order[other], order[index]
    # A move past either end keeps the order; the service still decides and audits it.
    project_services.environment_reorder(scope=scope, slugs=order)
    return _environments(request, scope, env_notice=f"Moved {environment} {direction}.")


@require_POST
@project_view
def environment_delete(request: HttpRequest, scope: ProjectScope, environment: str) -> HttpResponse:
    project_services.environment_delete(scope=scope, slug=environment)
    return _environments(request, scope, env_notice=f"Deleted environment {environment}.")


@require_POST
@project_view
def project_delete(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """Delete the project once its slug is typed. A caller without ``project.delete`` is refused
    before the confirmation is looked at (a viewer learns nothing from a wrong one)."""
    require(scope, "project.delete")
    form = ProjectDeleteForm(request.POST)
    if form.is_valid():
        if form.cleaned_data["confirm"].strip() != scope.project.slug:
            form.add_error("confirm", f"type {scope.project.slug} to confirm")
        else:
            project_services.project_delete(scope=scope)
            return redirect_to(request, reverse("ui:project_list"))
    return page_or_partial(request, PAGE, _context(scope, delete_form=form), partial="danger_zone", status=422)
