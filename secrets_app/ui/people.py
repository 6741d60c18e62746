"""The organization's people: everyone sees the list; org admins invite people by e-mail (when SMTP
is configured: secrets_app/ui/invitations.py) or else add them (a generated password is shown once),
change their organization role, deactivate them and unlock a locked-out account. Services enforce
the rules."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from secrets_app.errors import DomainError
from secrets_app.models import Organization, OrgRole
from secrets_app.selectors.access import is_org_admin
from secrets_app.selectors.invitations import invitation_list_pending
from secrets_app.services.invitations import invitation_email_configured, invitation_state, invitation_ttl
from secrets_app.services.lockout import person_locked_ids, person_unlock
from secrets_app.services.people import person_add, person_deactivate, person_list, person_set_role
from secrets_app.ui.account_forms import InvitationCreateForm
from secrets_app.ui.forms import PersonAddForm, PersonDeactivateForm, PersonRoleForm
from secrets_app.ui.framework import apply_domain_error, no_store, org_view, page_or_partial, principal_of
from secrets_app.ui.members import role_undo

PAGE = "pages/people.html"


def _context(request: HttpRequest, organization: Organization, **extra: Any) -> dict[str, Any]:
    principal = principal_of(request)
    people = person_list(principal=principal, organization=organization)
    # Only shows or hides controls: person_add / person_set_role / person_deactivate check again.
    is_admin = is_org_admin(principal, organization.pk)
    active = sum(1 for person in people if person.user.is_active)
    context = {
        "organization": organization,
        "nav": "people",
        "people": people,
        "active_count": active,
        "inactive_count": len(people) - active,
        "me": principal.user_id,
        "can_manage_people": is_admin,
        "org_roles": OrgRole.choices,
        "add_form": PersonAddForm(),
    }
    if is_admin:
        # Failed-login lockouts (None: the lockout store cannot be read, the page says so).
        context["locked_ids"] = person_locked_ids(people)
        context["email_configured"] = invitation_email_configured()
        context["invite_form"] = InvitationCreateForm()
        context["invitation_ttl_hours"] = int(invitation_ttl().total_seconds() // 3600)
        context["invitations"] = [
            (invitation, invitation_state(invitation))
            for invitation in invitation_list_pending(principal=principal, organization=organization)
        ]
    context.update(extra)
    return context


def people_section(
    request: HttpRequest, organization: Organization, *, status: int = 200, **extra: Any
) -> HttpResponse:
    """The People section (list, invitations, forms) as a page or, for htmx, the fragment."""
    context = _context(request, organization, **extra)
    return page_or_partial(request, PAGE, context, partial="people_section", status=status)


@require_http_methods(["GET", "POST"])
@org_view
def people_page(request: HttpRequest, organization: Organization) -> HttpResponse:
    """GET: the people of the organization. POST: add a person (errors stay in the add form)."""
    if request.method == "GET":
        return page_or_partial(request, PAGE, _context(request, organization))
    form = PersonAddForm(request.POST)
    if form.is_valid():
        try:
            user, generated = person_add(
                principal=principal_of(request),
                organization=organization,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                password=form.cleaned_data["password"] or None,
            )
        except DomainError as exc:
            apply_domain_error(form, exc)  # a refusal is raised again: org_view answers 403
        else:
            role = form.cleaned_data["role"]
            if generated:
                notice = f"Added {user.email} as organization {role}."
            else:
                notice = f"Added {user.email} as organization {role}, with the password you chose."
            # The generated password is in this response only: never cache it.
            return no_store(
                people_section(request, organization, notice=notice, new_password=generated, new_email=user.email)
            )
    return people_section(request, organization, add_form=form, status=422)


@require_POST
@org_view
def person_role(request: HttpRequest, organization: Organization, user_id: int) -> HttpResponse:
    form = PersonRoleForm(request.POST)
    if not form.is_valid():
        return people_section(request, organization, error="Choose admin or member.", status=422)
    principal = principal_of(request)
    people = person_list(principal=principal, organization=organization)
    previous = next((person.role for person in people if person.user_id == user_id), None)
    try:
        membership = person_set_role(
            principal=principal, organization=organization, user_id=user_id, role=form.cleaned_data["role"]
        )
    except DomainError as exc:
        return people_section(request, organization, error=exc.message, status=exc.status)
    undo = role_undo(
        f"Organization role of {membership.user.email}",
        previous,
        membership.role,
        url=reverse("ui:person_role", args=[organization.slug, user_id]),
        target="#people",
        offered=[value for value, _ in OrgRole.choices],
    )
    return people_section(request, organization, **undo)


@require_POST
@org_view
def person_deactivate_view(request: HttpRequest, organization: Organization, user_id: int) -> HttpResponse:
    """Disable the account: its sessions end on their next request and its API tokens are revoked."""
    form = PersonDeactivateForm(request.POST)
    if not form.is_valid():
        return people_section(request, organization, error="Keep the reason under 500 characters.", status=422)
    try:
        user = person_deactivate(
            principal=principal_of(request),
            organization=organization,
            user_id=user_id,
            reason=form.cleaned_data["reason"],
        )
    except DomainError as exc:
        return people_section(request, organization, error=exc.message, status=exc.status)
    notice = f"{user.email} is deactivated: signed out everywhere, API tokens revoked."
    return people_section(request, organization, notice=notice)


@require_POST
@org_view
def person_unlock_view(request: HttpRequest, organization: Organization, user_id: int) -> HttpResponse:
    """Lift a failed-login lockout of the account (audited as ``user.unlocked``)."""
    try:
        user = person_unlock(principal=principal_of(request), organization=organization, user_id=user_id)
    except DomainError as exc:
        return people_section(request, organization, error=exc.message, status=exc.status)
    return people_section(request, organization, notice=f"{user.email} is unlocked and can sign in again.")
