"""Invitations an organization's admins see on the People page and through the API."""

from __future__ import annotations

from secrets_app.models import Invitation, InvitationStatus, Organization
from secrets_app.principals import Principal
from secrets_app.selectors.access import people_admin_require


def invitation_list_pending(*, principal: Principal, organization: Organization) -> list[Invitation]:
    """Pending invitations, newest first, expired ones included (they can be resent). Org admins only."""
    people_admin_require(principal, organization, message="Only organization admins can see invitations")
    return list(
        Invitation.objects.filter(organization=organization, status=InvitationStatus.PENDING)
        .select_related("invited_by")
        .order_by("-created_at")
    )
