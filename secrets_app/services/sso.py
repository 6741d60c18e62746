"""Organization SSO configuration: an org admin sets, changes and removes the OIDC provider.

The client secret is write-only: sealed under the system data key at save (AAD bound to the
organization), opened only in memory for a token request, never returned or logged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.db import transaction

from audit.services import audit_record
from secrets_app import outbound
from secrets_app.crypto.bindings import sso_client_secret_aad
from secrets_app.errors import Conflict, NotFound, ValidationFailed
from secrets_app.keyring import keyring
from secrets_app.models import Organization, OrganizationMembership, OrganizationSso, OrgRole
from secrets_app.principals import Principal
from secrets_app.selectors.access import org_admin_require

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_CLAIM = re.compile(r"^[A-Za-z0-9_.:/-]{1,64}$")


def _require_admin(principal: Principal, organization: Organization) -> None:
    org_admin_require(
        principal,
        organization.pk,
        requested_action="organization.manage_sso",
        resource_type="organization",
        resource_id=organization.slug,
        message="Only organization admins can configure single sign-on",
    )


def sso_config_get(*, principal: Principal, organization: Organization) -> OrganizationSso:
    """The organization's SSO configuration (org admins only); NotFound when there is none."""
    _require_admin(principal, organization)
    config = OrganizationSso.objects.filter(organization=organization).prefetch_related("break_glass_users").first()
    if config is None:
        raise NotFound("Single sign-on is not configured")
    return config


def _domains(values: Iterable[str]) -> list[str]:
    domains = sorted({str(value).strip().lower().lstrip("@") for value in values if str(value).strip()})
    bad = [domain for domain in domains if not _DOMAIN.match(domain)]
    if bad:
        raise ValidationFailed("allowedDomains", f"not a domain name: {bad[0][:100]}")
    return domains


def _break_glass(organization: Organization, emails: Iterable[str]) -> list[Any]:
    wanted = sorted({str(email).strip().lower() for email in emails if str(email).strip()})
    admins = {
        membership.user.email.lower(): membership.user
        for membership in OrganizationMembership.objects.filter(
            organization=organization, role=OrgRole.ADMIN, user__email__in=wanted, user__is_active=True
        ).select_related("user")
    }
    missing = [email for email in wanted if email not in admins]
    if missing:
        raise ValidationFailed("breakGlassEmails", f"not an active admin of this organization: {missing[0][:254]}")
    unusable = [email for email, user in admins.items() if not user.has_usable_password()]
    if unusable:
        raise ValidationFailed("breakGlassEmails", f"has no local password: {unusable[0]}")
    return [admins[email] for email in wanted]


def sso_config_set(
    *,
    principal: Principal,
    organization: Organization,
    issuer_url: str,
    client_id: str,
    client_secret: str | None = None,
    allowed_domains: Iterable[str] = (),
    allowed_group_ids: Iterable[str] = (),
    claim_email: str = "email",
    claim_name: str = "name",
    claim_groups: str = "groups",
    require_sso: bool = False,
    break_glass_emails: Iterable[str] = (),
) -> OrganizationSso:
    """Create or replace the configuration (PUT semantics). *client_secret* None keeps the stored
    one (required the first time). Audited as ``sso.configured`` (never with the secret)."""
    _require_admin(principal, organization)
    try:
        outbound.split_url(issuer_url)
    except outbound.OutboundRefused as exc:
        raise ValidationFailed("issuer", exc.reason) from None
    if not client_id.strip():
        raise ValidationFailed("clientId", "must not be empty")
    for field, claim in (("claimEmail", claim_email), ("claimName", claim_name), ("claimGroups", claim_groups)):
        if not _CLAIM.match(claim or ""):
            raise ValidationFailed(field, "must be a claim name")
    domains = _domains(allowed_domains)
    group_ids = sorted({str(value).strip() for value in allowed_group_ids if str(value).strip()})
    if not domains and not group_ids:
        raise ValidationFailed("allowedDomains", "name at least one e-mail domain or group id people may come from")
    # Sign-in finds the organization by the e-mail's domain: one organization per domain.
    others = OrganizationSso.objects.exclude(organization=organization).values_list("allowed_domains", flat=True)
    claimed = any(set(other) & set(domains) for other in others)
    if claimed:
        raise Conflict("Another organization signs in people of that domain", fields={"allowedDomains": ["taken"]})
    break_glass = _break_glass(organization, break_glass_emails)
    if require_sso and not break_glass:
        raise ValidationFailed("breakGlassEmails", "name at least one break-glass admin before requiring SSO")
    with transaction.atomic():
        config = OrganizationSso.objects.select_for_update().filter(organization=organization).first()
        created = config is None
        if config is None:
            if not client_secret:
                raise ValidationFailed("clientSecret", "is required")
            config = OrganizationSso(organization=organization)
        config.issuer_url = issuer_url.strip()
        config.client_id = client_id.strip()
        if client_secret:
            config.client_secret_ciphertext = keyring.seal_with_root(
                client_secret.encode(), sso_client_secret_aad(organization_id=organization.pk)
            )
        config.allowed_domains = domains
        config.allowed_group_ids = group_ids
        config.claim_email, config.claim_name, config.claim_groups = claim_email, claim_name, claim_groups
        config.require_sso = require_sso
        config.save()
        config.break_glass_users.set(break_glass)
        audit_record(
            action="sso.configured",
            actor=principal.audit_actor(),
            organization_id=organization.pk,
            resource_type="organization",
            resource_id=organization.slug,
            metadata={
                "created": created,
                "issuer": config.issuer_url,
                "client_id": config.client_id,
                "client_secret_changed": bool(client_secret),
                "allowed_domains": domains,
                "allowed_group_ids": group_ids,
                "require_sso": require_sso,
                "break_glass": [user.email for user in break_glass],
            },
        )
    return config


def sso_config_delete(*, principal: Principal, organization: Organization) -> None:
    """Remove the configuration: people sign in with local passwords again. SSO accounts keep
    their links (a new configuration for the same issuer finds them). Audited as ``sso.removed``."""
    _require_admin(principal, organization)
    with transaction.atomic():
        deleted, _ = OrganizationSso.objects.filter(organization=organization).delete()
        if not deleted:
            raise NotFound("Single sign-on is not configured")
        audit_record(
            action="sso.removed",
            actor=principal.audit_actor(),
            organization_id=organization.pk,
            resource_type="organization",
            resource_id=organization.slug,
        )


def sso_client_secret(config: OrganizationSso) -> str:
    """The client secret, opened in memory for one token request."""
    return keyring.open_with_root(
        bytes(config.client_secret_ciphertext), sso_client_secret_aad(organization_id=config.organization_id)
    ).decode()
