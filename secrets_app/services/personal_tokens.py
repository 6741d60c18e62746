"""Personal API tokens: ``srp_<random>``, stored only as HMAC-SHA256 under a server key."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import ActorType
from audit.services import AuditActor, audit_record
from secrets_app.errors import NotFound, ValidationFailed
from secrets_app.models import PersonalAccessToken

TOKEN_PREFIX = "srp_"  # noqa: S105 (a prefix, not a credential)


def token_hash(raw_token: str) -> str:
    """Keyed hash of a bearer credential. The key derives from SECRET_KEY with a purpose label."""
    key = hashlib.sha256(b"strongroom-token-hash|" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, raw_token.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def _actor(user: Any) -> AuditActor:
    return AuditActor(type=ActorType.USER, id=str(user.pk), label=user.get_username())


def personal_token_create(
    *, user: Any, name: str, expires_in_days: int | None = None
) -> tuple[PersonalAccessToken, str]:
    """Returns the row and the token, which is never retrievable again."""
    if not name or len(name) > 120:
        raise ValidationFailed("name", "is required and must be at most 120 characters")
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise ValidationFailed("expiresInDays", "must be between 1 and 3650")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = PersonalAccessToken.objects.create(
            user=user,
            name=name,
            token_hash=token_hash(raw),
            prefix=raw[:8],
            expires_at=timezone.now() + datetime.timedelta(days=expires_in_days) if expires_in_days else None,
        )
        audit_record(
            action="token.created",
            actor=_actor(user),
            resource_type="personal_token",
            resource_id=str(token.pk),
            metadata={"name": name},
        )
    return token, raw


def personal_token_revoke(*, user: Any, token_id: int) -> None:
    token = PersonalAccessToken.objects.filter(user=user, pk=token_id, revoked_at__isnull=True).first()
    if token is None:
        raise NotFound("Token not found")
    with transaction.atomic():
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            action="token.revoked", actor=_actor(user), resource_type="personal_token", resource_id=str(token.pk)
        )


def token_row_any_state(*, raw_token: str) -> PersonalAccessToken | None:
    """The row of one of our personal tokens, revoked or expired alike; None for a string that is
    not one. For naming a rejected token in the audit log only."""
    return PersonalAccessToken.objects.filter(token_hash=token_hash(raw_token)).select_related("user").first()


def personal_token_authenticate(*, raw_token: str) -> tuple[Any, PersonalAccessToken | None]:
    """The token's active user, or (None, None). Revocation and expiry take effect on the next request."""
    if not raw_token.startswith(TOKEN_PREFIX):
        return None, None
    from secrets_app.token_rows import personal_token_row

    token = personal_token_row(token_hash(raw_token))  # one statement, with the access epoch
    if token is None or not token.user.is_active:
        return None, None
    if token.expires_at is not None and token.expires_at <= timezone.now():
        return None, None
    return token.user, token
