"""Applying a least-privilege proposal in one click: the identity's membership moves to a custom
role ``lp-<identity name>`` holding exactly the proposed rules (or to the built-in ``no-access``
when removal is proposed), in one transaction with one ``identity.least_privilege_applied`` event
naming the rules before and after (descriptions, never values).

The caller needs ``members.manage`` and ``roles.manage`` (the decision point), and the same
containment rules as any role change hold: nobody changes their own membership, an admin's only
an admin may change, and nobody grants (or edits a role to) rights they do not hold themselves.
The proposal is recomputed here, never taken from the client; when the client names the proposal
it saw (its fingerprint) and it has changed since, nothing is applied (409)."""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from governance.selectors.least_privilege import (
    IdentityAccess,
    ProposalKind,
    clean_days,
    identity_accesses,
    identity_membership_get,
)
from secrets_app.errors import Conflict
from secrets_app.models import (
    BuiltinRole,
    GroupProjectMembership,
    IdentityProjectMembership,
    ProjectMembership,
    Role,
    RoleRule,
)
from secrets_app.policy import Rule
from secrets_app.policy.enforcement import require
from secrets_app.selectors.access import ProjectScope
from secrets_app.services.grants import grant_require, membership_change_require, role_change_require

APPLIED = "identity.least_privilege_applied"
ROLE_PREFIX = "lp-"


def _role_slug(scope: ProjectScope, membership: IdentityProjectMembership) -> tuple[str, Role | None]:
    """``lp-<name>`` (with a number when another holder already uses that role): the role to
    (re)write and the existing row, if any. A role held by anyone else is never rewritten."""
    base = (ROLE_PREFIX + (slugify(membership.identity.name) or str(membership.identity.public_id)[:8]))[:60]
    for attempt in range(1, 50):
        slug = base if attempt == 1 else f"{base[:57]}-{attempt}"
        role = Role.objects.filter(project=scope.project, slug=slug).prefetch_related("rules").first()
        if role is None:
            return slug, None
        others = (
            ProjectMembership.objects.filter(custom_role=role).exists()
            or GroupProjectMembership.objects.filter(custom_role=role).exists()
            or IdentityProjectMembership.objects.filter(custom_role=role).exclude(pk=membership.pk).exists()
        )
        if not others:
            return slug, role
    raise Conflict("Too many least-privilege roles for this identity; delete unused lp- roles")


def _role_rows(role: Role, rules: tuple[Rule, ...]) -> list[RoleRule]:
    return [
        RoleRule(
            role=role,
            effect=rule.effect,
            action=rule.action,
            environments=sorted(rule.environments),
            path=rule.path,
            tags=sorted(rule.tags),
        )
        for rule in rules
    ]


def least_privilege_apply(
    *,
    scope: ProjectScope,
    identity: str | uuid.UUID,
    days: int | str | None = None,
    fingerprint: str | None = None,
) -> IdentityAccess:
    """Apply the current proposal for *identity* (its public id). Returns the identity's access
    after the change (its proposal is then ``keep``). Raises PermissionDenied (audited) without
    the rights or when containment refuses, NotFound for an identity not in the project, Conflict
    when there is nothing to narrow or the proposal changed since *fingerprint* was read."""
    window = clean_days(days)
    require(scope, "members.manage")
    require(scope, "roles.manage")
    membership = identity_membership_get(scope.project, identity)
    public_id = str(membership.identity.public_id)
    membership_change_require(
        scope, membership, requested_action="members.manage", resource_type="identity", resource_id=public_id
    )
    before = identity_accesses(project=scope.project, memberships=[membership], days=window)[0]
    proposal = before.proposal
    if fingerprint and fingerprint != proposal.fingerprint:
        raise Conflict("The proposal changed since you read it; review it again", fields={"fingerprint": ["stale"]})
    if proposal.kind == ProposalKind.KEEP:
        raise Conflict("Nothing to narrow: the role grants nothing beyond what the identity used")
    grant_require(
        scope, proposal.rules, requested_action="members.grant", resource_type="identity", resource_id=public_id
    )
    slug, role = (None, None) if proposal.kind == ProposalKind.REMOVE else _role_slug(scope, membership)
    if role is not None:
        role_change_require(scope, role, requested_action="roles.manage")
    previous_role = membership.role_slug
    try:
        with transaction.atomic():
            if proposal.kind == ProposalKind.REMOVE:
                membership.builtin_role, membership.custom_role = BuiltinRole.NO_ACCESS, None
            else:
                assert slug is not None
                if role is None:
                    role = Role.objects.create(
                        project=scope.project,
                        slug=slug,
                        name=f"Least privilege: {membership.identity.name}"[:120],
                        description=f"Proposed from what was delivered over {window} days and applied in one click.",
                    )
                else:
                    role.rules.all().delete()
                RoleRule.objects.bulk_create(_role_rows(role, proposal.rules))
                membership.builtin_role, membership.custom_role = "", role
            membership.save(update_fields=["builtin_role", "custom_role"])
            scope.audit(
                APPLIED,
                resource_type="identity",
                resource_id=public_id,
                metadata={
                    "name": membership.identity.name,
                    "kind": proposal.kind,
                    "days": window,
                    "previous_role": previous_role,
                    "role": slug or BuiltinRole.NO_ACCESS,
                    "before": before.granted_descriptions,
                    "after": proposal.descriptions,
                    "delivered_keys": before.delivered_keys,
                },
            )
    except IntegrityError:
        raise Conflict("Another change to this role happened at the same time; try again") from None
    refreshed = identity_membership_get(scope.project, public_id)
    return identity_accesses(project=scope.project, memberships=[refreshed], days=window)[0]
