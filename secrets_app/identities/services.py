"""Writes about machine identities: the identities themselves (org admins), their project
memberships (``members.manage`` in the project, same roles as people), universal auth and its
client secrets, and revoking their tokens. Every change is audited in its own transaction.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import ActorType
from audit.services import AuditActor, audit_record
from secrets_app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from secrets_app.identities.access_tokens import identity_tokens_revoke
from secrets_app.identities.selectors import organization_admin_require
from secrets_app.identities.universal import PREFIX_LENGTH, client_secret_generate, client_secret_hash
from secrets_app.models import (
    AuthMethodKind,
    BuiltinRole,
    ClientSecret,
    IdentityAccessToken,
    IdentityProjectMembership,
    MachineIdentity,
    Organization,
    Role,
    UniversalAuth,
)
from secrets_app.policy.enforcement import require
from secrets_app.principals import Principal
from secrets_app.selectors.access import ProjectScope
from secrets_app.services.grants import grant_require, membership_change_require, role_resolve, rules_of

OPERATOR = AuditActor(type=ActorType.SYSTEM, id="operator", label="manage.py")
DEFAULT_TTL_CEILING = 30 * 24 * 3600  # the longest TTL or max TTL anyone may configure


def ttl_ceiling() -> int:
    return int(getattr(settings, "STRONGROOM_IDENTITY_MAX_TTL_SECONDS", DEFAULT_TTL_CEILING))


def _audit(actor: AuditActor, identity: MachineIdentity, action: str, **metadata: Any) -> None:
    audit_record(
        action=action,
        actor=actor,
        organization_id=identity.organization_id,
        resource_type="identity",
        resource_id=str(identity.public_id),
        metadata={"name": identity.name, **metadata},
    )


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValidationFailed("name", "is required and must be at most 120 characters")
    return name


def clean_cidrs(values: Any, *, field: str) -> list[str]:
    """Validated CIDR list (a bare address is a /32 or /128). Empty means "anywhere"."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [part for part in values.replace("\n", ",").split(",")]
    cleaned = []
    for index, value in enumerate(values):
        value = str(value).strip()
        if not value:
            continue
        try:
            cleaned.append(str(ipaddress.ip_network(value, strict=False)))
        except ValueError:
            raise ValidationFailed(f"{field}[{index}]", "is not an IP address or CIDR range") from None
    return cleaned


# --- identities ------------------------------------------------------------------------------------


def identity_create_as(
    *, actor: AuditActor, organization: Organization, name: str, created_by: Any = None
) -> MachineIdentity:
    """Create without a permission check: for ``identity_create`` below and the operator command."""
    name = _clean_name(name)
    try:
        with transaction.atomic():
            identity = MachineIdentity.objects.create(organization=organization, name=name, created_by=created_by)
            _audit(actor, identity, "identity.created")
    except IntegrityError:
        raise Conflict(f"An identity named '{name}' already exists", fields={"name": ["already exists"]}) from None
    return identity


def identity_create(*, principal: Principal, organization: Organization, name: str) -> MachineIdentity:
    organization_admin_require(principal, organization, "identities.create")
    return identity_create_as(
        actor=principal.audit_actor(),
        organization=organization,
        name=name,
        created_by=principal.user if principal.kind == "user" else None,
    )


def identity_update(
    *, principal: Principal, identity: MachineIdentity, name: str | None = None, is_active: bool | None = None
) -> MachineIdentity:
    """Rename or (de)activate. Deactivating revokes every token the identity holds (audited as
    ``identity.tokens_revoked``): reactivating it later never brings an old token back."""
    organization_admin_require(principal, identity.organization, "identities.update")
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = _clean_name(name)
    if is_active is not None:
        changes["is_active"] = bool(is_active)
    try:
        with transaction.atomic():
            for field, value in changes.items():
                setattr(identity, field, value)
            if changes:
                identity.save(update_fields=list(changes))
            _audit(principal.audit_actor(), identity, "identity.updated", changes=changes)
            if changes.get("is_active") is False:
                identity_tokens_revoke(identity=identity, actor=principal.audit_actor())
    except IntegrityError:
        raise Conflict("An identity with that name already exists", fields={"name": ["already exists"]}) from None
    return identity


def identity_delete(*, principal: Principal, identity: MachineIdentity) -> None:
    """Delete the identity, its memberships, auth methods and tokens (they stop working at once)."""
    organization_admin_require(principal, identity.organization, "identities.delete")
    with transaction.atomic():
        _audit(principal.audit_actor(), identity, "identity.deleted")
        identity.delete()


# --- project memberships ------------------------------------------------------------------------------


def _identity_in_project_org(scope: ProjectScope, identity_ref: str | uuid.UUID) -> MachineIdentity:
    try:
        public_id = uuid.UUID(str(identity_ref))
    except ValueError:
        raise NotFound("Identity not found", fields={"identityId": ["not found"]}) from None
    identity = MachineIdentity.objects.filter(
        public_id=public_id, organization_id=scope.project.organization_id
    ).first()
    if identity is None:
        raise NotFound("Identity not found", fields={"identityId": ["not found"]})
    return identity


def identity_membership_add(
    *, scope: ProjectScope, identity_id: str | uuid.UUID, role: str
) -> IdentityProjectMembership:
    """Give an identity of the project's organization a role here (built-in or custom)."""
    require(scope, "members.manage")
    builtin, custom = role_resolve(scope, role)
    identity = _identity_in_project_org(scope, identity_id)
    if scope.principal.identity_id == identity.pk:
        raise PermissionDenied("An identity cannot change its own role")
    grant_require(
        scope,
        rules_of(builtin, custom),
        requested_action="members.grant",
        resource_type="identity",
        resource_id=str(identity.public_id),
    )
    try:
        with transaction.atomic():
            membership = IdentityProjectMembership.objects.create(
                project=scope.project, identity=identity, builtin_role=builtin, custom_role=custom
            )
            scope.audit(
                "identity.membership_added",
                resource_type="identity",
                resource_id=str(identity.public_id),
                metadata={"name": identity.name, "role": role},
            )
    except IntegrityError:
        raise Conflict(
            "That identity is already in this project", fields={"identityId": ["already a member"]}
        ) from None
    return membership


def identity_membership_add_as(
    *, actor: AuditActor, project: Any, identity: MachineIdentity, role: str
) -> IdentityProjectMembership:
    """Grant without a permission check (the operator command). Same role rules otherwise."""
    if identity.organization_id != project.organization_id:
        raise ValidationFailed("project", "belongs to another organization than the identity")
    if role in BuiltinRole.values:
        builtin, custom = role, None
    else:
        custom = Role.objects.filter(project=project, slug=role).first()
        if custom is None:
            raise ValidationFailed("role", f"unknown role '{role}'")
        builtin = ""
    with transaction.atomic():
        membership = IdentityProjectMembership.objects.create(
            project=project, identity=identity, builtin_role=builtin, custom_role=custom
        )
        audit_record(
            action="identity.membership_added",
            actor=actor,
            organization_id=project.organization_id,
            project_id=project.pk,
            resource_type="identity",
            resource_id=str(identity.public_id),
            metadata={"name": identity.name, "role": role},
        )
    return membership


def _membership(scope: ProjectScope, identity_id: str | uuid.UUID) -> IdentityProjectMembership:
    identity = _identity_in_project_org(scope, identity_id)
    membership = (
        IdentityProjectMembership.objects.filter(project=scope.project, identity=identity)
        .select_related("identity", "custom_role")
        .prefetch_related("custom_role__rules")
        .first()
    )
    if membership is None:
        raise NotFound("That identity is not in this project")
    membership_change_require(
        scope,
        membership,
        requested_action="members.manage",
        resource_type="identity",
        resource_id=str(identity.public_id),
    )
    return membership


def identity_membership_update(
    *, scope: ProjectScope, identity_id: str | uuid.UUID, role: str
) -> IdentityProjectMembership:
    require(scope, "members.manage")
    membership = _membership(scope, identity_id)
    builtin, custom = role_resolve(scope, role)
    grant_require(
        scope,
        rules_of(builtin, custom),
        requested_action="members.grant",
        resource_type="identity",
        resource_id=str(membership.identity.public_id),
    )
    previous = membership.role_slug
    with transaction.atomic():
        membership.builtin_role, membership.custom_role = builtin, custom
        membership.save(update_fields=["builtin_role", "custom_role"])
        scope.audit(
            "identity.membership_role_changed",
            resource_type="identity",
            resource_id=str(membership.identity.public_id),
            metadata={"name": membership.identity.name, "role": role, "previous_role": previous},
        )
    return membership


def identity_membership_remove(*, scope: ProjectScope, identity_id: str | uuid.UUID) -> None:
    require(scope, "members.manage")
    membership = _membership(scope, identity_id)
    with transaction.atomic():
        scope.audit(
            "identity.membership_removed",
            resource_type="identity",
            resource_id=str(membership.identity.public_id),
            metadata={"name": membership.identity.name},
        )
        membership.delete()


# --- universal auth ------------------------------------------------------------------------------------

UNIVERSAL_FIELDS = {
    "access_token_ttl",
    "access_token_max_ttl",
    "access_token_num_uses_limit",
    "access_token_trusted_ips",
    "client_secret_trusted_ips",
    "lockout_enabled",
    "lockout_threshold",
    "lockout_duration_seconds",
    "lockout_counter_reset_seconds",
}
# Bounds as Infisical's universal-auth router sets them.
_LOCKOUT_BOUNDS = {
    "lockout_threshold": (1, 30),
    "lockout_duration_seconds": (30, 86_400),
    "lockout_counter_reset_seconds": (5, 3_600),
}


def _check_universal(config: UniversalAuth) -> None:
    ceiling = ttl_ceiling()
    if not 1 <= config.access_token_ttl <= ceiling:
        raise ValidationFailed("accessTokenTTL", f"must be between 1 and {ceiling} seconds")
    if not 1 <= config.access_token_max_ttl <= ceiling:
        raise ValidationFailed("accessTokenMaxTTL", f"must be between 1 and {ceiling} seconds")
    if config.access_token_ttl > config.access_token_max_ttl:
        raise ValidationFailed("accessTokenMaxTTL", "must be at least the access token TTL")
    for field, (low, high) in _LOCKOUT_BOUNDS.items():
        if not low <= int(getattr(config, field)) <= high:
            raise ValidationFailed(field, f"must be between {low} and {high}")


def universal_auth_configure_as(
    *, actor: AuditActor, identity: MachineIdentity, changes: dict[str, Any]
) -> tuple[UniversalAuth, bool]:
    """Attach universal auth (defaults for what *changes* leaves out) or update it. Returns
    (config, created). A change that would leave TTL above max TTL is refused, as is any TTL above
    the server's ceiling (``STRONGROOM_IDENTITY_MAX_TTL_SECONDS``, 30 days by default)."""
    unknown = sorted(set(changes) - UNIVERSAL_FIELDS)
    if unknown:
        raise ValidationFailed(unknown[0], "is not a universal auth setting")
    config = UniversalAuth.objects.filter(identity=identity).first()
    created = config is None
    if config is None:
        config = UniversalAuth(identity=identity)
    for field, value in changes.items():
        if field.endswith("trusted_ips"):
            value = clean_cidrs(value, field=field)
        setattr(config, field, value)
    _check_universal(config)
    with transaction.atomic():
        config.save()
        recorded = {key: value for key, value in changes.items()}
        _audit(
            actor,
            identity,
            "identity.universal_auth_attached" if created else "identity.universal_auth_updated",
            changes=recorded,
        )
    return config, created


def universal_auth_configure(
    *, principal: Principal, identity: MachineIdentity, changes: dict[str, Any]
) -> tuple[UniversalAuth, bool]:
    organization_admin_require(principal, identity.organization, "identities.update")
    return universal_auth_configure_as(actor=principal.audit_actor(), identity=identity, changes=changes)


def universal_auth_remove(*, principal: Principal, identity: MachineIdentity) -> int:
    """Detach universal auth: its client secrets go and every token it issued is revoked."""
    organization_admin_require(principal, identity.organization, "identities.update")
    config = UniversalAuth.objects.filter(identity=identity).first()
    if config is None:
        raise NotFound("This identity has no universal auth")
    with transaction.atomic():
        revoked = IdentityAccessToken.objects.filter(
            identity=identity, auth_method=AuthMethodKind.UNIVERSAL, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())
        config.delete()
        _audit(principal.audit_actor(), identity, "identity.universal_auth_removed", tokens_revoked=revoked)
    return revoked


# --- client secrets ----------------------------------------------------------------------------------


def client_secret_create_as(
    *,
    actor: AuditActor,
    identity: MachineIdentity,
    description: str = "",
    ttl_seconds: int = 0,
    num_uses_limit: int = 0,
    trusted_ips: Any = None,
) -> tuple[ClientSecret, str]:
    """Returns the row and the client secret, which is never retrievable again (only its keyed
    hash and 4-character prefix are stored)."""
    config = UniversalAuth.objects.filter(identity=identity).first()
    if config is None:
        raise NotFound("This identity has no universal auth: configure it first")
    if len(description or "") > 200:
        raise ValidationFailed("description", "must be at most 200 characters")
    if not 0 <= int(ttl_seconds) <= 10 * 365 * 86400:
        raise ValidationFailed("ttl", "must be between 0 (never expires) and ten years in seconds")
    if int(num_uses_limit) < 0:
        raise ValidationFailed("numUsesLimit", "must be 0 (unlimited) or more")
    cidrs = clean_cidrs(trusted_ips, field="trustedIps")
    raw = client_secret_generate()
    with transaction.atomic():
        secret = ClientSecret.objects.create(
            universal_auth=config,
            description=description or "",
            prefix=raw[:PREFIX_LENGTH],
            secret_hash=client_secret_hash(raw),
            ttl_seconds=int(ttl_seconds),
            num_uses_limit=int(num_uses_limit),
            trusted_ips=cidrs,
        )
        _audit(
            actor,
            identity,
            "identity.client_secret_created",
            client_secret_id=secret.pk,
            description=secret.description,
            ttl=secret.ttl_seconds,
            num_uses_limit=secret.num_uses_limit,
        )
    return secret, raw


def client_secret_create(
    *,
    principal: Principal,
    identity: MachineIdentity,
    description: str = "",
    ttl_seconds: int = 0,
    num_uses_limit: int = 0,
    trusted_ips: Any = None,
) -> tuple[ClientSecret, str]:
    organization_admin_require(principal, identity.organization, "identities.update")
    return client_secret_create_as(
        actor=principal.audit_actor(),
        identity=identity,
        description=description,
        ttl_seconds=ttl_seconds,
        num_uses_limit=num_uses_limit,
        trusted_ips=trusted_ips,
    )


def client_secret_revoke(
    *, principal: Principal, identity: MachineIdentity, secret_id: int, reason: str = ""
) -> ClientSecret:
    """Revoke the secret and every token it issued. Idempotent (revoking again changes nothing)."""
    organization_admin_require(principal, identity.organization, "identities.update")
    secret = ClientSecret.objects.filter(pk=secret_id, universal_auth__identity=identity).first()
    if secret is None:
        raise NotFound("Client secret not found")
    with transaction.atomic():
        # One event for the request: the secret's revocation names how many of its tokens died with it.
        tokens = identity_tokens_revoke(
            identity=identity, actor=principal.audit_actor(), client_secret_id=secret.pk, audited=False
        )
        already = secret.revoked_at is not None
        if not already:
            secret.revoked_at = timezone.now()
            secret.save(update_fields=["revoked_at"])
        _audit(
            principal.audit_actor(),
            identity,
            "identity.client_secret_revoked",
            client_secret_id=secret.pk,
            reason=reason[:500],
            tokens_revoked=tokens,
            already_revoked=already,
        )
    return secret


def identity_tokens_revoke_all(*, principal: Principal, identity: MachineIdentity, reason: str = "") -> int:
    """Revoke every live access token of the identity (new logins still work). The revocation is
    audited as one ``identity.tokens_revoked`` event that carries the *reason*."""
    organization_admin_require(principal, identity.organization, "identities.update")
    with transaction.atomic():
        count = identity_tokens_revoke(identity=identity, actor=principal.audit_actor(), reason=reason)
    return count


__all__ = [
    "OPERATOR",
    "clean_cidrs",
    "client_secret_create",
    "client_secret_create_as",
    "client_secret_revoke",
    "identity_create",
    "identity_create_as",
    "identity_delete",
    "identity_membership_add",
    "identity_membership_add_as",
    "identity_membership_remove",
    "identity_membership_update",
    "identity_tokens_revoke_all",
    "identity_update",
    "universal_auth_configure",
    "universal_auth_configure_as",
    "universal_auth_remove",
    "ttl_ceiling",
]
