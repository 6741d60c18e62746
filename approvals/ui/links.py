"""The review link a notification carries: ``/approvals/l/<token>/``.

GET only, and it changes nothing but the audit log: chat unfurlers, mail scanners and link
previews fetch every URL they see, so following a link must never approve, reject or merge. It
verifies the token and redirects; a person who is not signed in goes through the normal login
(password + TOTP, or SSO) with ``next=`` back here, then on to the request.
"""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_safe

from approvals.links import ReviewLinkRefused, review_link_open, review_link_refuse_unopened, review_link_verify
from secrets_app.ui.framework import no_store, principal_of

REFUSED_PAGE = "approvals/link_refused.html"

_TITLES = {
    "tampered": "This link is not valid",
    "expired": "This link has expired",
    "foreign": "This link was sent to someone else",
    "missing": "Request not found",
}


def _refused(request: HttpRequest, exc: ReviewLinkRefused) -> HttpResponse:
    context = {
        "title": _TITLES.get(exc.reason, "This link cannot be used"),
        "message": exc.message,
        "reason": exc.reason,
    }
    return no_store(render(request, REFUSED_PAGE, context, status=exc.status))


@require_safe
def review_link_view(request: HttpRequest, token: str) -> HttpResponse:
    if not request.user.is_authenticated:
        try:
            review_link_verify(token)
        except ReviewLinkRefused as exc:
            review_link_refuse_unopened(token, exc, None)
            return _refused(request, exc)
        # Not signed in: the normal login, then back here (the token is checked again then).
        return no_store(redirect_to_login(request.get_full_path(), reverse("ui:login")))
    try:
        url = review_link_open(token=token, principal=principal_of(request))
    except ReviewLinkRefused as exc:
        return _refused(request, exc)
    return no_store(redirect(url))
