"""People signing in through their organization's OIDC provider (Entra ID or any standard one),
and the password rules SSO brings (require SSO, break-glass admins).

The flow is authlib's authorization code + PKCE (S256) with ``state`` and ``nonce``; the ID token
is verified with joserfc (authlib's JOSE library): signature against the provider's JWKS, issuer,
audience, nonce, expiry. Discovery, JWKS, token and Microsoft Graph requests all go through the
outbound guard (secrets_app/outbound.py), so a configured URL cannot reach internal addresses.

Refusals raise :class:`SsoRefused` with a message for the person and a short ``reason`` for the
audit row (``user.sso_login_failed``); tokens, codes and secrets are never recorded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from audit.models import ActorType, Outcome
from audit.services import ANONYMOUS_ACTOR, AuditActor, audit_record
from secrets_app import outbound
from secrets_app.crypto.envelope import DecryptionError
from secrets_app.models import GroupSource, OrganizationMembership, OrganizationSso, OrgRole, SsoIdentity
from secrets_app.principals import Principal
from secrets_app.services.group_sync import group_memberships_sync
from secrets_app.services.sso import sso_client_secret

TIMEOUT = 10
PENDING_SECONDS = 600
GRAPH_PAGES = 50
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]


class SsoRefused(Exception):
    """Sign-in refused. ``message`` is shown to the person; ``reason`` is recorded."""

    def __init__(self, reason: str, message: str, *, status: int = 403) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status


class PasswordRefused(Exception):
    """A local password may not be used by this person (their organization requires SSO)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SsoPending:
    """What the callback needs to finish a sign-in, kept in the person's session (never in a URL)."""

    organization_id: int
    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    next_url: str
    deadline: float

    def as_session(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_session(cls, data: Any) -> SsoPending | None:
        try:
            return cls(**data)
        except TypeError:
            return None


def _user_actor(user: Any) -> AuditActor:
    return Principal.for_user(user).audit_actor()


# --- outbound -----------------------------------------------------------------------------------


def _client(config: OrganizationSso, *, redirect_uri: str | None = None, scope: str = "openid email profile") -> Any:
    """authlib's OAuth2 client, its transport pinned to the outbound guard."""
    try:
        secret = sso_client_secret(config)
    except DecryptionError:
        raise SsoRefused(
            "client_secret_unreadable", "Single sign-on is misconfigured: an admin must enter the client secret again."
        ) from None
    client = OAuth2Session(
        config.client_id,
        secret,
        scope=scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method name)
    )
    client.max_redirects = 0
    outbound.pin_session(client, outbound.PinnedAdapter(None))
    return client


def _get_json(url: str, *, what: str, headers: dict[str, str] | None = None) -> Any:
    try:
        response = outbound.session().get(url, headers=headers or {}, timeout=TIMEOUT)
        response.raise_for_status()
        return response.json()
    except outbound.OutboundRefused as exc:
        raise SsoRefused(
            f"{what}_refused", f"The identity provider's {what} cannot be reached: {exc.reason}.", status=502
        ) from None
    except (requests.RequestException, ValueError):
        raise SsoRefused(
            f"{what}_failed", f"The identity provider's {what} did not answer. Try again later.", status=502
        ) from None


def _discovery(config: OrganizationSso) -> dict[str, Any]:
    document = _get_json(config.discovery_url, what="discovery")
    needed = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
    if not isinstance(document, dict) or any(not isinstance(document.get(key), str) for key in needed):
        raise SsoRefused("discovery_invalid", "The identity provider's discovery document is incomplete.", status=502)
    # OIDC Discovery §4.3: the document's issuer is exactly the issuer it was fetched for; ID tokens
    # are then held to it. (An admin who entered the document's URL has named no issuer to compare.)
    configured = config.issuer_url.rstrip("/")
    if configured != config.discovery_url and document["issuer"].rstrip("/") != configured:
        raise SsoRefused(
            "discovery_issuer_mismatch",
            "The identity provider names another issuer than the one configured. An admin must check the issuer URL.",
            status=502,
        )
    return document


# --- the flow -----------------------------------------------------------------------------------


def sso_authorization_begin(*, config: OrganizationSso, redirect_uri: str, next_url: str) -> tuple[str, SsoPending]:
    """The provider's authorization URL to send the person to, and what to keep in their session."""
    document = _discovery(config)
    pending = SsoPending(
        organization_id=config.organization_id,
        state=generate_token(32),
        nonce=generate_token(32),
        code_verifier=generate_token(64),
        redirect_uri=redirect_uri,
        next_url=next_url,
        deadline=time.time() + PENDING_SECONDS,
    )
    url, _ = _client(config, redirect_uri=redirect_uri).create_authorization_url(
        document["authorization_endpoint"],
        state=pending.state,
        nonce=pending.nonce,
        code_verifier=pending.code_verifier,
    )
    return url, pending


def _id_token_claims(config: OrganizationSso, document: dict[str, Any], id_token: str, nonce: str) -> dict[str, Any]:
    jwks = _get_json(document["jwks_uri"], what="keys")
    try:
        keys = KeySet.import_key_set(jwks)
        token = jwt.decode(id_token, keys, algorithms=ID_TOKEN_ALGORITHMS)
        jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": document["issuer"]},
            aud={"essential": True, "value": config.client_id},
            nonce={"essential": True, "value": nonce},
            sub={"essential": True},
            exp={"essential": True},
        ).validate(token.claims)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        reason = getattr(exc, "claim", None) or type(exc).__name__
        raise SsoRefused(
            f"id_token_invalid:{reason}"[:100],
            "The identity provider's answer could not be verified. Sign-in refused.",
        ) from None
    if "aud" in token.claims and isinstance(token.claims["aud"], list) and len(token.claims["aud"]) > 1:
        if token.claims.get("azp") != config.client_id:
            raise SsoRefused(
                "id_token_invalid:azp", "The identity provider's answer was meant for another application."
            )
    return dict(token.claims)


def _graph_groups(config: OrganizationSso, document: dict[str, Any], object_id: str) -> list[str]:
    """Entra "groups overage": the token names too many groups to carry them, so read the person's
    groups from Microsoft Graph with the app's own (client-credentials) token."""
    base = str(settings.STRONGROOM_GRAPH_BASE_URL).rstrip("/")
    failure = SsoRefused(
        "groups_overage_unresolved",
        "You are in too many directory groups for the sign-in token to list them, and Microsoft Graph "
        "could not be asked for them. An admin must grant the app GroupMember.Read.All (see docs/sso.md).",
        status=502,
    )
    if not object_id:
        raise failure
    try:
        token = _client(config, scope=settings.STRONGROOM_GRAPH_SCOPE).fetch_token(
            document["token_endpoint"], grant_type="client_credentials", timeout=TIMEOUT
        )
        graph = outbound.session(bound_to=[base])
        url: str | None = f"{base}/v1.0/users/{quote(object_id, safe='')}/memberOf?$select=id"
        groups: list[str] = []
        for _ in range(GRAPH_PAGES):
            if not url:
                return groups
            response = graph.get(url, headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=TIMEOUT)
            response.raise_for_status()
            page = response.json()
            groups += [
                str(item["id"])
                for item in page.get("value", [])
                if item.get("@odata.type", "#microsoft.graph.group") == "#microsoft.graph.group" and item.get("id")
            ]
            url = page.get("@odata.nextLink")
    except (OAuthError, outbound.OutboundRefused, requests.RequestException, ValueError, KeyError, TypeError):
        raise failure from None
    raise failure  # more pages than any real directory returns


def _claim_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value if isinstance(item, str | int)]
    return []


def _email_verified(claims: dict[str, Any]) -> bool:
    # Entra sends no email_verified; its optional claim xms_edov says the domain owner verified it.
    return any(claims.get(name) in (True, "true", "1", 1) for name in ("email_verified", "xms_edov"))


def sso_login_complete(*, pending: SsoPending, code: str, state: str) -> Any:
    """Finish a sign-in: exchange the code, verify the ID token, admit (JIT) or find the person,
    keep their IdP groups in step. Returns the user to log in; raises SsoRefused (audited)."""
    config = (
        OrganizationSso.objects.filter(organization_id=pending.organization_id).select_related("organization").first()
    )
    email = ""
    try:
        if config is None:
            raise SsoRefused("not_configured", "Single sign-on is no longer configured for this organization.")
        if not state or state != pending.state or pending.deadline < time.time():
            raise SsoRefused("state_mismatch", "This sign-in expired or did not start here. Start again.", status=400)
        if not code:
            raise SsoRefused("no_code", "The identity provider did not sign you in.", status=400)
        document = _discovery(config)
        try:
            token = _client(config, redirect_uri=pending.redirect_uri).fetch_token(
                document["token_endpoint"],
                grant_type="authorization_code",
                code=code,
                code_verifier=pending.code_verifier,
                timeout=TIMEOUT,
            )
        except OAuthError as exc:
            raise SsoRefused(f"token_refused:{exc.error}"[:100], "The identity provider refused the sign-in.") from None
        except (outbound.OutboundRefused, requests.RequestException, ValueError):
            raise SsoRefused(
                "token_failed", "The identity provider did not answer. Try again later.", status=502
            ) from None
        if not isinstance(token.get("id_token"), str):
            raise SsoRefused("no_id_token", "The identity provider sent no ID token.", status=502)
        claims = _id_token_claims(config, document, token["id_token"], pending.nonce)
        email = str(claims.get(config.claim_email) or claims.get("preferred_username") or "").strip().lower()
        if "@" not in email:
            raise SsoRefused("no_email", "The identity provider did not say which e-mail address you sign in with.")
        names = claims.get("_claim_names")
        if config.claim_groups not in claims and isinstance(names, dict) and config.claim_groups in names:
            groups = _graph_groups(config, document, str(claims.get("oid") or ""))
        else:
            groups = _claim_list(claims.get(config.claim_groups))
        domain = email.rsplit("@", 1)[1]
        if domain not in config.allowed_domains and not set(groups) & set(config.allowed_group_ids):
            raise SsoRefused(
                "not_allowed",
                f"{email} may not sign in to {config.organization.name}: neither its domain nor any of your "
                "groups is allowed. Ask an organization admin.",
            )
        return _person_sign_in(config, claims, email=email, groups=groups)
    except SsoRefused as exc:
        sso_login_failure_record(config=config, reason=exc.reason, email=email)
        raise


def sso_login_failure_record(*, config: OrganizationSso | None, reason: str, email: str = "") -> None:
    """Audit a refused SSO sign-in (``user.sso_login_failed``): a reason, never a token or code."""
    audit_record(
        action="user.sso_login_failed",
        actor=AuditActor(type=ActorType.ANONYMOUS, label=email[:254]) if email else ANONYMOUS_ACTOR,
        outcome=Outcome.DENY,
        organization_id=config.organization_id if config else None,
        resource_type="organization",
        resource_id=config.organization.slug if config else "",
        metadata={"reason": reason[:100], "email": email},
    )


def _person_sign_in(config: OrganizationSso, claims: dict[str, Any], *, email: str, groups: list[str]) -> Any:
    organization = config.organization
    issuer, subject = str(claims["iss"]), str(claims["sub"])
    User = get_user_model()
    with transaction.atomic():
        identity = SsoIdentity.objects.select_for_update().filter(issuer=issuer, subject=subject).first()
        linked = created = False
        user: Any
        if identity is not None:
            user = identity.user
        else:
            user = User.objects.filter(email__iexact=email).first() or User.objects.filter(username=email).first()
            if user is not None:
                if not _email_verified(claims):
                    raise SsoRefused(
                        "email_unverified",
                        f"An account for {email} exists, and your identity provider did not confirm you own that "
                        "address, so it cannot be linked. Ask an organization admin.",
                    )
                linked = True
            else:
                user = User.objects.create_user(username=email, email=email, password=None)  # no local password
                created = True
            identity = SsoIdentity.objects.create(user=user, organization=organization, issuer=issuer, subject=subject)
        if not user.is_active:
            raise SsoRefused("deactivated", "Your account is deactivated. Ask an organization admin.")
        name = str(claims.get(config.claim_name) or "").strip()
        if name and not (user.first_name or user.last_name):
            first, _, last = name.partition(" ")
            user.first_name, user.last_name = first[:150], last[:150]
            user.save(update_fields=["first_name", "last_name"])
        actor = _user_actor(user)
        _, joined = OrganizationMembership.objects.get_or_create(
            organization=organization, user=user, defaults={"role": OrgRole.MEMBER}
        )
        if created:
            audit_record(
                action="user.created",
                actor=actor,
                organization_id=organization.pk,
                resource_type="user",
                resource_id=str(user.pk),
                metadata={"email": email, "org_role": OrgRole.MEMBER, "source": "sso"},
            )
        elif linked or joined:
            audit_record(
                action="user.sso_linked",
                actor=actor,
                organization_id=organization.pk,
                resource_type="user",
                resource_id=str(user.pk),
                metadata={"email": email, "issuer": issuer, "joined_organization": joined},
            )
        identity.last_login_at = timezone.now()
        identity.save(update_fields=["last_login_at"])
        group_memberships_sync(
            user=user, organization=organization, source=GroupSource.IDP, external_ids=groups, actor=actor
        )
        audit_record(
            action="user.sso_login",
            actor=actor,
            organization_id=organization.pk,
            resource_type="user",
            resource_id=str(user.pk),
            metadata={"email": email, "issuer": issuer, "created": created, "linked": linked},
        )
    return user


# --- local passwords under SSO ------------------------------------------------------------------


def is_sso_account(user: Any) -> bool:
    """An account that signs in through an identity provider (it skips Strongroom's TOTP)."""
    return SsoIdentity.objects.filter(user=user).exists()


def password_login_check(*, user: Any) -> None:
    """Raise PasswordRefused when one of the person's organizations requires SSO and they are not
    one of its break-glass admins (audited as ``user.password_login_refused``). Runs after the
    password was checked, before the session exists."""
    required = (
        OrganizationSso.objects.filter(require_sso=True, organization__memberships__user=user)
        .exclude(break_glass_users=user)
        .values_list("organization_id", flat=True)
    )
    organization_ids = list(required)
    if organization_ids:
        # The password was right: recorded (not counted by the lockout) so an admin sees who still tries.
        audit_record(
            action="user.password_login_refused",
            actor=_user_actor(user),
            outcome=Outcome.DENY,
            organization_id=organization_ids[0],
            resource_type="user",
            resource_id=str(user.pk),
            metadata={"email": user.email, "reason": "sso_required"},
        )
        raise PasswordRefused(
            "Your organization requires single sign-on: use \u201cSign in with SSO\u201d instead of a password."
        )


def password_login_completed(*, user: Any, client_ip: str = "") -> None:
    """After a password sign-in: each organization naming the person a break-glass admin records
    ``user.break_glass_login`` and e-mails its org admins."""
    configs = list(OrganizationSso.objects.filter(break_glass_users=user).select_related("organization"))
    for config in configs:
        organization = config.organization
        with transaction.atomic():
            audit_record(
                action="user.break_glass_login",
                actor=_user_actor(user),
                organization_id=organization.pk,
                resource_type="user",
                resource_id=str(user.pk),
                metadata={"email": user.email, "require_sso": config.require_sso, "ip": client_ip[:64]},
            )
        admins = list(
            OrganizationMembership.objects.filter(organization=organization, role=OrgRole.ADMIN, user__is_active=True)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
        if admins:
            subject = f"[Strongroom] Break-glass sign-in to {organization.name} by {user.email}"
            body = (
                f"{user.email} signed in to Strongroom with a local password as a break-glass admin of "
                f"{organization.name} at {timezone.now():%Y-%m-%d %H:%M:%S} UTC"
                f"{f' from {client_ip}' if client_ip else ''}.\n\nIf this was not expected, deactivate the "
                "account and review the audit log (action user.break_glass_login)."
            )
            send_mail(subject, body, None, admins, fail_silently=True)
