"""Reads about machine identities, filtered by who asks.

Identities and their credentials are an organization admin's business: people who are not admins
of the identity's organization are refused (403, audited); callers outside it see nothing (404).
Project memberships of identities are read like people's: ``members.read`` in the project.
"""

from __future__ import annotations

import uuid

from secrets_app.errors import NotFound
from secrets_app.models import (
    ClientSecret,
    IdentityAccessToken,
    IdentityProjectMembership,
    MachineIdentity,
    Organization,
    UniversalAuth,
)
from secrets_app.policy.enforcement import require
from secrets_app.principals import Principal
from secrets_app.selectors.access import ProjectScope, is_org_member, org_admin_require


def organization_admin_require(principal: Principal, organization: Organization, action: str) -> None:
    """Raise PermissionDenied (audited as ``permission.denied``) unless an admin of *organization*."""
    org_admin_require(
        principal,
        organization.pk,
        requested_action=action,
        resource_type="identity",
        message="Only organization admins can manage machine identities",
    )


def identity_get_for_principal(principal: Principal, identity_ref: str | uuid.UUID, *, action: str) -> MachineIdentity:
    """The identity (by public id) for an admin of its organization. NotFound when missing or in an
    organization the caller does not belong to; PermissionDenied (audited) for other members."""
    try:
        public_id = uuid.UUID(str(identity_ref))
    except ValueError:
        raise NotFound("Identity not found") from None
    identity = MachineIdentity.objects.select_related("organization").filter(public_id=public_id).first()
    if identity is None or not is_org_member(principal, identity.organization_id):
        raise NotFound("Identity not found")
    organization_admin_require(principal, identity.organization, action)
    return identity


def identity_list(*, principal: Principal, organization: Organization) -> list[MachineIdentity]:
    """Identities of the organization, by name (org admins only)."""
    organization_admin_require(principal, organization, "identities.read")
    return list(
        MachineIdentity.objects.filter(organization=organization)
        .select_related("universal_auth", "kubernetes_auth")
        .prefetch_related("jwt_auths", "project_memberships__project", "project_memberships__custom_role")
        .order_by("name")
    )


def identity_universal_auth(identity: MachineIdentity) -> UniversalAuth | None:
    return UniversalAuth.objects.filter(identity=identity).first()


def client_secret_list(*, identity: MachineIdentity) -> list[ClientSecret]:
    """The identity's client secrets, newest first (hash never leaves the model layer's callers)."""
    return list(ClientSecret.objects.filter(universal_auth__identity=identity).order_by("-created_at", "-id"))


def identity_live_token_count(identity: MachineIdentity) -> int:
    from django.utils import timezone

    return IdentityAccessToken.objects.filter(
        identity=identity, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).count()


def identity_memberships_of(identity: MachineIdentity) -> list[IdentityProjectMembership]:
    return list(
        IdentityProjectMembership.objects.filter(identity=identity)
        .select_related("project", "custom_role")
        .order_by("project__name")
    )


def identity_membership_list(scope: ProjectScope) -> list[IdentityProjectMembership]:
    """Identities with a role in the project, by name. Requires ``members.read``."""
    require(scope, "members.read")
    return list(
        IdentityProjectMembership.objects.filter(project=scope.project)
        .select_related("identity", "custom_role")
        .order_by("identity__name", "id")
    )
