"""People's browser sessions: an idle timeout and an absolute one, both enforced on the server.

Django's session expiry lives in the cookie and the session row, and is pushed forward every time
the session is saved, so by itself it is neither an idle nor an absolute limit a server can rely
on. The session therefore records when it logged in and when it was last used; a request past
``STRONGROOM_SESSION_IDLE_SECONDS`` of inactivity or ``SESSION_COOKIE_AGE`` since login ends the
session (server-side row deleted, ``user.logged_out`` audited with the reason) before the view
runs, so the view sees an anonymous visitor (UI: back to the login page; API: 401/403).

A session that signed in through the organization's identity provider is also re-validated
against it every ``STRONGROOM_SSO_REVALIDATE_SECONDS`` (default 1 h; 0 turns it off): the session
ends (``user.logged_out``, reason ``sso revalidation``) and a page request is sent back through
the provider's sign-in, which is silent while the person's directory session lives and refused
once the directory no longer accepts them. Without SCIM, that is how a person removed in the
directory loses access within the interval.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.http import urlencode

LOGIN_AT_KEY = "strongroom_login_at"
SEEN_AT_KEY = "strongroom_seen_at"
SSO_ORG_KEY = "strongroom_sso_org"
SSO_VALIDATED_AT_KEY = "strongroom_sso_validated_at"
# The last-use stamp is rewritten at most this often: one session write per minute per person,
# not one per request.
SEEN_GRANULARITY_SECONDS = 60


def session_stamp_login(session: Any) -> None:
    """Called at login (secrets_app.signals): the session's clocks start now."""
    now = int(time.time())
    session[LOGIN_AT_KEY] = now
    session[SEEN_AT_KEY] = now


def session_mark_sso(session: Any, organization_slug: str) -> None:
    """Called after an SSO sign-in: the provider vouched for this session now."""
    session[SSO_ORG_KEY] = organization_slug
    session[SSO_VALIDATED_AT_KEY] = int(time.time())


def _sso_revalidation_due(session: Any, now: float) -> bool:
    interval = int(getattr(settings, "STRONGROOM_SSO_REVALIDATE_SECONDS", 3600))
    validated_at = session.get(SSO_VALIDATED_AT_KEY)
    return (
        bool(session.get(SSO_ORG_KEY)) and interval > 0 and validated_at is not None and now - validated_at >= interval
    )


def session_end_reason(session: Any, now: float) -> str | None:
    """ "idle timeout" / "absolute timeout" when this logged-in session must end now, else None."""
    idle = int(getattr(settings, "STRONGROOM_SESSION_IDLE_SECONDS", 1800))
    absolute = int(settings.SESSION_COOKIE_AGE)
    login_at = session.get(LOGIN_AT_KEY)
    seen_at = session.get(SEEN_AT_KEY, login_at)
    if login_at is None:
        return None  # stamped by the middleware on this request (a session older than the stamps)
    if absolute > 0 and now - login_at >= absolute:
        return "absolute timeout"
    if idle > 0 and seen_at is not None and now - seen_at >= idle:
        return "idle timeout"
    if _sso_revalidation_due(session, now):
        return "sso revalidation"
    return None


class SessionTimeoutMiddleware:
    """After AuthenticationMiddleware: ends sessions past their idle or absolute limit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        # Only sessions that carry a login; bearer-token API calls have none and cost nothing here.
        if session is not None and session.get(SESSION_KEY) is not None:
            now = time.time()
            reason = session_end_reason(session, now)
            if reason is not None:
                organization = session.get(SSO_ORG_KEY)
                request.strongroom_logout_reason = reason  # type: ignore[attr-defined]
                logout(request)  # flushes the server-side session; user_logged_out is audited
                if reason == "sso revalidation" and _is_page_visit(request):
                    # Back through the provider: silent while the directory still accepts them.
                    target = f"/login/sso/{organization}/?{urlencode({'next': request.get_full_path()})}"
                    return HttpResponseRedirect(target)
            else:
                if session.get(LOGIN_AT_KEY) is None:
                    session[LOGIN_AT_KEY] = int(now)
                if now - session.get(SEEN_AT_KEY, 0) >= SEEN_GRANULARITY_SECONDS:
                    session[SEEN_AT_KEY] = int(now)
        return self.get_response(request)


def _is_page_visit(request: HttpRequest) -> bool:
    return (
        request.method == "GET"
        and not request.path.startswith(("/api/", "/compat/", "/scim/"))
        and request.headers.get("HX-Request") != "true"
    )


__all__ = [
    "LOGIN_AT_KEY",
    "SEEN_AT_KEY",
    "SSO_ORG_KEY",
    "SSO_VALIDATED_AT_KEY",
    "SessionTimeoutMiddleware",
    "session_end_reason",
    "session_mark_sso",
    "session_stamp_login",
]
