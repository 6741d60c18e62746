"""What the policy decides on: which organizations a principal administers, which projects it
sees, and the rules it holds in each. The decisions themselves are ``secrets_app.policy``'s.

Every lookup goes through ``principal.user_id`` / ``principal.identity_id`` (None for the other
kind), never a bare id, so a machine identity can never borrow a person's memberships."""

from __future__ import annotations

import copy
import datetime
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from access_cache.store import access_cache
from audit.models import Outcome
from audit.noise import audit_denial_record
from audit.services import AuditActor, audit_record
from secrets_app.errors import Conflict, NotFound, PermissionDenied
from secrets_app.models import (
    BuiltinRole,
    GroupProjectMembership,
    IdentityProjectMembership,
    Organization,
    OrganizationMembership,
    OrgRole,
    Project,
    ProjectMembership,
    Role,
    TemporaryAccessGrant,
)
from secrets_app.policy import BUILTIN_RULES, ProjectAccess, Rule
from secrets_app.principals import Principal

TEMPORARY_ROLE = "temporary"


def admin_organization_ids(principal: Principal) -> list[int]:
    """Organizations the principal administers (people only; machines administer nothing)."""
    if principal.user_id is None:
        return []
    return list(
        OrganizationMembership.objects.filter(user_id=principal.user_id, role=OrgRole.ADMIN).values_list(
            "organization_id", flat=True
        )
    )


def is_org_admin(principal: Principal, organization_id: int) -> bool:
    """A platform superuser, or a person with the admin role in the organization."""
    if principal.is_platform_superuser:
        return True
    if principal.user_id is None:
        return False
    return OrganizationMembership.objects.filter(
        organization_id=organization_id, user_id=principal.user_id, role=OrgRole.ADMIN
    ).exists()


def is_org_member(principal: Principal, organization_id: int) -> bool:
    """A person with any role in the organization (a platform superuser counts)."""
    if principal.is_platform_superuser:
        return True
    if principal.user_id is None:
        return False
    return OrganizationMembership.objects.filter(organization_id=organization_id, user_id=principal.user_id).exists()


def organization_denial(
    principal: Principal,
    *,
    organization_id: int | None,
    requested_action: str,
    resource_type: str,
    resource_id: str = "",
    message: str,
) -> PermissionDenied:
    """Record an organization-level refusal as ``permission.denied`` (committed with the caller's
    transaction, or at once in autocommit) and return the error to raise. Repeats within the
    denial window are counted and summarised (audit/noise.py)."""
    audit_denial_record(
        actor=principal.audit_actor(),
        organization_id=organization_id,
        resource_type=resource_type,
        resource_id=resource_id,
        metadata={"requested_action": requested_action},
    )
    return PermissionDenied(message)


def org_admin_require(
    principal: Principal,
    organization_id: int,
    *,
    requested_action: str,
    resource_type: str,
    resource_id: str = "",
    message: str,
) -> None:
    """Raise PermissionDenied (audited) unless the principal administers the organization."""
    if not is_org_admin(principal, organization_id):
        raise organization_denial(
            principal,
            organization_id=organization_id,
            requested_action=requested_action,
            resource_type=resource_type,
            resource_id=resource_id,
            message=message,
        )


def people_admin_require(principal: Principal, organization: Organization, *, message: str) -> None:
    """Raise PermissionDenied (audited as ``organization.manage_people``) unless the principal administers the
    organization: adding, changing, deactivating and inviting people, and seeing invitations."""
    org_admin_require(
        principal,
        organization.pk,
        requested_action="organization.manage_people",
        resource_type="organization",
        resource_id=organization.slug,
        message=message,
    )


def project_list_for_principal(principal: Principal, *, admin_org_ids: list[int] | None = None) -> QuerySet[Project]:
    """Projects the principal is a member of or holds an open temporary grant in, plus every project
    of organizations it administers."""
    if principal.is_platform_superuser:
        return Project.objects.select_related("organization").order_by("name")
    if principal.identity_id is not None:
        if principal.organization_id is None:  # an identity always belongs to an organization
            return Project.objects.none()
        # Identity memberships are their own table: never those of a person sharing the numeric id.
        identity_of = IdentityProjectMembership.objects.filter(identity_id=principal.identity_id).exclude(
            builtin_role="no-access"
        )
        return (
            Project.objects.filter(organization_id=principal.organization_id)
            .filter(Q(id__in=identity_of.values("project_id")) | Q(id__in=open_grants(principal).values("project_id")))
            .select_related("organization")
            .order_by("name")
        )
    if principal.user_id is None:
        return Project.objects.none()
    member_of = ProjectMembership.objects.filter(user_id=principal.user_id).exclude(builtin_role="no-access")
    through_groups = GroupProjectMembership.objects.filter(group__memberships__user_id=principal.user_id).exclude(
        builtin_role="no-access"
    )
    return (
        Project.objects.filter(
            Q(id__in=member_of.values("project_id"))
            | Q(id__in=through_groups.values("project_id"))
            | Q(id__in=open_grants(principal).values("project_id"))
            | Q(organization_id__in=admin_org_ids if admin_org_ids is not None else admin_organization_ids(principal))
        )
        .select_related("organization")
        .order_by("name")
    )


@dataclass(frozen=True)
class ProjectScope:
    """A principal acting in one project, with its access decided once for the request."""

    principal: Principal
    project: Project
    access: ProjectAccess

    def audit_actor(self) -> AuditActor:
        return self.principal.audit_actor(self.access.role)

    def audit(self, action: str, *, outcome: str = Outcome.ALLOW, **fields: Any) -> None:
        """Record *action* by this principal in this project (inside the caller's transaction).
        *fields* are ``audit_record``'s: environment, path, resource_type, resource_id, metadata."""
        audit_record(
            action=action,
            actor=self.audit_actor(),
            outcome=outcome,
            organization_id=self.project.organization_id,
            project_id=self.project.pk,
            **fields,
        )

    def audit_denial(self, requested_action: str, *, reasons: list[str] | None = None, **fields: Any) -> None:
        """Record a refusal as ``permission.denied`` naming what was asked for (and why, when the
        reasons are rule descriptions: never values). Repeats within the denial window are counted
        and summarised (audit/noise.py)."""
        metadata: dict[str, Any] = {"requested_action": requested_action}
        if reasons:
            metadata["reasons"] = reasons
        audit_denial_record(
            actor=self.audit_actor(),
            organization_id=self.project.organization_id,
            project_id=self.project.pk,
            metadata=metadata,
            **fields,
        )


def project_scope(principal: Principal, project_ref: str) -> ProjectScope:
    """The principal in the project *project_ref* names. With an access epoch (a token-checked API
    request on PostgreSQL) the lookup is served from the per-process cache of that epoch, which any
    change to memberships, roles, grants, groups, projects or the principal ends (access_cache)."""
    if principal.access_epoch is None:
        project, access = project_get_for_principal(principal, project_ref)
        return ProjectScope(principal=principal, project=project, access=access)
    project, access = access_cache.get_or_compute(
        principal.access_epoch,
        ("project_scope", principal.key, principal.is_superuser, project_ref),
        lambda: _project_access_until(principal, project_ref),
    )
    # A copy per request: callers may set attributes on their project; the cached one stays as read.
    return ProjectScope(principal=principal, project=copy.copy(project), access=access)


def _project_access_until(
    principal: Principal, project_ref: str
) -> tuple[tuple[Project, ProjectAccess], datetime.datetime | None]:
    """The project and access, and when they stop being true with no row changing: the next
    start or end of one of the principal's temporary grants in the project."""
    project, access = project_get_for_principal(principal, project_ref)
    now = timezone.now()
    grants = _principal_grants(principal).filter(project=project, revoked_at__isnull=True, ends_at__gt=now)
    moments = [
        moment
        for starts_at, ends_at in grants.values_list("starts_at", "ends_at")
        for moment in (starts_at, ends_at)
        if moment > now
    ]
    return (project, access), min(moments, default=None)


def _principal_grants(principal: Principal) -> QuerySet[TemporaryAccessGrant]:
    if principal.identity_id is not None:
        return TemporaryAccessGrant.objects.filter(identity_id=principal.identity_id)
    if principal.user_id is not None:
        return TemporaryAccessGrant.objects.filter(user_id=principal.user_id)
    return TemporaryAccessGrant.objects.none()


def project_scope_for(principal: Principal, project: Project) -> ProjectScope:
    return ProjectScope(principal=principal, project=project, access=project_access(principal, project))


def project_get_for_principal(principal: Principal, project_ref: str) -> tuple[Project, ProjectAccess]:
    """Find a visible project by slug or public id. Raises NotFound for missing *and* invisible ones."""
    # The reader's admin organizations, looked up once for both the listing and the access check.
    admin_org_ids = admin_organization_ids(principal)
    projects = project_list_for_principal(principal, admin_org_ids=admin_org_ids)
    try:
        matches = list(projects.filter(public_id=uuid.UUID(str(project_ref))))
    except ValueError:
        matches = list(projects.filter(slug=project_ref))
    if not matches:
        raise NotFound("Project not found")
    if len(matches) > 1:
        raise Conflict("Several of your organizations have a project with this slug; use the project id")
    project = matches[0]
    return project, project_access(principal, project, admin_org_ids=admin_org_ids)


def project_access(principal: Principal, project: Project, *, admin_org_ids: list[int] | None = None) -> ProjectAccess:
    if principal.is_platform_superuser:
        return ProjectAccess(project_id=project.pk, role="admin", rules=BUILTIN_RULES["admin"])
    if project.organization_id in (admin_org_ids if admin_org_ids is not None else admin_organization_ids(principal)):
        return ProjectAccess(project_id=project.pk, role="admin", rules=BUILTIN_RULES["admin"])
    if principal.identity_id is not None:
        identity_membership = (
            IdentityProjectMembership.objects.filter(project=project, identity_id=principal.identity_id)
            .select_related("custom_role")
            .prefetch_related("custom_role__rules")
            .first()
        )
        grants: list[ProjectMembership | IdentityProjectMembership | GroupProjectMembership] = (
            [identity_membership] if identity_membership is not None else []
        )
    elif principal.user_id is not None:
        grants = [
            *ProjectMembership.objects.filter(project=project, user_id=principal.user_id)
            .select_related("custom_role")
            .prefetch_related("custom_role__rules"),
            *GroupProjectMembership.objects.filter(project=project, group__memberships__user_id=principal.user_id)
            .select_related("custom_role", "group")
            .prefetch_related("custom_role__rules")
            .order_by("group__slug"),
        ]
    else:
        grants = []
    # Read at the time of the check, never cached beyond this request: a grant stops working at its
    # end time whether or not any worker runs (docs/permissions.md, "Temporary access").
    temporary = temporary_grant_rules(open_grants(principal).filter(project=project))
    if not grants and not temporary:
        return ProjectAccess(project_id=project.pk, role="no-access", rules=())
    if not grants:
        return ProjectAccess(project_id=project.pk, role=TEMPORARY_ROLE, rules=temporary)
    role = _role_label(grants)
    if temporary and role != BuiltinRole.ADMIN:
        role = f"{role}+{TEMPORARY_ROLE}"
    return ProjectAccess(project_id=project.pk, role=role, rules=_combined_rules(grants) + temporary)


def open_grants(principal: Principal) -> QuerySet[TemporaryAccessGrant]:
    """The principal's temporary grants whose window is open now (``starts_at <= now < ends_at``,
    not revoked). Whether a grant counts is decided here, at each check, so access ends at
    ``ends_at`` with no job running; a person's grants count only while their account is active."""
    now = timezone.now()
    window = TemporaryAccessGrant.objects.filter(revoked_at__isnull=True, starts_at__lte=now, ends_at__gt=now)
    if principal.identity_id is not None:
        return window.filter(identity_id=principal.identity_id)
    if principal.user_id is not None:
        return window.filter(user_id=principal.user_id, user__is_active=True)
    return window.none()


def temporary_grant_rules(grants: Iterable[TemporaryAccessGrant]) -> tuple[Rule, ...]:
    """The rules of temporary grants as the policy reads them (the grant's rule dicts)."""
    return tuple(
        Rule(
            effect=str(rule.get("effect", "allow")),
            action=str(rule["action"]),
            environments=frozenset(rule.get("environments") or []),
            path=str(rule.get("path") or "/**"),
            tags=frozenset(rule.get("tags") or []),
        )
        for grant in grants
        for rule in grant.rules
    )


def _combined_rules(grants: list[Any]) -> tuple[Rule, ...]:
    """A person's own role and their groups' roles, as one rule set: allows add up and a deny from
    any of them wins (as Vault combines policies), decided by the one policy."""
    return tuple(rule for grant in grants for rule in membership_rules(grant))


def _role_label(grants: list[Any]) -> str:
    """The role to show and to record in audit rows: ``admin`` when any grant is the built-in admin,
    else the direct role, else the groups' roles joined with ``+``."""
    slugs = [grant.role_slug for grant in grants]
    if BuiltinRole.ADMIN in slugs:
        return BuiltinRole.ADMIN
    if isinstance(grants[0], ProjectMembership | IdentityProjectMembership):
        return slugs[0]
    return "+".join(dict.fromkeys(slugs))


def role_rules(role: Role) -> tuple[Rule, ...]:
    """A custom role's rules as the policy reads them."""
    return tuple(
        Rule(
            effect=rule.effect,
            action=rule.action,
            environments=frozenset(rule.environments or []),
            path=rule.path or "/**",
            tags=frozenset(rule.tags or []),
        )
        for rule in role.rules.all()
    )


def membership_rules(
    membership: ProjectMembership | IdentityProjectMembership | GroupProjectMembership,
) -> tuple[Rule, ...]:
    """The rules a person's or identity's project membership holds (built-in or custom role)."""
    if membership.custom_role is not None:
        return role_rules(membership.custom_role)
    return BUILTIN_RULES.get(membership.builtin_role, ())
