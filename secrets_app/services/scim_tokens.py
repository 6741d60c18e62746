"""SCIM bearer tokens: ``srs_<random>``, one organization each, stored only as a keyed hash.

Org admins create (shown once), list (never the secret) and revoke them. The directory's
provisioning service presents one on every SCIM request; it reaches that organization only.
"""

from __future__ import annotations

import secrets

from django.db import transaction
from django.utils import timezone

from audit.models import ActorType
from audit.services import AuditActor, audit_record
from secrets_app.errors import NotFound, ValidationFailed
from secrets_app.models import Organization, ScimToken
from secrets_app.principals import Principal
from secrets_app.selectors.access import org_admin_require
from secrets_app.services.personal_tokens import token_hash

SCIM_TOKEN_PREFIX = "srs_"  # noqa: S105 (a prefix, not a credential)


def scim_actor(token: ScimToken) -> AuditActor:
    """Who a SCIM change is recorded as: the system's directory sync, naming the token used."""
    return AuditActor(type=ActorType.SYSTEM, id="scim", label=f"scim:{token.prefix}")


def _require_org_admin(principal: Principal, organization: Organization) -> None:
    org_admin_require(
        principal,
        organization.pk,
        requested_action="organization.manage_scim",
        resource_type="organization",
        resource_id=organization.slug,
        message="Only organization admins can manage SCIM tokens",
    )


def scim_token_create(*, principal: Principal, organization: Organization, name: str) -> tuple[ScimToken, str]:
    """Returns the row and the token, which is never retrievable again."""
    _require_org_admin(principal, organization)
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValidationFailed("name", "is required and must be at most 120 characters")
    raw = SCIM_TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ScimToken.objects.create(
            organization=organization,
            name=name,
            token_hash=token_hash(raw),
            prefix=raw[:8],
            created_by_id=principal.user_id,
        )
        audit_record(
            action="scim.token_created",
            actor=principal.audit_actor(),
            organization_id=organization.pk,
            resource_type="scim_token",
            resource_id=str(token.pk),
            metadata={"name": name, "prefix": token.prefix},
        )
    return token, raw


def scim_token_list(*, principal: Principal, organization: Organization) -> list[ScimToken]:
    _require_org_admin(principal, organization)
    return list(ScimToken.objects.filter(organization=organization).select_related("created_by"))


def scim_token_revoke(*, principal: Principal, organization: Organization, token_id: int) -> ScimToken:
    """Idempotent for a token already revoked; NotFound for another organization's token."""
    _require_org_admin(principal, organization)
    token = ScimToken.objects.filter(organization=organization, pk=token_id).first()
    if token is None:
        raise NotFound("SCIM token not found")
    if token.revoked_at is None:
        with transaction.atomic():
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit_record(
                action="scim.token_revoked",
                actor=principal.audit_actor(),
                organization_id=organization.pk,
                resource_type="scim_token",
                resource_id=str(token.pk),
                metadata={"name": token.name, "prefix": token.prefix},
            )
    return token


def scim_token_authenticate(*, raw_token: str) -> ScimToken | None:
    """The live token (with its organization) for a presented bearer string, or None."""
    if not raw_token.startswith(SCIM_TOKEN_PREFIX):
        return None
    token = (
        ScimToken.objects.filter(token_hash=token_hash(raw_token), revoked_at__isnull=True)
        .select_related("organization")
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    # Written at most once a minute: a provisioning cycle sends hundreds of requests.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ScimToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


__all__ = [
    "SCIM_TOKEN_PREFIX",
    "scim_actor",
    "scim_token_authenticate",
    "scim_token_create",
    "scim_token_list",
    "scim_token_revoke",
]
