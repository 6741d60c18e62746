from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from audit.context import RequestContext, reset_request_context, set_request_context

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)


def client_ip(request: HttpRequest) -> str:
    """The caller's address. X-Forwarded-For is believed only when the direct peer is a trusted proxy."""
    peer = request.META.get("REMOTE_ADDR", "")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded and _is_trusted_proxy(peer):
        # The right-most address not belonging to a trusted proxy is the client.
        for candidate in reversed([part.strip() for part in forwarded.split(",") if part.strip()]):
            if not _is_trusted_proxy(candidate):
                return candidate
    return peer


def _is_trusted_proxy(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for network in settings.TRUSTED_PROXIES:
        try:
            if ip in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


class RequestContextMiddleware:
    """Gives every request an id and records who is calling, for audit rows and error bodies."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        context = RequestContext(
            source_ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
            request_id=f"req-{uuid.uuid4().hex[:16]}",
        )
        request.request_id = context.request_id  # type: ignore[attr-defined]
        token = set_request_context(context)
        try:
            response = self.get_response(request)
        finally:
            reset_request_context(token)
        response["X-Request-Id"] = context.request_id
        return response


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.setdefault("Referrer-Policy", "same-origin")
        response.setdefault("X-Content-Type-Options", "nosniff")
        if settings.SECURE_HSTS_SECONDS:
            # Set whenever served over https (settings.SERVED_OVER_HTTPS), also behind a TLS proxy
            # where request.is_secure() is false; browsers ignore it on plain http.
            response.setdefault("Strict-Transport-Security", f"max-age={settings.SECURE_HSTS_SECONDS}")
        if getattr(request, "secret_response", False) or request.path.startswith(("/api/", "/compat/")):
            response["Cache-Control"] = "no-store"
            response["Pragma"] = "no-cache"
        return response


# Surfaces that need keys throughout: secrets (API, compat, project pages and their syncs), the
# organization pages (auth-method settings and connection credentials are sealed values) and the
# TOTP steps (seeds are sealed). Health, login and the account page stay up, so an operator can
# see why. Anything else that reaches for a key while sealed is caught by process_exception.
SEALED_PREFIXES = ("/api/v1/", "/compat/", "/projects/", "/org/", "/account/totp/", "/login/verify/")


class SealedMiddleware:
    """While sealed (no usable root key), every page that needs keys answers 503; health stays reachable."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(SEALED_PREFIXES):
            from secrets_app.keyring import keyring

            reason = keyring.sealed_reason()
            if reason is not None:
                return sealed_response(request, reason)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """A view outside the prefixes that needed a key while sealed: 503, not a 500."""
        from secrets_app.keyring import SealedError

        if isinstance(exception, SealedError):
            return sealed_response(request, str(exception) or "sealed")
        return None


def sealed_response(request: HttpRequest, reason: str) -> HttpResponse:
    message = f"Strongroom is sealed: {reason}. Configure STRONGROOM_ROOT_KEY and restart."
    if request.path.startswith(("/api/", "/compat/")) or not request.accepts("text/html"):
        return JsonResponse(
            {"error": {"code": "sealed", "message": message}, "requestId": getattr(request, "request_id", "")},
            status=503,
        )
    from django.shortcuts import render

    context = {"title": "Strongroom is sealed", "message": message, "status": 503}
    return render(request, "pages/error.html", context, status=503)
