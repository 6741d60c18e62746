"""Who may hand out which rights. Nobody can grant, assign or edit a role to rights they do not
hold themselves; nobody changes their own membership; only admins change an admin.

Used for people's and machine identities' project memberships and for custom roles alike, so the
rule is the same on every surface (UI, REST API, Infisical compat). Each refusal is audited as
``permission.denied`` with the requested action and the reasons (rule descriptions, no values).
"""

from __future__ import annotations

from collections.abc import Iterable

from secrets_app.errors import PermissionDenied, ValidationFailed
from secrets_app.models import BuiltinRole, GroupProjectMembership, IdentityProjectMembership, ProjectMembership, Role
from secrets_app.policy import BUILTIN_RULES, Rule, grants_beyond
from secrets_app.selectors.access import ProjectScope, membership_rules, role_rules


def role_resolve(scope: ProjectScope, role: str) -> tuple[str, Role | None]:
    """(built-in slug, None) or ("", custom role) for *role*; ValidationFailed naming ``role``."""
    if role in BuiltinRole.values:
        return role, None
    custom = Role.objects.filter(project=scope.project, slug=role).prefetch_related("rules").first()
    if custom is None:
        raise ValidationFailed("role", f"unknown role '{role}'")
    return "", custom


def rules_of(builtin: str, custom: Role | None) -> tuple[Rule, ...]:
    return role_rules(custom) if custom is not None else BUILTIN_RULES.get(builtin, ())


def _refuse(
    scope: ProjectScope,
    requested_action: str,
    resource_type: str,
    resource_id: str,
    message: str,
    reasons: list[str] | None = None,
) -> None:
    scope.audit_denial(
        requested_action,
        resource_type=resource_type,
        resource_id=resource_id,
        reasons=reasons,
    )
    raise PermissionDenied(message)


def may_grant(scope: ProjectScope, rules: Iterable[Rule]) -> bool:
    """Whether the caller holds every right *rules* grant (for offering only grantable roles)."""
    return not grants_beyond(rules, scope.access.rules)


def grant_require(
    scope: ProjectScope, rules: Iterable[Rule], *, requested_action: str, resource_type: str, resource_id: str
) -> None:
    """Refuse (audited, 403) unless the caller holds every right *rules* grant."""
    reasons = grants_beyond(rules, scope.access.rules)
    if reasons:
        _refuse(
            scope,
            requested_action,
            resource_type,
            resource_id,
            f"You cannot grant rights you do not hold yourself: {reasons[0]}",
            reasons,
        )


def _membership_change_refusal(
    scope: ProjectScope, membership: ProjectMembership | IdentityProjectMembership
) -> tuple[str, list[str]] | None:
    """Why the caller may not change *membership* (message, reasons), or None when it may."""
    own = (isinstance(membership, ProjectMembership) and membership.user_id == scope.principal.user_id) or (
        isinstance(membership, IdentityProjectMembership) and membership.identity_id == scope.principal.identity_id
    )
    if own:
        return "You cannot change your own membership or role", []
    return held_rights_refusal(scope, membership, admin="an admin", holder="a member who holds")


def held_rights_refusal(
    scope: ProjectScope,
    membership: ProjectMembership | IdentityProjectMembership | GroupProjectMembership,
    *,
    admin: str,
    holder: str,
) -> tuple[str, list[str]] | None:
    """Why the caller may not change what *membership* holds: an admin's role only by an admin,
    and never one holding rights the caller lacks. *admin* / *holder* name the member in the
    message ("an admin" / "a member who holds")."""
    if membership.builtin_role == BuiltinRole.ADMIN and not scope.access.is_admin:
        return f"Only project admins can change {admin}", []
    reasons = grants_beyond(membership_rules(membership), scope.access.rules)
    if reasons:
        return f"You cannot change {holder} rights you do not: {reasons[0]}", reasons
    return None


def may_change_membership(scope: ProjectScope, membership: ProjectMembership | IdentityProjectMembership) -> bool:
    return _membership_change_refusal(scope, membership) is None


def membership_change_require(
    scope: ProjectScope,
    membership: ProjectMembership | IdentityProjectMembership,
    *,
    requested_action: str,
    resource_type: str,
    resource_id: str,
) -> None:
    """Before changing or removing *membership*: not the caller's own, an admin's only by an
    admin, and never one holding rights the caller lacks (no demoting your betters)."""
    refusal = _membership_change_refusal(scope, membership)
    if refusal is not None:
        message, reasons = refusal
        _refuse(scope, requested_action, resource_type, resource_id, message, reasons)


def role_change_require(scope: ProjectScope, role: Role, *, requested_action: str) -> None:
    """Before editing or deleting custom *role*: not the caller's own role, and not one granting
    rights the caller lacks."""
    if scope.access.role == role.slug:
        _refuse(scope, requested_action, "role", role.slug, "You cannot change the role you hold")
    grant_require(
        scope, role_rules(role), requested_action=requested_action, resource_type="role", resource_id=role.slug
    )
