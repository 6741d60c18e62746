"""The organization's groups (org admins): local groups and their people, mapped identity-provider
groups, SCIM groups, and the roles groups hold in projects; a person's effective access with where
each grant comes from. Services and selectors enforce the rules; this only shows and asks."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from secrets_app.errors import DomainError
from secrets_app.models import GroupSource, Organization
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.groups import group_detail, group_list, person_effective_access, project_group_list
from secrets_app.services import groups as group_services
from secrets_app.ui.framework import apply_domain_error, org_view, page_or_partial, principal_of, project_view
from secrets_app.ui.group_forms import GroupCreateForm, GroupMemberAddForm, GroupUpdateForm, ProjectGroupAddForm

LIST_PAGE = "pages/groups.html"
DETAIL_PAGE = "pages/group.html"
ACCESS_PAGE = "pages/person_access.html"
FIELD_ALIASES = {"externalId": "external_id"}


def _list_context(request: HttpRequest, organization: Organization, **extra: Any) -> dict[str, Any]:
    context = {
        "organization": organization,
        "nav": "groups",
        "groups": group_list(principal=principal_of(request), organization=organization),
        "create_form": GroupCreateForm(),
    }
    context.update(extra)
    return context


@require_http_methods(["GET", "POST"])
@org_view
def groups_page(request: HttpRequest, organization: Organization) -> HttpResponse:
    """GET: the groups. POST: create a local group or map an identity-provider group."""
    if request.method == "GET":
        return page_or_partial(request, LIST_PAGE, _list_context(request, organization))
    form = GroupCreateForm(request.POST)
    if form.is_valid():
        try:
            group = group_services.group_create(
                principal=principal_of(request),
                organization=organization,
                slug=form.cleaned_data["slug"],
                name=form.cleaned_data["name"],
                source=form.cleaned_data["source"],
                external_id=form.cleaned_data["external_id"],
            )
        except DomainError as exc:
            apply_domain_error(form, exc, aliases=FIELD_ALIASES)
        else:
            kind = "Mapped identity provider group" if group.source == GroupSource.IDP else "Created group"
            notice = f"{kind} {group.slug}. Give it a role on a project's Members page."
            return page_or_partial(
                request, LIST_PAGE, _list_context(request, organization, notice=notice), partial="groups_section"
            )
    context = _list_context(request, organization, create_form=form)
    return page_or_partial(request, LIST_PAGE, context, partial="groups_section", status=422)


def _detail_context(request: HttpRequest, organization: Organization, group_ref: str, **extra: Any) -> dict[str, Any]:
    detail = group_detail(principal=principal_of(request), organization=organization, group_ref=group_ref)
    group = detail.group
    context = {
        "organization": organization,
        "nav": "groups",
        "group": group,
        "members": detail.members,
        "projects": detail.projects,
        "is_local": group.source == GroupSource.LOCAL,
        "member_form": GroupMemberAddForm(),
        "edit_form": GroupUpdateForm(initial={"name": group.name, "external_id": group.external_id}),
    }
    context.update(extra)
    return context


def _detail_section(
    request: HttpRequest, organization: Organization, group_ref: str, *, status: int = 200, **extra: Any
) -> HttpResponse:
    context = _detail_context(request, organization, group_ref, **extra)
    return page_or_partial(request, DETAIL_PAGE, context, partial="group_section", status=status)


@require_GET
@org_view
def group_page(request: HttpRequest, organization: Organization, group: str) -> HttpResponse:
    return page_or_partial(request, DETAIL_PAGE, _detail_context(request, organization, group))


@require_POST
@org_view
def group_update_view(request: HttpRequest, organization: Organization, group: str) -> HttpResponse:
    form = GroupUpdateForm(request.POST)
    if not form.is_valid():
        return _detail_section(request, organization, group, edit_form=form, status=422)
    current = group_services.group_find(organization, group)
    try:
        group_services.group_update(
            principal=principal_of(request),
            organization=organization,
            group_ref=group,
            name=form.cleaned_data["name"],
            external_id=form.cleaned_data["external_id"] if current.source == GroupSource.IDP else None,
        )
    except DomainError as exc:
        apply_domain_error(form, exc, aliases=FIELD_ALIASES)
        return _detail_section(request, organization, group, edit_form=form, status=exc.status)
    return _detail_section(request, organization, group, notice="Group saved.")


@require_POST
@org_view
def group_delete_view(request: HttpRequest, organization: Organization, group: str) -> HttpResponse:
    group_services.group_delete(principal=principal_of(request), organization=organization, group_ref=group)
    if getattr(request, "htmx", None):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = f"/org/{organization.slug}/groups/"
        return response
    return redirect("ui:groups", organization.slug)


@require_POST
@org_view
def group_member_add_view(request: HttpRequest, organization: Organization, group: str) -> HttpResponse:
    form = GroupMemberAddForm(request.POST)
    if form.is_valid():
        try:
            membership = group_services.group_member_add(
                principal=principal_of(request),
                organization=organization,
                group_ref=group,
                email=form.cleaned_data["email"],
            )
        except DomainError as exc:
            if exc.status == 409 and not exc.fields:
                return _detail_section(request, organization, group, error=exc.message, status=409)
            apply_domain_error(form, exc)
        else:
            return _detail_section(request, organization, group, notice=f"Added {membership.user.email}.")
    return _detail_section(request, organization, group, member_form=form, status=422)


@require_POST
@org_view
def group_member_remove_view(
    request: HttpRequest, organization: Organization, group: str, user_id: int
) -> HttpResponse:
    try:
        group_services.group_member_remove(
            principal=principal_of(request), organization=organization, group_ref=group, user_id=user_id
        )
    except DomainError as exc:
        if exc.status == 403:
            raise
        return _detail_section(request, organization, group, error=exc.message, status=exc.status)
    return _detail_section(request, organization, group, notice="Removed from the group.")


@require_GET
@org_view
def person_access_page(request: HttpRequest, organization: Organization, user_id: int) -> HttpResponse:
    """A person's effective access: per project, the direct role, each group's role and the result."""
    access = person_effective_access(principal=principal_of(request), organization=organization, user_id=user_id)
    context = {"organization": organization, "nav": "people", "access": access}
    return page_or_partial(request, ACCESS_PAGE, context)


# --- the Groups section of a project's Members page ----------------------------------------------


def _members_groups_section(
    scope: ProjectScope, request: HttpRequest, *, status: int = 200, **extra: Any
) -> HttpResponse:
    from secrets_app.ui import members as member_ui

    context = member_ui._context(scope, **extra)
    return page_or_partial(request, member_ui.PAGE, context, partial="groups_section", status=status)


@require_POST
@project_view
def project_group_add_view(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """Give a group of the organization a role in the project (only grantable roles are offered)."""
    from secrets_app.ui import members as member_ui

    context = member_ui._context(scope)
    form = ProjectGroupAddForm(
        request.POST,
        groups=[(group.slug, group.slug) for group in context["group_candidates"]],
        roles=context["role_choices"],
    )
    if form.is_valid():
        try:
            membership = group_services.group_project_role_add(
                scope=scope, group_ref=form.cleaned_data["group"], role=form.cleaned_data["role"]
            )
        except DomainError as exc:
            apply_domain_error(form, exc, aliases={"groupId": "group"})
        else:
            notice = f"Group {membership.group.slug} now holds {membership.role_slug}: its people inherit it."
            return _members_groups_section(scope, request, groups_notice=notice)
    return _members_groups_section(scope, request, group_add_form=form, status=422)


@require_http_methods(["POST", "DELETE"])
@project_view
def project_group_item_view(request: HttpRequest, scope: ProjectScope, group: str) -> HttpResponse:
    """POST: change the group's role. DELETE: take its role away."""
    from secrets_app.ui import members as member_ui

    try:
        if request.method == "DELETE":
            group_services.group_project_role_remove(scope=scope, group_ref=group)
            notice = f"Group {group} removed from the project."
        else:
            role = request.POST.get("role", "")
            if role not in member_ui._context(scope)["role_values"]:
                return _members_groups_section(
                    scope, request, groups_error="Choose one of the listed roles.", status=422
                )
            previous = next((i.role_slug for i in project_group_list(scope) if i.group.slug == group), None)
            group_services.group_project_role_update(scope=scope, group_ref=group, role=role)
            undo = member_ui.role_undo(
                f"Role of group {group}",
                previous,
                role,
                url=reverse("ui:project_group_item", args=[scope.project.slug, group]),
                target="#project-groups",
                offered=member_ui._context(scope)["role_values"],
            )
            return _members_groups_section(
                scope, request, groups_notice=undo.get("notice"), groups_undo=undo.get("undo")
            )
    except DomainError as exc:
        return _members_groups_section(scope, request, groups_error=exc.message, status=exc.status)
    return _members_groups_section(scope, request, groups_notice=notice)
