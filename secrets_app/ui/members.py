"""Members and roles of a project. Controls the caller may not use are hidden; services enforce."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from secrets_app.errors import DomainError
from secrets_app.models import BuiltinRole
from secrets_app.policy import BUILTIN_RULES
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.groups import project_group_candidates, project_group_list
from secrets_app.selectors.matrix import matrix_environments
from secrets_app.selectors.members import member_list, role_list
from secrets_app.services import grants
from secrets_app.services import groups as group_services
from secrets_app.services import members as member_services
from secrets_app.ui.forms import (
    RULE_ACTIONS,
    MemberAddForm,
    MemberRoleForm,
    RoleCreateForm,
    parse_rule_rows,
    role_choices,
)
from secrets_app.ui.framework import (
    apply_domain_error,
    is_htmx,
    page_or_partial,
    project_view,
    render_fragments,
)
from secrets_app.ui.group_forms import ProjectGroupAddForm

PAGE = "pages/members.html"
BUILTIN_DESCRIPTIONS = {
    BuiltinRole.ADMIN.value: "Everything: secrets in every environment, members, roles and project settings.",
    BuiltinRole.MEMBER.value: "Read and write secrets, folders and imports everywhere; read the audit log.",
    BuiltinRole.VIEWER.value: "List secret names and metadata. Cannot read values.",
    BuiltinRole.NO_ACCESS.value: "Nothing: the project stays invisible to them.",
}
INITIAL_RULE_ROWS = 1


def _blank_rule(index: int) -> dict[str, Any]:
    return {"index": index, "effect": "allow", "action": "", "environments": [], "path": "/**", "tags": []}


def _context(scope: ProjectScope, **extra: Any) -> dict[str, Any]:
    access = scope.access
    roles = role_list(scope) if access.can("roles.read") else []
    custom = [(role.slug, role.name or role.slug) for role in roles if not role.builtin]
    # Offer only the roles the caller may hand out (the service refuses the others anyway).
    grantable = {slug for slug, rules in BUILTIN_RULES.items() if grants.may_grant(scope, rules)}
    grantable |= {role.slug for role in roles if not role.builtin and grants.may_grant(scope, role.rules)}
    choices = [
        (value, label) for value, label in role_choices(custom, may_grant_admin=access.is_admin) if value in grantable
    ]
    members = member_list(scope)
    project_groups = project_group_list(scope)
    can_manage_members = access.can("members.manage")
    # Groups the caller belongs to are their own access: not offered (the service refuses them).
    candidates = [
        group
        for group in (project_group_candidates(scope) if can_manage_members else [])
        if group_services.may_change_group(scope, group, None)
    ]
    environments = [environment.slug for environment in matrix_environments(scope)]
    context = {
        "project": scope.project,
        "role": access.role,
        "nav": "members",
        "members": members,
        "changeable": {member.pk for member in members if grants.may_change_membership(scope, member)},
        "roles": roles,
        "builtin_descriptions": BUILTIN_DESCRIPTIONS,
        "role_choices": choices,
        "role_values": [value for value, _ in choices],
        "can_manage_members": can_manage_members,
        "project_groups": project_groups,
        "groups_changeable": {
            item.pk for item in project_groups if group_services.may_change_group(scope, item.group, item)
        },
        "group_add_form": ProjectGroupAddForm(
            groups=[(group.slug, f"{group.name} ({group.get_source_display()})") for group in candidates],
            roles=choices,
            initial={"role": BuiltinRole.VIEWER.value},
        ),
        "group_candidates": candidates,
        "can_manage_roles": access.can("roles.manage"),
        "me": scope.principal.user_id,
        "add_form": MemberAddForm(roles=choices, initial={"role": BuiltinRole.MEMBER.value}),
        "role_form": RoleCreateForm(),
        "rule_actions": RULE_ACTIONS,
        "rule_environments": environments,
        "rule_rows": [_blank_rule(index) for index in range(INITIAL_RULE_ROWS)],
        "next_rule_row": INITIAL_RULE_ROWS,
    }
    context.update(extra)
    return context


@require_http_methods(["GET", "POST"])
@project_view
def member_page(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """GET: members and roles. POST: add a member (errors stay in the add form)."""
    if request.method == "GET":
        return page_or_partial(request, PAGE, _context(scope))
    context = _context(scope)
    form = MemberAddForm(request.POST, roles=context["role_choices"])
    if form.is_valid():
        try:
            membership = member_services.member_add(
                scope=scope, email=form.cleaned_data["email"], role=form.cleaned_data["role"]
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            notice = f"Added {membership.user.email} as {membership.role_slug}."
            return page_or_partial(request, PAGE, _context(scope, notice=notice), partial="members_section")
    return page_or_partial(request, PAGE, {**context, "add_form": form}, partial="members_section", status=422)


@require_http_methods(["POST", "DELETE"])
@project_view
def member_item(request: HttpRequest, scope: ProjectScope, membership_id: int) -> HttpResponse:
    """POST: change the member's role. DELETE: remove them from the project."""
    try:
        if request.method == "DELETE":
            member_services.member_remove(scope=scope, membership_id=membership_id)
            notice = "Member removed."
        else:
            form = MemberRoleForm(request.POST, roles=_context(scope)["role_choices"])
            if not form.is_valid():
                return page_or_partial(
                    request,
                    PAGE,
                    _context(scope, error="Choose one of the listed roles."),
                    partial="members_section",
                    status=422,
                )
            previous = next((m.role_slug for m in member_list(scope) if m.pk == membership_id), None)
            membership = member_services.member_update(
                scope=scope, membership_id=membership_id, role=form.cleaned_data["role"]
            )
            context = _context(scope)
            undo = role_undo(
                f"Role of {membership.user.email}",
                previous,
                membership.role_slug,
                url=reverse("ui:member_item", args=[scope.project.slug, membership.pk]),
                target="#members",
                offered=context["role_values"],
            )
            context.update(undo)
            return page_or_partial(request, PAGE, context, partial="members_section")
    except DomainError as exc:
        return page_or_partial(
            request, PAGE, _context(scope, error=exc.message), partial="members_section", status=exc.status
        )
    return page_or_partial(request, PAGE, _context(scope, notice=notice), partial="members_section")


def role_undo(
    subject: str, previous: str | None, current: str, *, url: str, target: str, offered: list[str]
) -> dict[str, Any]:
    """Context for templates/components/role_undo.html after a role change: the notice says what changed,
    and "Undo" posts the previous role back to the same endpoint (an ordinary, audited role change).
    Undo is offered only when the previous role is one the caller may still hand out."""
    if previous is None or previous == current:
        return {"notice": f"{subject} is {current}."}
    message = f"{subject} changed from {previous} to {current}."
    if previous not in offered:
        return {"notice": message}
    return {"undo": {"message": message, "url": url, "target": target, "role": previous}}


@require_POST
@project_view
def role_create(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    form = RoleCreateForm(request.POST)
    environments = [environment.slug for environment in matrix_environments(scope)]
    rules = parse_rule_rows(request.POST, environments)
    if form.is_valid() and not rules:
        form.add_error("rules", "Add at least one rule with an action.")
    elif form.is_valid():
        try:
            role = member_services.role_create(
                scope=scope, slug=form.cleaned_data["slug"], name=form.cleaned_data["name"], rules=rules
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            context = _context(scope, roles_notice=f"Role {role.slug} created. Assign it to members above.")
            return render_fragments(
                request, [(f"{PAGE}#roles_section", context), (f"{PAGE}#members_section", {**context, "oob": True})]
            )
    # Re-show the rules as typed, so a mistake in one row costs no retyping.
    rows = [{"index": index, **rule} for index, rule in enumerate(rules)] or [_blank_rule(0)]
    context = _context(scope, role_form=form, role_form_open=True, rule_rows=rows, next_rule_row=len(rows))
    response = page_or_partial(request, PAGE, context, partial="role_form", status=422)
    return reswap(retarget(response, "#role-form"), "outerHTML") if is_htmx(request) else response


@require_GET
@project_view
def role_rule_row(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """One more blank rule row for the role form, and the "add rule" button with the next index."""
    try:
        index = max(0, min(int(request.GET.get("index", "0")), 99))
    except ValueError:
        index = 0
    context = _context(scope, row=_blank_rule(index), next_rule_row=index + 1)
    return render_fragments(
        request, [(f"{PAGE}#rule_row", context), (f"{PAGE}#add_rule_button", {**context, "oob": True})]
    )


@require_http_methods(["POST", "DELETE"])
@project_view
def role_delete(request: HttpRequest, scope: ProjectScope, role: str) -> HttpResponse:
    try:
        member_services.role_delete(scope=scope, slug=role)
    except DomainError as exc:
        context = _context(scope, roles_error=exc.message)
        return page_or_partial(request, PAGE, context, partial="roles_section", status=exc.status)
    context = _context(scope, roles_notice=f"Role {role} deleted.")
    return render_fragments(
        request, [(f"{PAGE}#roles_section", context), (f"{PAGE}#members_section", {**context, "oob": True})]
    )
