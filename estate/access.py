"""Who may see and act on an organization's Azure DevOps estate: the one place it is decided.

The estate lists every Azure DevOps project, group, pipeline and service connection a connection
can read, whatever Strongroom project they may later belong to, so it is an organization-level
view: organization admins (and platform superusers) only. A member of the organization who is not
an admin gets 403 (audited ``permission.denied``); anyone outside it, and machine identities, 404
like a missing organization.

Importing writes into a Strongroom place: the secrets service asks the permission decision point
for ``secrets.create`` / ``secrets.edit`` there, and the sync conversion asks ``syncs.manage`` and
``secrets.read_value`` (syncs.services.syncs.sync_create), so an import is never a way around them.
"""

from __future__ import annotations

from secrets_app.models import Organization
from secrets_app.principals import Principal
from secrets_app.selectors.access import is_org_admin, organization_denial
from secrets_app.services.people import organization_get_for_principal

ACTION = "estate.manage"


def estate_organization(principal: Principal, organization: str | Organization) -> Organization:
    """The organization whose estate *principal* may see and scan and import from.
    NotFound outside it; PermissionDenied (audited) for a member who is not an admin."""
    found = (
        organization
        if isinstance(organization, Organization)
        else organization_get_for_principal(principal, organization)
    )
    if not is_org_admin(principal, found.pk):
        raise organization_denial(
            principal,
            organization_id=found.pk,
            requested_action=ACTION,
            resource_type="estate",
            resource_id=found.slug,
            message="Only organization admins can see and import the Azure DevOps estate",
        )
    return found
