"""Project membership and custom roles. Every change is audited; nobody grants more than they hold."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from secrets_app.errors import Conflict, NotFound, ValidationFailed
from secrets_app.models import BuiltinRole, Environment, OrganizationMembership, ProjectMembership, Role, RoleRule
from secrets_app.paths import validate_path_glob
from secrets_app.policy import Rule, actions_matching, is_known_action_pattern, is_scoped
from secrets_app.policy.enforcement import require
from secrets_app.selectors.access import ProjectScope
from secrets_app.services.grants import (
    grant_require,
    membership_change_require,
    role_change_require,
    role_resolve,
    rules_of,
)
from secrets_app.validation import validate_slug


def _audit(scope: ProjectScope, action: str, resource_type: str, resource_id: str, **metadata: Any) -> None:
    scope.audit(action, resource_type=resource_type, resource_id=resource_id, metadata=metadata)


def member_add(*, scope: ProjectScope, email: str, role: str) -> ProjectMembership:
    """Add an existing user of the project's organization. Raises NotFound for unknown users and
    PermissionDenied when the role grants rights the caller does not hold."""
    require(scope, "members.manage")
    builtin, custom = role_resolve(scope, role)
    grant_require(
        scope, rules_of(builtin, custom), requested_action="members.grant", resource_type="member", resource_id=email
    )
    user = get_user_model().objects.filter(email__iexact=email.strip()).first()
    if (
        user is None
        or not OrganizationMembership.objects.filter(organization_id=scope.project.organization_id, user=user).exists()
    ):
        raise NotFound("No user with that email in this organization", fields={"email": ["not found"]})
    try:
        with transaction.atomic():
            membership = ProjectMembership.objects.create(
                project=scope.project, user=user, builtin_role=builtin, custom_role=custom
            )
            _audit(scope, "member.added", "member", str(user.pk), email=user.email, role=role)
    except IntegrityError:
        raise Conflict("That user is already a member", fields={"email": ["already a member"]}) from None
    return membership


def _member_for_change(scope: ProjectScope, membership_id: int, requested_action: str) -> ProjectMembership:
    membership = (
        ProjectMembership.objects.filter(project=scope.project, pk=membership_id)
        .select_related("user", "custom_role")
        .prefetch_related("custom_role__rules")
        .first()
    )
    if membership is None:
        raise NotFound("Member not found")
    membership_change_require(
        scope,
        membership,
        requested_action=requested_action,
        resource_type="member",
        resource_id=str(membership.user_id),
    )
    return membership


def member_update(*, scope: ProjectScope, membership_id: int, role: str) -> ProjectMembership:
    """Change a member's role. Refused (audited) for your own membership, for an admin unless you
    are one, and when either the member's current role or the new one holds rights you lack."""
    require(scope, "members.manage")
    membership = _member_for_change(scope, membership_id, "members.manage")
    builtin, custom = role_resolve(scope, role)
    grant_require(
        scope,
        rules_of(builtin, custom),
        requested_action="members.grant",
        resource_type="member",
        resource_id=str(membership.user_id),
    )
    previous = membership.role_slug
    with transaction.atomic():
        membership.builtin_role, membership.custom_role = builtin, custom
        membership.save(update_fields=["builtin_role", "custom_role"])
        _audit(
            scope,
            "member.role_changed",
            "member",
            str(membership.user_id),
            email=membership.user.email,
            role=role,
            previous_role=previous,
        )
    return membership


def member_remove(*, scope: ProjectScope, membership_id: int) -> None:
    require(scope, "members.manage")
    membership = _member_for_change(scope, membership_id, "members.manage")
    if (
        membership.builtin_role == BuiltinRole.ADMIN
        and not ProjectMembership.objects.filter(project=scope.project, builtin_role=BuiltinRole.ADMIN)
        .exclude(pk=membership.pk)
        .exists()
    ):
        raise Conflict("A project keeps at least one admin")
    with transaction.atomic():
        _audit(scope, "member.removed", "member", str(membership.user_id), email=membership.user.email)
        membership.delete()


def _as_rules(cleaned: Sequence[dict[str, Any]]) -> list[Rule]:
    return [
        Rule(
            effect=rule["effect"],
            action=rule["action"],
            environments=frozenset(rule["environments"]),
            path=rule["path"],
            tags=frozenset(rule["tags"]),
        )
        for rule in cleaned
    ]


def _clean_rules(scope: ProjectScope, rules: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    env_slugs = set(Environment.objects.filter(project=scope.project).values_list("slug", flat=True))
    cleaned = []
    for index, rule in enumerate(rules):
        field = f"rules[{index}]"
        action = str(rule.get("action", ""))
        if not is_known_action_pattern(action):
            raise ValidationFailed(f"{field}.action", f"unknown action '{action}'")
        effect = rule.get("effect", "allow")
        if effect not in ("allow", "deny"):
            raise ValidationFailed(f"{field}.effect", "must be 'allow' or 'deny'")
        environments = list(rule.get("environments") or [])
        unknown = sorted(set(environments) - env_slugs)
        if unknown:
            raise ValidationFailed(f"{field}.environments", f"unknown environment(s): {', '.join(unknown)}")
        tags = [validate_slug(tag, field=f"{field}.tags") for tag in rule.get("tags") or []]
        path = validate_path_glob(str(rule.get("path") or "/**"), field=f"{field}.path")
        if (environments or tags or path != "/**") and not any(map(is_scoped, actions_matching(action))):
            # A project-wide action is asked of the whole project: a condition would make the
            # rule silently apply nowhere.
            raise ValidationFailed(
                f"{field}.action",
                f"'{action}' is project-wide: environments, path and tags apply only to secrets, folders and imports",
            )
        cleaned.append({"effect": effect, "action": action, "environments": environments, "path": path, "tags": tags})
    return cleaned


def role_create(
    *, scope: ProjectScope, slug: str, name: str, rules: Sequence[dict[str, Any]], description: str = ""
) -> Role:
    require(scope, "roles.manage")
    slug = validate_slug(slug, field="slug")
    if slug in BuiltinRole.values:
        raise ValidationFailed("slug", "is reserved for a built-in role")
    cleaned = _clean_rules(scope, rules)
    grant_require(scope, _as_rules(cleaned), requested_action="roles.manage", resource_type="role", resource_id=slug)
    try:
        with transaction.atomic():
            role = Role.objects.create(
                project=scope.project, slug=slug, name=(name or slug)[:120], description=description[:2000]
            )
            RoleRule.objects.bulk_create([RoleRule(role=role, **rule) for rule in cleaned])
            _audit(scope, "role.created", "role", slug, rules=cleaned)
    except IntegrityError:
        raise Conflict(f"Role '{slug}' already exists", fields={"slug": ["already exists"]}) from None
    return role


def role_update(
    *, scope: ProjectScope, slug: str, name: str | None = None, rules: Sequence[dict[str, Any]] | None = None
) -> Role:
    require(scope, "roles.manage")
    role = Role.objects.filter(project=scope.project, slug=slug).prefetch_related("rules").first()
    if role is None:
        raise NotFound(f"Role '{slug}' not found")
    role_change_require(scope, role, requested_action="roles.manage")
    cleaned = _clean_rules(scope, rules) if rules is not None else None
    if cleaned is not None:
        grant_require(
            scope, _as_rules(cleaned), requested_action="roles.manage", resource_type="role", resource_id=slug
        )
    with transaction.atomic():
        if name is not None:
            role.name = name[:120] or role.slug
            role.save(update_fields=["name"])
        if cleaned is not None:
            role.rules.all().delete()
            RoleRule.objects.bulk_create([RoleRule(role=role, **rule) for rule in cleaned])
        _audit(scope, "role.updated", "role", slug, rules=cleaned)
    return role


def role_delete(*, scope: ProjectScope, slug: str) -> None:
    require(scope, "roles.manage")
    role = Role.objects.filter(project=scope.project, slug=slug).prefetch_related("rules").first()
    if role is None:
        raise NotFound(f"Role '{slug}' not found")
    role_change_require(scope, role, requested_action="roles.manage")
    if role.memberships.exists():
        raise Conflict(f"Role '{slug}' is still assigned to members")
    if role.group_memberships.exists():
        raise Conflict(f"Role '{slug}' is still held by groups")
    with transaction.atomic():
        _audit(scope, "role.deleted", "role", slug)
        role.delete()
