"""E-mail invitations: an org admin invites an address with a role; the invitee opens the e-mailed
link, sets a password and is signed in as a member with that role.

The link ``{SITE_URL}/invite/<token>/`` carries ``<public id>.<32 random bytes>`` signed with
``django.core.signing`` (its own salt, timestamped) so it cannot be edited or made up; the random
part is stored only as a keyed hash (``token_hash``), never in clear, never logged, never in audit
metadata. It works once, until ``expires_at`` (``STRONGROOM_INVITATION_TTL_HOURS``, default 72) and
while the invitation is pending: a resend draws a new random part (the old link stops working) and
restarts the clock; a revoke ends it.

The e-mail is sent in the request, through the e-mail channel of ``notifications`` (Django's SMTP
settings), and only when the SMTP backend is configured; a failure to send is kept on the
invitation (``send_error``, the mail server's answer only) for the admin to resend. Without SMTP,
people are added with a password handed over by the admin (``services/people.py::person_add``).

Opening the link (GET) changes nothing (mail scanners fetch links); accepting is a POST.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from audit.models import ActorType
from audit.services import AuditActor, audit_record
from secrets_app.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from secrets_app.models import Invitation, InvitationStatus, Organization, OrganizationMembership, OrgRole
from secrets_app.principals import Principal
from secrets_app.selectors.access import people_admin_require
from secrets_app.services.users import user_create

SALT = "strongroom.invitations.link"
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
DEFAULT_TTL_HOURS = 72


class InvitationRefused(DomainError):
    """A link that does not lead to a pending invitation. ``reason``: ``tampered`` (400), ``missing``
    (404), ``expired``, ``used``, ``revoked`` or ``replaced`` (a newer e-mail was sent; 410)."""

    def __init__(self, reason: str, message: str, *, status: int) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


def invitation_email_configured() -> bool:
    """True when e-mail goes out through an SMTP server (STRONGROOM_EMAIL_BACKEND / STRONGROOM_EMAIL_*)."""
    return str(getattr(settings, "EMAIL_BACKEND", "")) == SMTP_BACKEND


def invitation_ttl() -> datetime.timedelta:
    hours = int(getattr(settings, "STRONGROOM_INVITATION_TTL_HOURS", DEFAULT_TTL_HOURS))
    return datetime.timedelta(hours=max(1, hours))


def invitation_token_hash(secret: str) -> str:
    """Keyed hash of a link's random part (key derived from SECRET_KEY with a purpose label)."""
    key = hashlib.sha256(b"strongroom-invitation|" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, secret.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def _new_link(public_id: uuid.UUID) -> tuple[str, str]:
    """(signed token for the link, hash to store)."""
    secret = secrets.token_urlsafe(32)
    token = signing.TimestampSigner(salt=SALT).sign(f"{public_id.hex}.{secret}")
    return token, invitation_token_hash(secret)


def invitation_url(token: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("ui:invitation_open", args=[token])


def _is_expired(invitation: Invitation) -> bool:
    return invitation.expires_at <= timezone.now()


def invitation_state(invitation: Invitation) -> str:
    """pending | expired | accepted | revoked, as a person reading the list understands it."""
    if invitation.status == InvitationStatus.PENDING and _is_expired(invitation):
        return InvitationStatus.EXPIRED
    return str(invitation.status)


def _normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed("email", "must be an email address") from None
    return email


def _send(invitation: Invitation, token: str) -> None:
    """E-mail the link; record when it went out or why it did not (never the link itself)."""
    from notifications.channels.base import ChannelContext, DeliveryError, RenderedMessage
    from notifications.channels.registry import CHANNELS

    organization = invitation.organization
    inviter = invitation.invited_by.email if invitation.invited_by else "An administrator"
    expires = f"{invitation.expires_at:%Y-%m-%d %H:%M} UTC"
    role = OrgRole(invitation.role).label.lower()
    message = RenderedMessage(
        title=f"Join {organization.name} on Strongroom",
        summary=(
            f"{inviter} invited you to the organization {organization.name} on Strongroom as {role}. "
            f"Open the link to choose your password. It works once and until {expires}. "
            "If you did not expect this invitation, ignore this e-mail."
        ),
        facts=(("Organization", organization.name), ("Role", role), ("Invited by", inviter), ("Expires", expires)),
        link=invitation_url(token),
        link_label="Accept the invitation",
        event_kind="invitation",
    )
    context = ChannelContext(id=None, name=invitation.email, config={}, credentials={})
    try:
        CHANNELS.get("email").send(context, message, recipients=[invitation.email])
    except DeliveryError as exc:
        invitation.send_error = str(exc)[:300]
    else:
        invitation.send_error = ""
        invitation.sent_at = timezone.now()
        invitation.send_count += 1
    invitation.save(update_fields=["send_error", "sent_at", "send_count"])


def invitation_create(*, principal: Principal, organization: Organization, email: str, role: str) -> Invitation:
    """Invite *email* into the organization with *role* and e-mail the link. Org admins only.
    Raises Conflict when e-mail is not configured, the address is a member already or has a pending
    invitation. The returned invitation's ``send_error`` says when the e-mail could not be sent."""
    people_admin_require(principal, organization, message="Only organization admins can invite people")
    email = _normalise_email(email)
    if role not in OrgRole.values:
        raise ValidationFailed("role", "must be 'admin' or 'member'")
    if not invitation_email_configured():
        raise Conflict(
            "E-mail is not configured on this server (STRONGROOM_EMAIL_*): add the person with a password instead"
        )
    if OrganizationMembership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise Conflict("Already a member", fields={"email": ["is already a member of this organization"]})
    public_id = uuid.uuid4()
    token, token_hash = _new_link(public_id)
    try:
        with transaction.atomic():
            # A pending invitation past its time is replaced by this one.
            Invitation.objects.filter(
                organization=organization,
                email=email,
                status=InvitationStatus.PENDING,
                expires_at__lte=timezone.now(),
            ).update(status=InvitationStatus.EXPIRED)
            invitation = Invitation.objects.create(
                public_id=public_id,
                organization=organization,
                email=email,
                role=role,
                token_hash=token_hash,
                invited_by_id=principal.user_id,
                expires_at=timezone.now() + invitation_ttl(),
            )
            audit_record(
                action="invitation.created",
                actor=principal.audit_actor(),
                organization_id=organization.pk,
                resource_type="invitation",
                resource_id=str(public_id),
                metadata={"email": email, "role": role},
            )
    except IntegrityError:
        raise Conflict("Already invited", fields={"email": ["has a pending invitation: resend or revoke it"]}) from None
    _send(invitation, token)
    return invitation


def _pending_for_admin(principal: Principal, organization: Organization, public_id: Any) -> Invitation:
    people_admin_require(principal, organization, message="Only organization admins can invite people")
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        raise NotFound("Invitation not found") from None
    invitation = (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(organization=organization, public_id=key)
        .first()
    )
    if invitation is None:
        raise NotFound("Invitation not found")
    if invitation.status != InvitationStatus.PENDING:
        raise Conflict(f"The invitation is {invitation.status}: only a pending one can be changed")
    return invitation


def invitation_resend(*, principal: Principal, organization: Organization, public_id: Any) -> Invitation:
    """E-mail a new link (the old one stops working) valid for a full TTL again; an expired
    invitation can be resent too."""
    invitation = _pending_for_admin(principal, organization, public_id)
    if not invitation_email_configured():
        raise Conflict("E-mail is not configured on this server (STRONGROOM_EMAIL_*)")
    token, token_hash = _new_link(invitation.public_id)
    with transaction.atomic():
        invitation.token_hash = token_hash
        invitation.expires_at = timezone.now() + invitation_ttl()
        invitation.save(update_fields=["token_hash", "expires_at"])
        audit_record(
            action="invitation.resent",
            actor=principal.audit_actor(),
            organization_id=organization.pk,
            resource_type="invitation",
            resource_id=str(invitation.public_id),
            metadata={"email": invitation.email, "role": invitation.role},
        )
    _send(invitation, token)
    return invitation


def invitation_revoke(*, principal: Principal, organization: Organization, public_id: Any) -> Invitation:
    """End a pending invitation: its link shows "revoked" from now on."""
    invitation = _pending_for_admin(principal, organization, public_id)
    with transaction.atomic():
        invitation.status = InvitationStatus.REVOKED
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["status", "revoked_at"])
        audit_record(
            action="invitation.revoked",
            actor=principal.audit_actor(),
            organization_id=organization.pk,
            resource_type="invitation",
            resource_id=str(invitation.public_id),
            metadata={"email": invitation.email, "role": invitation.role},
        )
    return invitation


# --- the invitee ---------------------------------------------------------------------------------


def invitation_link_resolve(token: str) -> tuple[Invitation, str]:
    """The invitation a link's token names and the hash of its random part. Writes nothing.
    Raises InvitationRefused (tampered, missing, or whatever :func:`invitation_check` says)."""
    try:
        value = signing.TimestampSigner(salt=SALT).unsign(token or "")
        public_hex, secret = value.split(".", 1)
        public_id = uuid.UUID(hex=public_hex)
    except (signing.BadSignature, ValueError):
        raise InvitationRefused("tampered", "This invitation link is not valid.", status=400) from None
    token_hash = invitation_token_hash(secret)
    return invitation_check(public_id=public_id, token_hash=token_hash), token_hash


def invitation_check(*, public_id: Any, token_hash: str) -> Invitation:
    """The pending invitation whose link hashes to *token_hash*, or InvitationRefused saying why not."""
    invitation = Invitation.objects.select_related("organization", "invited_by").filter(public_id=public_id).first()
    if invitation is None:
        raise InvitationRefused("missing", "This invitation does not exist.", status=404)
    if invitation.status == InvitationStatus.ACCEPTED:
        raise InvitationRefused("used", "This invitation was accepted already: sign in instead.", status=410)
    if invitation.status == InvitationStatus.REVOKED:
        raise InvitationRefused("revoked", "This invitation was revoked by an administrator.", status=410)
    if not hmac.compare_digest(invitation.token_hash, token_hash):
        raise InvitationRefused(
            "replaced", "This link was replaced by a newer invitation e-mail: use the newest one.", status=410
        )
    if invitation.status != InvitationStatus.PENDING or _is_expired(invitation):
        raise InvitationRefused(
            "expired", "This invitation has expired: ask an administrator to send it again.", status=410
        )
    return invitation


def invitation_existing_account(invitation: Invitation) -> Any | None:
    """The account that already has the invited address (in another organization), or None."""
    return get_user_model().objects.filter(email__iexact=invitation.email).first()


def _accepted(invitation: Invitation, user: Any, *, new_account: bool) -> None:
    invitation.status = InvitationStatus.ACCEPTED
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["status", "accepted_at", "accepted_by"])
    audit_record(
        action="invitation.accepted",
        actor=AuditActor(type=ActorType.USER, id=str(user.pk), label=user.get_username()),
        organization_id=invitation.organization_id,
        resource_type="invitation",
        resource_id=str(invitation.public_id),
        metadata={"email": invitation.email, "role": invitation.role, "new_account": new_account},
    )


def invitation_accept(*, public_id: Any, token_hash: str, password: str) -> Any:
    """Create the invitee's account with *password* as a member with the invited role. Returns the
    user. Raises InvitationRefused, ValidationFailed("password"), or Conflict when the address has
    an account (that person accepts signed in: :func:`invitation_accept_signed_in`)."""
    with transaction.atomic():
        # Locked first: two submissions of one link create one account, the second sees "used".
        Invitation.objects.select_for_update().filter(public_id=public_id).first()
        invitation = invitation_check(public_id=public_id, token_hash=token_hash)
        if invitation_existing_account(invitation) is not None:
            raise Conflict("An account with this e-mail exists: sign in to accept the invitation")
        user = user_create(
            email=invitation.email,
            password=password,
            organization=invitation.organization,
            org_role=invitation.role,
        )
        _accepted(invitation, user, new_account=True)
    return user


def invitation_accept_signed_in(*, public_id: Any, token_hash: str, user: Any) -> OrganizationMembership:
    """A person who has an account with the invited address joins with the invited role."""
    with transaction.atomic():
        Invitation.objects.select_for_update().filter(public_id=public_id).first()
        invitation = invitation_check(public_id=public_id, token_hash=token_hash)
        if (user.email or "").lower() != invitation.email:
            raise PermissionDenied(f"This invitation is for {invitation.email}: sign in as that person to accept it")
        membership, created = OrganizationMembership.objects.get_or_create(
            organization=invitation.organization, user=user, defaults={"role": invitation.role}
        )
        if not created:
            raise Conflict("You are a member of this organization already")
        _accepted(invitation, user, new_account=False)
    return membership
