"""People: accounts in an organization and their optional TOTP second factor."""

from __future__ import annotations

from typing import Any

import pyotp
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction

from audit.models import ActorType
from audit.services import AuditActor, audit_record
from secrets_app.crypto.bindings import totp_seed_aad
from secrets_app.errors import Conflict, ValidationFailed
from secrets_app.keyring import keyring
from secrets_app.models import Organization, OrganizationMembership, OrgRole, RecoveryCode, UserTOTP


def _actor(user: Any) -> AuditActor:
    return AuditActor(type=ActorType.USER, id=str(user.pk), label=user.get_username())


def user_create(
    *,
    email: str,
    password: str,
    organization: Organization,
    org_role: str = OrgRole.MEMBER,
    actor: AuditActor | None = None,
    is_superuser: bool = False,
) -> Any:
    """Create a person who logs in with their email. Raises Conflict when the email is taken."""
    email = (email or "").strip().lower()
    if "@" not in email or len(email) > 254:
        raise ValidationFailed("email", "must be an email address")
    try:
        validate_password(password)
    except DjangoValidationError as exc:
        raise ValidationFailed("password", " ".join(exc.messages)) from None
    User = get_user_model()
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=email, email=email, password=password)
            if is_superuser:
                user.is_superuser = True
                user.is_staff = True
                user.save(update_fields=["is_superuser", "is_staff"])
            OrganizationMembership.objects.create(organization=organization, user=user, role=org_role)
            audit_record(
                action="user.created",
                actor=actor or _actor(user),
                organization_id=organization.pk,
                resource_type="user",
                resource_id=str(user.pk),
                metadata={"email": email, "org_role": org_role},
            )
    except IntegrityError:
        raise Conflict("A user with that email exists", fields={"email": ["already exists"]}) from None
    return user


def _seed_aad(user: Any) -> bytes:
    return totp_seed_aad(user_id=user.pk)


def user_totp_begin(*, user: Any) -> str:
    """Start (or restart an unconfirmed) TOTP enrolment; returns the otpauth:// URI to show as a QR
    code / text. Raises Conflict when a confirmed factor exists: restarting would silently turn the
    second factor off, so it must be disabled first."""
    if UserTOTP.objects.filter(user=user, confirmed=True).exists():
        raise Conflict("Two-factor authentication is already on; turn it off first")
    seed = pyotp.random_base32()
    UserTOTP.objects.update_or_create(
        user=user,
        defaults={"seed_ciphertext": keyring.seal_with_root(seed.encode(), _seed_aad(user)), "confirmed": False},
    )
    return pyotp.TOTP(seed).provisioning_uri(name=user.email or user.get_username(), issuer_name="Strongroom")


def _totp_for(user: Any) -> tuple[UserTOTP, pyotp.TOTP] | None:
    record = UserTOTP.objects.filter(user=user).first()
    if record is None:
        return None
    seed = keyring.open_with_root(bytes(record.seed_ciphertext), _seed_aad(user)).decode()
    return record, pyotp.TOTP(seed)


def _verify(record: UserTOTP, totp: pyotp.TOTP, code: str) -> bool:
    """Accept the current or adjacent 30 s step, each step once (no replay)."""
    import time

    code = (code or "").strip()
    if not code.isdigit():
        return False
    now_step = int(time.time()) // 30
    for step in (now_step - 1, now_step, now_step + 1):
        if step > record.last_used_step and totp.at(step * 30) == code:
            record.last_used_step = step
            record.save(update_fields=["last_used_step"])
            return True
    return False


def user_totp_confirm(*, user: Any, code: str) -> bool:
    pair = _totp_for(user)
    if pair is None or not _verify(*pair, code):
        return False
    record = pair[0]
    with transaction.atomic():
        record.confirmed = True
        record.save(update_fields=["confirmed"])
        audit_record(action="user.totp_enabled", actor=_actor(user), resource_type="user", resource_id=str(user.pk))
    return True


def user_totp_required(user: Any) -> bool:
    return UserTOTP.objects.filter(user=user, confirmed=True).exists()


def user_totp_check(*, user: Any, code: str) -> bool:
    pair = _totp_for(user)
    return pair is not None and pair[0].confirmed and _verify(*pair, code)


def user_totp_disable(*, user: Any) -> None:
    """Turn the second factor off; its recovery codes go with it."""
    with transaction.atomic():
        UserTOTP.objects.filter(user=user).delete()
        codes, _ = RecoveryCode.objects.filter(user=user).delete()
        audit_record(
            action="user.totp_disabled",
            actor=_actor(user),
            resource_type="user",
            resource_id=str(user.pk),
            metadata={"recovery_codes_deleted": codes},
        )
