"""E-mail invitations in the web UI: org admins invite, resend and revoke on the People page; the
invitee opens the link and accepts.

The link ``/invite/<token>/`` is exchanged at once: its GET only checks the token, keeps the
invitation's id and the *hash* of the link's random part in the session and redirects to
``/invite/accept/``. So the token is in one request line only: the page, its error answers (which
Django logs with their path), the Referer of its assets and the browser's history name none of it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from secrets_app.errors import DomainError
from secrets_app.models import Invitation, Organization, OrgRole
from secrets_app.services.invitations import (
    InvitationRefused,
    invitation_accept,
    invitation_accept_signed_in,
    invitation_check,
    invitation_create,
    invitation_existing_account,
    invitation_link_resolve,
    invitation_resend,
    invitation_revoke,
)
from secrets_app.ui.account_forms import InvitationAcceptForm, InvitationCreateForm
from secrets_app.ui.framework import apply_domain_error, no_store, org_view, principal_of
from secrets_app.ui.people import people_section

SESSION_KEY = "strongroom_invitation"
ACCEPT_PAGE = "pages/invitation_accept.html"
# The account an invitee creates signs in like a password login would.
LOGIN_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _sent_notice(invitation: Invitation, verb: str) -> dict[str, Any]:
    if invitation.send_error:
        return {
            "error": f"The invitation to {invitation.email} was {verb}, but the e-mail could not be sent "
            f"({invitation.send_error}). Check the mail settings, then resend it."
        }
    return {"notice": f"Invitation {verb}: {invitation.email} has an e-mail with a link to join."}


@require_POST
@org_view
def invitation_create_view(request: HttpRequest, organization: Organization) -> HttpResponse:
    form = InvitationCreateForm(request.POST)
    if form.is_valid():
        try:
            invitation = invitation_create(
                principal=principal_of(request),
                organization=organization,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
            )
        except DomainError as exc:
            apply_domain_error(form, exc)  # a refusal is raised again: org_view answers 403
        else:
            return people_section(request, organization, **_sent_notice(invitation, "sent"))
    return people_section(request, organization, invite_form=form, status=422)


@require_POST
@org_view
def invitation_resend_view(request: HttpRequest, organization: Organization, invitation_id: str) -> HttpResponse:
    try:
        invitation = invitation_resend(
            principal=principal_of(request), organization=organization, public_id=invitation_id
        )
    except DomainError as exc:
        return people_section(request, organization, error=exc.message, status=exc.status)
    return people_section(request, organization, **_sent_notice(invitation, "sent again"))


@require_POST
@org_view
def invitation_revoke_view(request: HttpRequest, organization: Organization, invitation_id: str) -> HttpResponse:
    try:
        invitation = invitation_revoke(
            principal=principal_of(request), organization=organization, public_id=invitation_id
        )
    except DomainError as exc:
        return people_section(request, organization, error=exc.message, status=exc.status)
    notice = f"The invitation to {invitation.email} is revoked: its link no longer works."
    return people_section(request, organization, notice=notice)


# --- the invitee ---------------------------------------------------------------------------------


@require_GET
def invitation_open(request: HttpRequest, token: str) -> HttpResponse:
    """Check the link and swap it for a session entry (changes nothing else: mail scanners fetch it)."""
    try:
        invitation, token_hash = invitation_link_resolve(token)
    except InvitationRefused as exc:
        request.session[SESSION_KEY] = {"refused": exc.reason, "message": exc.message, "status": exc.status}
    else:
        request.session[SESSION_KEY] = {"id": str(invitation.public_id), "hash": token_hash}
    return redirect("ui:invitation_accept")


def _refused(request: HttpRequest, *, message: str, status: int, reason: str) -> HttpResponse:
    context = {"refused": True, "message": message, "reason": reason}
    return no_store(render(request, ACCEPT_PAGE, context, status=status))


@require_http_methods(["GET", "POST"])
def invitation_accept_view(request: HttpRequest) -> HttpResponse:
    held = request.session.get(SESSION_KEY) or {}
    if not held:
        message = "Open the link in your invitation e-mail to join an organization."
        return _refused(request, message=message, status=400, reason="no_link")
    if "refused" in held:
        return _refused(request, message=held["message"], status=held["status"], reason=held["refused"])
    try:
        invitation = invitation_check(public_id=held["id"], token_hash=held["hash"])
    except InvitationRefused as exc:
        return _refused(request, message=exc.message, status=exc.status, reason=exc.reason)
    existing = invitation_existing_account(invitation)
    signed_in_as = request.user.email.lower() if request.user.is_authenticated else None
    context: dict[str, Any] = {
        "invitation": invitation,
        "role_label": OrgRole(invitation.role).label.lower(),
        "existing": existing is not None,
        "signed_in_as": signed_in_as,
        "form": InvitationAcceptForm(),
        "login_url": reverse("ui:login") + "?next=" + reverse("ui:invitation_accept"),
    }
    if signed_in_as is not None and signed_in_as != invitation.email:
        return no_store(render(request, ACCEPT_PAGE, {**context, "mismatch": True}))
    if request.method == "GET":
        return no_store(render(request, ACCEPT_PAGE, context))
    try:
        if existing is not None:
            if signed_in_as is None:
                return redirect(context["login_url"])
            invitation_accept_signed_in(public_id=held["id"], token_hash=held["hash"], user=request.user)
        else:
            form = InvitationAcceptForm(request.POST)
            if not form.is_valid():
                return no_store(render(request, ACCEPT_PAGE, {**context, "form": form}, status=422))
            user = invitation_accept(
                public_id=held["id"], token_hash=held["hash"], password=form.cleaned_data["password"]
            )
            login(request, user, backend=LOGIN_BACKEND)
    except InvitationRefused as exc:
        return _refused(request, message=exc.message, status=exc.status, reason=exc.reason)
    except DomainError as exc:
        if existing is None and exc.fields:
            apply_domain_error(form, exc)
            return no_store(render(request, ACCEPT_PAGE, {**context, "form": form}, status=exc.status))
        return _refused(request, message=exc.message, status=exc.status, reason="refused")
    request.session.pop(SESSION_KEY, None)
    return redirect("ui:home")
