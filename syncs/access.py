"""Who may do what with connections and syncs. The one place these decisions are made.

- A sync belongs to a project: ``syncs.read`` (admin, member) lists it and its history;
  ``syncs.manage`` (admin) creates, changes, deletes, triggers it and acts on drift. Callers who
  cannot see the project get 404 (``project_scope``).
- A connection belongs to an organization. It is managed (listed, created, tested) by people who
  may manage syncs somewhere in that organization: org admins and project admins. Changing or
  deleting one is for its creator or an org admin. Anyone else gets 404, as for a missing one.
  Any project admin of the organization may *use* a connection in a sync of their project: the
  connection is shared within the organization (documented in docs/syncs.md).
"""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from secrets_app.errors import NotFound, PermissionDenied
from secrets_app.models import Organization, Project
from secrets_app.policy.enforcement import require
from secrets_app.principals import Principal
from secrets_app.selectors.access import (
    ProjectScope,
    admin_organization_ids,
    is_org_admin,
    organization_denial,
    project_access,
    project_list_for_principal,
)
from syncs.models import AppConnection, SecretSync


def require_syncs(scope: ProjectScope, action: str, *, resource: str = "") -> None:
    """``syncs.read`` / ``syncs.manage`` in the scope's project (audited refusal, 403)."""
    require(scope, action, resource=resource)


def sync_get(scope: ProjectScope, ref: str) -> SecretSync:
    """A sync of the scope's project by public id or numeric id; NotFound otherwise."""
    require_syncs(scope, "syncs.read", resource=str(ref))
    query = SecretSync.objects.filter(project=scope.project).select_related("connection", "environment", "owner")
    sync = None
    try:
        sync = query.filter(public_id=uuid.UUID(str(ref))).first()
    except ValueError:
        if str(ref).isdigit():
            sync = query.filter(pk=int(ref)).first()
    if sync is None:
        raise NotFound("Sync not found")
    return sync


def manageable_organizations(principal: Principal) -> list[Organization]:
    """Organizations in which the principal may manage connections (see module docstring)."""
    if principal.user_id is None:
        return []
    result: dict[int, Organization] = {}
    for project in project_list_for_principal(principal):
        if project.organization_id in result:
            continue
        if project_access(principal, project).can("syncs.manage"):
            result[project.organization_id] = project.organization
    admin_of = Organization.objects.filter(pk__in=admin_organization_ids(principal))
    if principal.is_platform_superuser:
        admin_of = Organization.objects.all()
    for organization in admin_of:
        result.setdefault(organization.pk, organization)
    return sorted(result.values(), key=lambda org: org.slug)


def organization_for_connections(principal: Principal, slug: str | None) -> Organization:
    """The organization a new connection goes to: *slug*, or the only one the principal may
    manage connections in. NotFound when the principal may not manage connections there."""
    organizations = manageable_organizations(principal)
    if slug:
        for organization in organizations:
            if organization.slug == slug:
                return organization
        raise NotFound("Organization not found")
    if len(organizations) == 1:
        return organizations[0]
    if not organizations:
        raise NotFound("You do not manage syncs in any organization")
    raise PermissionDenied("You manage syncs in several organizations: name one (organization)")


def connection_list_for(principal: Principal) -> QuerySet[AppConnection]:
    org_ids = [organization.pk for organization in manageable_organizations(principal)]
    return AppConnection.objects.filter(organization_id__in=org_ids).select_related("organization", "created_by")


def connection_get_for(principal: Principal, ref: str, *, for_change: bool = False) -> AppConnection:
    """A connection the principal may see (NotFound otherwise). With *for_change*, also check the
    principal created it or administers its organization (403, audited, otherwise)."""
    query = connection_list_for(principal)
    connection = None
    try:
        connection = query.filter(public_id=uuid.UUID(str(ref))).first()
    except ValueError:
        connection = None
    if connection is None:
        raise NotFound("Connection not found")
    if (
        for_change
        and (principal.user_id is None or connection.created_by_id != principal.user_id)
        and not is_org_admin(principal, connection.organization_id)
    ):
        raise organization_denial(
            principal,
            organization_id=connection.organization_id,
            requested_action="connections.manage",
            resource_type="connection",
            resource_id=str(connection.public_id),
            message="Only the person who created this connection or an organization admin may change it",
        )
    return connection


def connection_usable_in(scope: ProjectScope, ref: str) -> AppConnection:
    """A connection of the project's organization, for a sync (NotFound otherwise)."""
    try:
        connection = AppConnection.objects.filter(
            organization_id=scope.project.organization_id, public_id=uuid.UUID(str(ref))
        ).first()
    except ValueError:
        connection = None
    if connection is None:
        raise NotFound("Connection not found")
    return connection


def project_of(sync: SecretSync) -> Project:
    return sync.project
