"""Signed review links: the "View request" URL a notification carries.

A link names one request and one recipient: ``user:<pk>`` (an e-mail to that person) or
``channel:<public_id>`` (a message posted to a shared Slack/Teams channel). The token is
``django.core.signing`` (HMAC over SECRET_KEY with a salt of its own, timestamped) so it cannot be
forged or edited, and it expires after ``STRONGROOM_APPROVAL_LINK_MAX_AGE_HOURS`` (default 168).

A link is a pointer, never a credential: opening it still needs a normal login (password + TOTP,
or SSO), and what the person may do on the request is decided by the request page as for anyone.
Opening it changes nothing but the audit log (chat unfurlers and mail scanners fetch every URL
they see, so a GET must never approve anything). ``review_link_open`` decides what a logged-in
person who opened a link sees and records ``approval_link.opened`` or ``approval_link.refused``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.urls import NoReverseMatch, reverse

from audit.models import Outcome
from audit.services import ANONYMOUS_ACTOR, audit_record
from secrets_app.errors import DomainError, NotFound
from secrets_app.principals import Principal
from secrets_app.selectors.access import project_scope_for

SALT = "strongroom.approvals.review-link"
KINDS = ("change", "access")
DEFAULT_MAX_AGE_HOURS = 168
_RECIPIENT = re.compile(r"^(user:[0-9]+|channel:[A-Za-z0-9_-]{1,64})$")


class ReviewLinkRefused(DomainError):
    """A link that does not lead anywhere for this person. ``reason`` is what the audit row says:
    ``tampered`` (400), ``expired`` (410), ``foreign`` (sent to someone else, 403), ``missing``
    (the request is gone or the person may not see it, 404)."""

    def __init__(self, reason: str, message: str, *, status: int) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class ReviewLink:
    kind: str
    request_public_id: str
    recipient_key: str


def link_max_age_seconds() -> int:
    hours = getattr(settings, "STRONGROOM_APPROVAL_LINK_MAX_AGE_HOURS", DEFAULT_MAX_AGE_HOURS)
    return int(hours) * 3600


def _check(kind: str, request_public_id: Any, recipient_key: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if not _RECIPIENT.match(recipient_key):
        raise ValueError(f"recipient_key must be 'user:<pk>' or 'channel:<public_id>', not {recipient_key!r}")
    return str(uuid.UUID(str(request_public_id)))


def review_link_token(*, kind: str, request_public_id: Any, recipient_key: str) -> str:
    """The signed token of a link (URL-safe: base64, ``:`` and ``-``/``_`` only)."""
    request_id = _check(kind, request_public_id, recipient_key)
    return signing.dumps({"k": kind, "r": request_id, "to": recipient_key}, salt=SALT)


def review_link(*, kind: str, request_public_id: Any, recipient_key: str) -> str:
    """Absolute URL ``{SITE_URL}/approvals/l/<token>/`` of a review link for one recipient."""
    token = review_link_token(kind=kind, request_public_id=request_public_id, recipient_key=recipient_key)
    return settings.SITE_URL.rstrip("/") + reverse("approvals:review_link", args=[token])


def link_for_request(kind: str, request_public_id: Any) -> Callable[[str], str]:
    """``link_for`` for ``notification_send``: recipient key → that recipient's review link."""
    _check(kind, request_public_id, "user:0")

    def link_for(recipient_key: str) -> str:
        return review_link(kind=kind, request_public_id=request_public_id, recipient_key=recipient_key)

    return link_for


def review_link_verify(token: str) -> ReviewLink:
    """The link a token names. Raises ReviewLinkRefused ``tampered`` for anything not signed by us
    with this salt (or malformed inside), ``expired`` for a genuine link past its max age.
    Records nothing (``review_link_open`` does)."""
    try:
        payload = signing.loads(token, salt=SALT, max_age=link_max_age_seconds())
    except signing.SignatureExpired as exc:
        raise ReviewLinkRefused(
            "expired", "This review link has expired. Open the request from Strongroom instead.", status=410
        ) from exc
    except signing.BadSignature as exc:
        raise ReviewLinkRefused("tampered", "This review link is not valid.", status=400) from exc
    try:
        link = ReviewLink(kind=payload["k"], request_public_id=payload["r"], recipient_key=payload["to"])
        _check(link.kind, link.request_public_id, link.recipient_key)
    except (KeyError, TypeError, ValueError) as exc:
        raise ReviewLinkRefused("tampered", "This review link is not valid.", status=400) from exc
    return link


def _expired_payload(token: str) -> dict[str, Any]:
    """What an expired (but genuinely signed) token named, for the audit row; {} when unreadable."""
    try:
        payload = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return {}
    return payload if isinstance(payload, dict) else {}


def _request_for(link: ReviewLink) -> Any:
    """The request a link names (its project loaded), or None."""
    from approvals.models import AccessRequest, ChangeRequest

    model = ChangeRequest if link.kind == "change" else AccessRequest
    return model.objects.select_related("project").filter(public_id=link.request_public_id).first()


def review_page_url(kind: str, request: Any) -> str:
    """Where a person reviews *request* in the UI."""
    slug, public_id = request.project.slug, str(request.public_id)
    if kind == "change":
        return reverse("approvals:change_request_detail", args=[slug, public_id])
    for name in ("approvals:access_request_detail", "approvals:access_requests"):
        try:
            return reverse(name, args=[slug, public_id]) if name.endswith("detail") else reverse(name, args=[slug])
        except NoReverseMatch:
            continue
    return reverse("ui:project_detail", args=[slug])


def _refuse(
    principal: Principal | None,
    reason: str,
    message: str,
    *,
    status: int,
    link: ReviewLink | None = None,
    request: Any = None,
) -> ReviewLinkRefused:
    metadata: dict[str, Any] = {"reason": reason}
    if link is not None:
        metadata.update(kind=link.kind, recipient=link.recipient_key, request=link.request_public_id)
    project = getattr(request, "project", None)
    audit_record(
        action="approval_link.refused",
        actor=principal.audit_actor() if principal is not None else ANONYMOUS_ACTOR,
        outcome=Outcome.DENY,
        organization_id=project.organization_id if project is not None else None,
        project_id=project.pk if project is not None else None,
        resource_type=f"{link.kind}_request" if link is not None else "review_link",
        resource_id=link.request_public_id if link is not None else "",
        metadata=metadata,
    )
    return ReviewLinkRefused(reason, message, status=status)


def review_link_refuse_unopened(token: str, exc: ReviewLinkRefused, principal: Principal | None) -> None:
    """Record a token that failed verification (tampered/expired) as ``approval_link.refused``."""
    link: ReviewLink | None = None
    request = None
    if exc.reason == "expired":
        payload = _expired_payload(token)
        try:
            link = ReviewLink(kind=payload["k"], request_public_id=payload["r"], recipient_key=payload["to"])
            _check(link.kind, link.request_public_id, link.recipient_key)
            request = _request_for(link)
        except (KeyError, TypeError, ValueError):
            link = None
    _refuse(principal, exc.reason, exc.message, status=exc.status, link=link, request=request)


def _visible(link: ReviewLink, scope: Any, request: Any) -> bool:
    """May this person see the request? Asked of the selectors that decide it for the pages."""
    from approvals.selectors.access_requests import access_request_get
    from approvals.selectors.change_requests import change_request_get_for

    try:
        if link.kind == "change":
            change_request_get_for(scope, link.request_public_id)
        else:
            access_request_get(scope.principal, request.project, link.request_public_id)
    except NotFound:
        return False
    return True


def review_link_open(*, token: str, principal: Principal) -> str:
    """A logged-in person opened a review link: return the review page URL to send them to, and
    record ``approval_link.opened``. Raises ReviewLinkRefused (recorded as
    ``approval_link.refused``) for a tampered or expired token, a ``user:`` link opened by another
    person (``foreign``), or a request that is gone or that this person may not see (``missing``).

    A ``channel:`` link was posted where many people read it, so anyone who may see the request
    may follow it; a ``user:`` link is for its recipient only (a forwarded mail is refused, so a
    link cannot quietly hand a request to someone the notification was not meant for)."""
    try:
        link = review_link_verify(token)
    except ReviewLinkRefused as exc:
        review_link_refuse_unopened(token, exc, principal)
        raise
    request = _request_for(link)
    if link.recipient_key.startswith("user:") and link.recipient_key != f"user:{principal.user_id}":
        raise _refuse(
            principal,
            "foreign",
            "Review links are personal. If you should review this request too, open it from the "
            "project's Approvals tab.",
            status=403,
            link=link,
            request=request,
        )
    missing = "This request does not exist any more, or you do not have access to it."
    if request is None:
        raise _refuse(principal, "missing", missing, status=404, link=link)
    scope = project_scope_for(principal, request.project)
    if not _visible(link, scope, request):
        raise _refuse(principal, "missing", missing, status=404, link=link, request=request)
    url = review_page_url(link.kind, request)
    scope.audit(
        "approval_link.opened",
        environment=getattr(request.environment, "slug", ""),
        path=request.path,
        resource_type=f"{link.kind}_request",
        resource_id=link.request_public_id,
        metadata={"kind": link.kind, "recipient": link.recipient_key},
    )
    return url
