"""Identity access tokens: issue, authenticate, renew, revoke.

A token is an HS256 JWT (Infisical's clients expect that shape) whose claims name its row:
``{identityId, identityAccessTokenId, authTokenType: "identityAccessToken", iat, exp}``. The
signature only proves we issued it; every use is checked against the row (revoked, expired,
use limit, trusted IPs), so revocation holds on the very next request on every worker.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
from dataclasses import dataclass

import jwt
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.models import ActorType, Outcome
from audit.services import AuditActor, audit_event_build, audit_record
from secrets_app.identities.issue import login_rows_write
from secrets_app.models import IdentityAccessToken, MachineIdentity, TokenSettings

TOKEN_TYPE = "identityAccessToken"  # noqa: S105 (a claim value, not a credential)
_ALGORITHM = "HS256"


class TokenError(Exception):
    """The token is not usable. ``reason`` is safe to show: it never contains the token."""

    def __init__(self, reason: str, *, expired: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.expired = expired


@dataclass(frozen=True)
class IssuedToken:
    """What a login answers (the Infisical login response carries exactly these)."""

    access_token: str
    expires_in: int
    max_ttl: int
    row: IdentityAccessToken

    def __repr__(self) -> str:
        return f"<IssuedToken row={self.row.pk} expires_in={self.expires_in}>"


def _signing_key() -> bytes:
    return hashlib.sha256(b"strongroom-identity-token|" + settings.SECRET_KEY.encode()).digest()


def identity_actor(identity: MachineIdentity, role: str = "") -> AuditActor:
    return AuditActor(type=ActorType.IDENTITY, id=str(identity.pk), label=identity.name, role=role)


def ip_allowed(ip: str, allowed: list[str]) -> bool:
    """True when *allowed* is empty or *ip* falls in one of its CIDRs (IPv4-mapped IPv6 handled)."""
    if not allowed:
        return True
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for cidr in allowed:
        try:
            if address in ipaddress.ip_network(cidr, strict=False):
                return True
        except ValueError:
            continue
    return False


def access_token_issue(
    *,
    identity: MachineIdentity,
    auth_method: str,
    settings_from: TokenSettings,
    ip: str,
    client_secret_id: int | None = None,
    login: bool = False,
) -> IssuedToken:
    """Create the row and sign the token.

    With *login* this is a machine login: its ``identity.logged_in`` audit event is written with the
    row and, when *client_secret_id* is given, one use of that client secret is counted (up to its
    limit, while unrevoked); all or nothing, one statement on PostgreSQL (``identities.issue``). Raises
    ClientSecretUsedUp when the use cannot be counted, AuditWriteError when the rows are refused
    (nothing written either way). Without *login*, call inside a transaction that audits."""
    now = timezone.now()
    ttl = settings_from.access_token_ttl
    max_ttl = max(settings_from.access_token_max_ttl, ttl)
    row = IdentityAccessToken(
        identity=identity,
        auth_method=auth_method,
        client_secret_id=client_secret_id,
        ttl_seconds=ttl,
        max_ttl_seconds=max_ttl,
        num_uses_limit=settings_from.access_token_num_uses_limit,
        trusted_ips=list(settings_from.access_token_trusted_ips or []),
        created_ip=ip[:64],
        created_at=now,
        expires_at=now + datetime.timedelta(seconds=ttl),
    )
    if login:
        event = audit_event_build(
            action="identity.logged_in",
            actor=identity_actor(identity),
            organization_id=identity.organization_id,
            resource_type="identity",
            resource_id=str(identity.public_id),
            metadata={"method": auth_method, "token_id": None, "expires_in": ttl},  # token_id: set on insert
        )
        login_rows_write(row=row, event=event, client_secret_id=client_secret_id, used_at=now)
    else:
        row.save(force_insert=True)
    claims = {
        "identityId": str(identity.public_id),
        "identityAccessTokenId": str(row.pk),
        "authTokenType": TOKEN_TYPE,
        "iat": int(now.timestamp()),
        "exp": int(row.expires_at.timestamp()),
    }
    return IssuedToken(
        access_token=jwt.encode(claims, _signing_key(), algorithm=_ALGORITHM), expires_in=ttl, max_ttl=max_ttl, row=row
    )


_verified_claims: dict[bytes, dict[str, object]] = {}
_VERIFIED_CLAIMS_LIMIT = 10_000


def _claims(raw_token: str) -> dict[str, object]:
    """The token's claims once its signature checks out. A token's claims never change, so they are
    remembered per process, keyed by a digest of the signing key and the token (never the token
    itself); a forged or altered token has another digest and is checked in full."""
    key = _signing_key()
    digest = hashlib.sha256(key + raw_token.encode("utf-8", "surrogatepass")).digest()
    claims = _verified_claims.get(digest)
    if claims is None:
        try:
            # Expiry is decided by the row (renewal moves it), not by the claim.
            claims = jwt.decode(raw_token, key, algorithms=[_ALGORITHM], options={"verify_exp": False})
        except jwt.PyJWTError:
            raise TokenError("Invalid access token") from None
        if len(_verified_claims) >= _VERIFIED_CLAIMS_LIMIT:
            _verified_claims.clear()
        _verified_claims[digest] = claims
    return claims


def _row_for(raw_token: str) -> IdentityAccessToken:
    claims = _claims(raw_token)
    if claims.get("authTokenType") != TOKEN_TYPE:
        raise TokenError("Invalid access token")
    try:
        token_id = int(str(claims["identityAccessTokenId"]))
    except (KeyError, TypeError, ValueError):
        raise TokenError("Invalid access token") from None
    if not 0 < token_id < 2**63:
        raise TokenError("Invalid access token")
    from secrets_app.token_rows import identity_token_row

    row = identity_token_row(token_id)  # one statement: the row, its identity and the access epoch
    if row is None or str(row.identity.public_id) != claims.get("identityId"):
        raise TokenError("Invalid access token")
    return row


def token_row_signed(raw_token: str) -> IdentityAccessToken | None:
    """The row a token names when its signature is ours, whatever the row's state (revoked,
    expired, used up); None otherwise. For naming a rejected token in the audit log only."""
    try:
        return _row_for(raw_token)
    except TokenError:
        return None


def looks_like_identity_token(raw_token: str) -> bool:
    return raw_token.count(".") == 2 and not raw_token.startswith("srp_")


def access_token_authenticate(*, raw_token: str, ip: str) -> IdentityAccessToken:
    """The live token row, after counting this use. Raises TokenError (expired tokens flagged)."""
    row = _row_for(raw_token)
    now = timezone.now()
    if row.revoked_at is not None or not row.identity.is_active:
        raise TokenError("Access token has been revoked")
    if row.expires_at <= now:
        raise TokenError("Your token has expired. Please re-authenticate.", expired=True)
    if not ip_allowed(ip, row.trusted_ips):
        raise TokenError("Access token is not allowed from this IP address")
    if row.num_uses_limit:
        # Atomic: exactly num_uses_limit requests get through, whatever the concurrency.
        counted = IdentityAccessToken.objects.filter(pk=row.pk, num_uses__lt=row.num_uses_limit).update(
            num_uses=F("num_uses") + 1
        )
        if counted != 1:
            raise TokenError("Access token has reached its use limit")
    return row


def access_token_renew(*, raw_token: str, ip: str) -> IssuedToken:
    """Extend by the token's TTL, capped at created + max TTL. A token past its expiry or max TTL
    cannot be renewed. The same token string stays valid (its row moved)."""
    row = _row_for(raw_token)
    now = timezone.now()
    if row.revoked_at is not None or not row.identity.is_active:
        raise TokenError("Access token has been revoked")
    hard_limit = row.created_at + datetime.timedelta(seconds=row.max_ttl_seconds)
    if row.expires_at <= now or hard_limit <= now:
        raise TokenError("Your token has expired. Please re-authenticate.", expired=True)
    new_expiry = min(now + datetime.timedelta(seconds=row.ttl_seconds), hard_limit)
    with transaction.atomic():
        IdentityAccessToken.objects.filter(pk=row.pk).update(expires_at=new_expiry, last_renewed_at=now)
        audit_record(
            action="identity.token_renewed",
            actor=identity_actor(row.identity),
            organization_id=row.identity.organization_id,
            resource_type="identity_token",
            resource_id=str(row.pk),
            metadata={"expires_at": new_expiry.isoformat(), "capped": new_expiry == hard_limit},
        )
    row.expires_at = new_expiry
    return IssuedToken(
        access_token=raw_token,
        expires_in=max(0, int((new_expiry - now).total_seconds())),
        max_ttl=row.max_ttl_seconds,
        row=row,
    )


def access_token_revoke(*, raw_token: str) -> None:
    row = _row_for(raw_token)
    with transaction.atomic():
        IdentityAccessToken.objects.filter(pk=row.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        audit_record(
            action="identity.token_revoked",
            actor=identity_actor(row.identity),
            organization_id=row.identity.organization_id,
            resource_type="identity_token",
            resource_id=str(row.pk),
        )


def identity_tokens_revoke(
    *,
    identity: MachineIdentity,
    actor: AuditActor,
    client_secret_id: int | None = None,
    reason: str = "",
    audited: bool = True,
) -> int:
    """Revoke every live token of the identity (or only those a client secret issued), recorded as one
    ``identity.tokens_revoked`` event carrying the *reason*. ``audited=False`` is for a caller whose own
    event already records the revocation (one request, one audit event)."""
    query = IdentityAccessToken.objects.filter(identity=identity, revoked_at__isnull=True)
    if client_secret_id is not None:
        query = query.filter(client_secret_id=client_secret_id)
    with transaction.atomic():
        count = query.update(revoked_at=timezone.now())
        if audited:
            metadata: dict[str, object] = {"count": count, "client_secret_id": client_secret_id}
            if reason:
                metadata["reason"] = reason[:500]
            audit_record(
                action="identity.tokens_revoked",
                actor=actor,
                organization_id=identity.organization_id,
                resource_type="identity",
                resource_id=str(identity.public_id),
                metadata=metadata,
            )
    return count


def login_failure_record(*, identity: MachineIdentity | None, method: str, reason: str) -> None:
    """Audit a refused login (committed on its own: the login itself wrote nothing)."""
    audit_record(
        action="identity.login_failed",
        actor=identity_actor(identity) if identity else AuditActor(type=ActorType.ANONYMOUS, label="anonymous"),
        outcome=Outcome.DENY,
        organization_id=identity.organization_id if identity else None,
        resource_type="identity",
        resource_id=str(identity.public_id) if identity else "",
        metadata={"method": method, "reason": reason[:200]},
    )


__all__ = [
    "IssuedToken",
    "TokenError",
    "access_token_authenticate",
    "access_token_issue",
    "access_token_renew",
    "access_token_revoke",
    "identity_actor",
    "identity_tokens_revoke",
    "ip_allowed",
    "login_failure_record",
    "looks_like_identity_token",
    "token_row_signed",
]
