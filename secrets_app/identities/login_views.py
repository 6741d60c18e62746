"""Every machine login route, native and Infisical-compatible, in one place.

=================  ==========================================  ====================================
method             login service (verify, issue, audit)        routes (``/api/v1`` and the adapter)
=================  ==========================================  ====================================
universal auth     ``identities/universal.py``                 ``/auth/universal-auth/login``
JWT auth           ``identities/jwt_auth.py``                  ``/auth/jwt-auth/login``
OIDC auth          ``identities/oidc_auth.py``                 ``/auth/oidc-auth/login``
Kubernetes auth    ``identities/kubernetes_auth.py``           ``/auth/kubernetes-auth/login``
(any token)        ``identities/tokens.py``                    ``/auth/token/renew``, ``/revoke``
=================  ==========================================  ====================================

Native routes (``secrets_app/api/machine_login_urls.py``) are DRF views with an OpenAPI schema and
the native error shape; the adapter's (``secrets_app/compat/urls.py``, under
``/compat/infisical/api/v1``) answer Infisical's error shape. Both answer the login shape built by
:func:`login_answer`. Every login counts against :func:`login_rate_limit_check` (per route and client
IP, native and adapter share the count): the native views before parsing the body, the adapter's
after checking the body's fields (Infisical validates first). Token renew and revoke are counted on
the native API only. Audit events are written by the services, never here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from secrets_app.api.base import ApiView
from secrets_app.api.schema import errors
from secrets_app.api.serializers.identities import (
    AccessTokenRequest,
    LoginResponseSerializer,
    MessageSerializer,
    UniversalAuthLoginRequest,
)
from secrets_app.compat.http import CompatError, CompatView, Params, token_error
from secrets_app.errors import DomainError
from secrets_app.identities.access_tokens import IssuedToken, TokenError, access_token_renew, access_token_revoke
from secrets_app.identities.jwt_auth import jwt_auth_login
from secrets_app.identities.kubernetes_auth import kubernetes_auth_login
from secrets_app.identities.oidc_auth import oidc_auth_login
from secrets_app.identities.universal import universal_auth_login
from secrets_app.middleware import client_ip
from secrets_app.ratelimit import RateLimited, rate_limit_hit

AUTH_TAGS = ["machine auth"]
REVOKED = "Successfully revoked access token"

# --- the rate limit (the one wrapper) --------------------------------------------------------------


def login_rate_per_minute() -> int:
    return int(getattr(settings, "STRONGROOM_LOGIN_RATE_PER_MINUTE", 25))


def login_rate_limit_check(ip: str, route: str) -> None:
    """Count one attempt on *route* from *ip* (``secrets_app.ratelimit``: shared store, fixed
    minute). Raises RateLimited (429, ``retry_after``) past ``STRONGROOM_LOGIN_RATE_PER_MINUTE``,
    RateLimitUnavailable (503) when the store cannot count: a login never goes unlimited."""
    rate_limit_hit(
        bucket=f"login:{route}",
        subject=ip,
        limit=login_rate_per_minute(),
        refused="Too many login attempts; retry after {retry_after} seconds",
        unavailable="Login is temporarily unavailable (the rate limiter cannot be reached); try again shortly",
    )


# --- the methods and the answer ------------------------------------------------------------------


class MachineLoginRequest(serializers.Serializer):
    """The body of a JWT, OIDC or Kubernetes login (native API)."""

    identityId = serializers.CharField(max_length=64)  # noqa: N815
    jwt = serializers.CharField(max_length=16384, trim_whitespace=True)


TOKEN_LOGIN_FIELDS = {"identityId": "identity_id", "jwt": "jwt"}


@dataclass(frozen=True)
class LoginMethod:
    """One machine login method as both surfaces serve it: ``/auth/<path>/login``, the body
    fields given to *login* as keyword arguments (``fields``: body name → keyword), the native
    request serializer."""

    path: str
    login: Callable[..., IssuedToken]
    fields: dict[str, str]
    native_request: type[serializers.Serializer]

    @property
    def rate_limit_route(self) -> str:
        return f"{self.path}-login"


UNIVERSAL = LoginMethod(
    "universal-auth",
    universal_auth_login,
    {"clientId": "client_id", "clientSecret": "client_secret"},
    UniversalAuthLoginRequest,
)
JWT = LoginMethod("jwt-auth", jwt_auth_login, TOKEN_LOGIN_FIELDS, MachineLoginRequest)
OIDC = LoginMethod("oidc-auth", oidc_auth_login, TOKEN_LOGIN_FIELDS, MachineLoginRequest)
KUBERNETES = LoginMethod("kubernetes-auth", kubernetes_auth_login, TOKEN_LOGIN_FIELDS, MachineLoginRequest)


def login_answer(issued: IssuedToken) -> dict[str, Any]:
    """The body of every login and renewal, native and adapter alike (Infisical's login shape)."""
    return {
        "accessToken": issued.access_token,
        "expiresIn": int(issued.expires_in),
        "accessTokenMaxTTL": int(issued.max_ttl),
        "tokenType": "Bearer",
    }


# --- native API (/api/v1/auth/...) -------------------------------------------------------------------


class TokenRefused(DomainError):
    """The presented access token cannot be renewed or revoked (401; the reason never holds it)."""

    status = 401
    code = "invalid_token"


@extend_schema(tags=AUTH_TAGS, auth=[])  # inherited by every subclass
class MachineAuthApi(ApiView):
    """No authentication; counted per route and client IP before the body is read."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    # Responses hold access tokens: never stored for an idempotent replay.
    idempotency_storable = False

    @staticmethod
    def counted_ip(request: Request, route: str) -> str:
        """The client IP, after counting this attempt on *route* (429 past the limit)."""
        ip = client_ip(request._request)
        try:
            login_rate_limit_check(ip, route)
        except RateLimited as exc:
            raise exceptions.Throttled(wait=exc.retry_after) from None
        return ip


class MachineLoginApi(MachineAuthApi):
    method: LoginMethod

    def log_in(self, request: Request) -> Response:
        ip = self.counted_ip(request, self.method.rate_limit_route)
        data = self.parse(self.method.native_request, request.data)
        arguments = {keyword: data[field] for field, keyword in self.method.fields.items()}
        return Response(login_answer(self.method.login(**arguments, ip=ip)))


def _token_login_schema(operation_id: str, what: str) -> Any:
    return extend_schema(
        operation_id=operation_id,
        request=MachineLoginRequest,
        responses={200: LoginResponseSerializer, **errors(400, 401, 403, 404, 429, 502, 503, 504)},
        description=f"Exchange {what} for an access token. 404: no such identity or auth method; 401: the "
        "token is not accepted; 403: wrong issuer or source IP; 502/504: the issuer or API server failed.",
    )


class UniversalAuthLoginApi(MachineLoginApi):
    method = UNIVERSAL

    @extend_schema(
        operation_id="auth_universal_login",
        request=UniversalAuthLoginRequest,
        responses={200: LoginResponseSerializer, **errors(400, 403, 429, 503)},
        description="Exchange a client id and secret for an access token. Wrong, revoked, expired or used-up "
        "credentials and a locked-out client id all answer 401 `Invalid credentials`. Rate limited per IP (429).",
    )
    def post(self, request: Request) -> Response:
        return self.log_in(request)


class JwtAuthLoginApi(MachineLoginApi):
    method = JWT

    @_token_login_schema("auth_jwt_login", "a JWT (e.g. an Azure DevOps federation token)")
    def post(self, request: Request) -> Response:
        return self.log_in(request)


class OidcAuthLoginApi(MachineLoginApi):
    method = OIDC

    @_token_login_schema("auth_oidc_login", "an OIDC ID token")
    def post(self, request: Request) -> Response:
        return self.log_in(request)


class KubernetesAuthLoginApi(MachineLoginApi):
    method = KUBERNETES

    @_token_login_schema("auth_kubernetes_login", "a Kubernetes service-account token")
    def post(self, request: Request) -> Response:
        return self.log_in(request)


class TokenRenewApi(MachineAuthApi):
    @extend_schema(
        operation_id="auth_token_renew",
        request=AccessTokenRequest,
        responses={200: LoginResponseSerializer, **errors(400, 429)},
        description="Extend the token by its TTL, capped at its max TTL counted from login. The same token "
        "comes back; an expired, revoked or max-TTL-spent token answers 401.",
    )
    def post(self, request: Request) -> Response:
        ip = self.counted_ip(request, "token-renew")
        data = self.parse(AccessTokenRequest, request.data)
        try:
            return Response(login_answer(access_token_renew(raw_token=data["accessToken"], ip=ip)))
        except TokenError as exc:
            raise TokenRefused(exc.reason) from None


class TokenRevokeApi(MachineAuthApi):
    @extend_schema(
        operation_id="auth_token_revoke",
        request=AccessTokenRequest,
        responses={200: MessageSerializer, **errors(400, 429)},
        description="Revoke the presented access token (refused on its next use, on every worker).",
    )
    def post(self, request: Request) -> Response:
        self.counted_ip(request, "token-revoke")
        data = self.parse(AccessTokenRequest, request.data)
        try:
            access_token_revoke(raw_token=data["accessToken"])
        except TokenError as exc:
            raise TokenRefused(exc.reason) from None
        return Response({"message": REVOKED})


# --- Infisical-compatible adapter (/compat/infisical/api/v1/auth/...) --------------------------------


class CompatLoginView(CompatView):
    """``method`` is given per route (``as_view(method=JWT)``). RateLimited and LoginRefused carry
    their status; the adapter's dispatcher answers them in Infisical's error shape."""

    public = True
    method: LoginMethod = UNIVERSAL

    def post(self, request: HttpRequest, principal: None, params: Params) -> dict[str, Any]:
        arguments = {keyword: params.string(field, required=True) for field, keyword in self.method.fields.items()}
        params.check()
        ip = client_ip(request)
        login_rate_limit_check(ip, self.method.rate_limit_route)
        return login_answer(self.method.login(**arguments, ip=ip))


class CompatTokenRenewView(CompatView):
    public = True

    def post(self, request: HttpRequest, principal: None, params: Params) -> dict[str, Any]:
        raw = params.string("accessToken", required=True)
        params.check()
        try:
            issued = access_token_renew(raw_token=str(raw), ip=client_ip(request))
        except TokenError as exc:
            if exc.expired:  # Infisical: renewal past TTL / max TTL is a 401
                raise CompatError(401, "Failed to renew MI access token due to TTL expiration") from None
            raise token_error(exc) from None
        return login_answer(issued)


class CompatTokenRevokeView(CompatView):
    public = True

    def post(self, request: HttpRequest, principal: None, params: Params) -> dict[str, Any]:
        raw = params.string("accessToken", required=True)
        params.check()
        try:
            access_token_revoke(raw_token=str(raw))
        except TokenError as exc:
            raise token_error(exc) from None
        return {"message": REVOKED}


__all__ = [
    "JWT",
    "KUBERNETES",
    "OIDC",
    "UNIVERSAL",
    "CompatLoginView",
    "CompatTokenRenewView",
    "CompatTokenRevokeView",
    "JwtAuthLoginApi",
    "KubernetesAuthLoginApi",
    "LoginMethod",
    "OidcAuthLoginApi",
    "TokenRenewApi",
    "TokenRevokeApi",
    "UniversalAuthLoginApi",
    "login_answer",
    "login_rate_limit_check",
    "login_rate_per_minute",
]
