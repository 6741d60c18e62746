"""TOTP recovery codes: ten single-use codes that stand in for an authenticator code at sign-in.

A code is ten characters (``xxxxx-xxxxx``, 50 random bits) from an alphabet without look-alikes;
only an HMAC-SHA256 under a key derived from SECRET_KEY (with the user id in the message) is stored,
so a database dump does not sign anyone in. Checking compares against every unused hash of the
person in constant time, then spends the match with a compare-and-set on ``used_at`` (two
concurrent sign-ins with one code: one wins). Generating a new set deletes the old one.

The sign-in view counts a wrong recovery code like a wrong TOTP code (pending-login attempts and the
account lockout); regenerating needs the current password (same lockout as the sign-in form) or a
current TOTP code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import ActorType
from audit.services import AuditActor, audit_record
from secrets_app.errors import Conflict, ValidationFailed
from secrets_app.models import RecoveryCode, UserTOTP
from secrets_app.person_lockout import account_password_failed, account_password_guard
from secrets_app.services.users import user_totp_check, user_totp_confirm

RECOVERY_CODE_COUNT = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper without doubt
_CODE_HALF = 5


def _actor(user: Any) -> AuditActor:
    return AuditActor(type=ActorType.USER, id=str(user.pk), label=user.get_username())


def recovery_code_normalise(code: str) -> str:
    """Lower case, without spaces or dashes (a code may be typed as printed or run together)."""
    return "".join(ch for ch in (code or "").lower() if ch not in " -\t")


def looks_like_recovery_code(code: str) -> bool:
    """True for ten characters of the recovery alphabet (a 6-digit TOTP code never is one)."""
    plain = recovery_code_normalise(code)
    return len(plain) == 2 * _CODE_HALF and all(ch in _ALPHABET for ch in plain)


def _hash(user: Any, code: str) -> str:
    key = hashlib.sha256(b"strongroom-recovery-code|" + settings.SECRET_KEY.encode()).digest()
    message = f"{user.pk}|{recovery_code_normalise(code)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _new_code() -> str:
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(2 * _CODE_HALF))
    return f"{chars[:_CODE_HALF]}-{chars[_CODE_HALF:]}"


def recovery_codes_replace(*, user: Any, reason: str) -> list[str]:
    """Delete the person's codes and create ten new ones; returns them (the only time they exist in
    clear). Records ``user.recovery_codes_generated``. Call inside the caller's transaction when it
    goes with another write (turning TOTP on)."""
    codes = [_new_code() for _ in range(RECOVERY_CODE_COUNT)]
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create([RecoveryCode(user=user, code_hash=_hash(user, code)) for code in codes])
        audit_record(
            action="user.recovery_codes_generated",
            actor=_actor(user),
            resource_type="user",
            resource_id=str(user.pk),
            metadata={"count": RECOVERY_CODE_COUNT, "reason": reason},
        )
    return codes


def recovery_codes_remaining(user: Any) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def recovery_code_use(*, user: Any, code: str) -> bool:
    """Spend one of the person's unused codes. False for a wrong, used or malformed code, or when the
    person has no confirmed TOTP. Records ``user.recovery_code_used`` (with how many remain)."""
    if not looks_like_recovery_code(code):
        return False
    if not UserTOTP.objects.filter(user=user, confirmed=True).exists():
        return False
    candidate = _hash(user, code)
    match = None
    for pk, stored in RecoveryCode.objects.filter(user=user, used_at__isnull=True).values_list("pk", "code_hash"):
        if hmac.compare_digest(stored, candidate) and match is None:  # every row compared: no early exit
            match = pk
    if match is None:
        return False
    with transaction.atomic():
        spent = RecoveryCode.objects.filter(pk=match, used_at__isnull=True).update(used_at=timezone.now())
        if spent != 1:  # spent meanwhile by a concurrent sign-in
            return False
        audit_record(
            action="user.recovery_code_used",
            actor=_actor(user),
            resource_type="user",
            resource_id=str(user.pk),
            metadata={"remaining": recovery_codes_remaining(user)},
        )
    return True


def recovery_codes_regenerate(*, user: Any, password_or_code: str) -> list[str]:
    """New codes for a person with TOTP on, proven by their current password or a current TOTP code.
    Raises Conflict without TOTP, ValidationFailed("passwordOrCode") for a wrong proof (a wrong
    password counts against the account lockout; AccountLocked while locked)."""
    if not UserTOTP.objects.filter(user=user, confirmed=True).exists():
        raise Conflict("Turn on two-factor authentication first: recovery codes stand in for its codes")
    proof = (password_or_code or "").strip()
    if not proof:
        raise ValidationFailed("passwordOrCode", "enter your password or a code from your authenticator app")
    if proof.isdigit() and len(proof) == 6:
        if not user_totp_check(user=user, code=proof):
            raise ValidationFailed("passwordOrCode", "that code is not valid; codes change every 30 seconds")
    else:
        account_password_guard(username=user.get_username())
        if not user.check_password(password_or_code):
            account_password_failed(username=user.get_username())
            raise ValidationFailed("passwordOrCode", "is not your current password")
    return recovery_codes_replace(user=user, reason="regenerated")


def user_totp_enable(*, user: Any, code: str) -> list[str] | None:
    """Confirm a started TOTP enrolment with its first code and create the person's recovery codes,
    in one transaction. Returns the codes to show once, or None for a wrong code (nothing changes)."""
    with transaction.atomic():
        if not user_totp_confirm(user=user, code=code):
            return None
        return recovery_codes_replace(user=user, reason="two-factor turned on")
