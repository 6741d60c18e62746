"""Login routes (universal, JWT, OIDC, Kubernetes) and token renew/revoke.

The login services live in ``secrets_app.identities``; this module only parses, rate-limits and
shapes the answer ``{accessToken, expiresIn, accessTokenMaxTTL, tokenType}``. Audit of logins,
renewals and revocations is done by those services.
"""

from __future__ import annotations

import importlib
from typing import Any

from django.http import HttpRequest

from secrets_app.compat.http import CompatError, CompatView, Params, token_error
from secrets_app.identities.ratelimit import login_rate_limit_check
from secrets_app.middleware import client_ip

# route name -> (module, function, body fields -> keyword arguments)
LOGINS: dict[str, tuple[str, str, dict[str, str]]] = {
    "universal-auth": (
        "secrets_app.identities.universal",
        "universal_auth_login",
        {"clientId": "client_id", "clientSecret": "client_secret"},
    ),
    "jwt-auth": ("secrets_app.identities.jwt_auth", "jwt_auth_login", {"identityId": "identity_id", "jwt": "jwt"}),
    "oidc-auth": ("secrets_app.identities.oidc_auth", "oidc_auth_login", {"identityId": "identity_id", "jwt": "jwt"}),
    "kubernetes-auth": (
        "secrets_app.identities.kubernetes_auth",
        "kubernetes_auth_login",
        {"identityId": "identity_id", "jwt": "jwt"},
    ),
}


def token_answer(issued: Any) -> dict[str, Any]:
    return {
        "accessToken": issued.access_token,
        "expiresIn": int(issued.expires_in),
        "accessTokenMaxTTL": int(issued.max_ttl),
        "tokenType": "Bearer",
    }


def _rate_limit(ip: str, route: str) -> None:
    # Imported at the top of the module, never optionally: a limiter that cannot load must stop the
    # login (an ImportError here is a 500), not let it through unlimited.
    login_rate_limit_check(ip, route)  # raises RateLimited (429, retry_after) — mapped by the dispatcher


class LoginView(CompatView):
    public = True
    method = ""

    def post(self, request: HttpRequest, principal: None, params: Params) -> dict[str, Any]:
        module_name, function_name, fields = LOGINS[self.method]
        ip = client_ip(request)
        arguments = {keyword: params.string(name, required=True) for name, keyword in fields.items()}
        params.check()
        _rate_limit(ip, f"{self.method}-login")
        try:
            login = getattr(importlib.import_module(module_name), function_name)
        except (ImportError, AttributeError):
            raise CompatError(404, f"{self.method} login is not available on this server") from None
        return token_answer(login(**arguments, ip=ip))


class RenewView(CompatView):
    public = True

    def post(self, request: HttpRequest, principal: None, params: Params) -> dict[str, Any]:
        from secrets_app.identities.tokens import TokenError, access_token_renew

        raw = params.string("accessToken", required=True)
        params.check()
        try:
            issued = access_token_renew(raw_token=str(raw), ip=client_ip(request))
        except TokenError as exc:
            if exc.expired:  # Infisical: renewal past TTL / max TTL is a 401
                raise CompatError(401, "Failed to renew MI access token due to TTL expiration") from None
            raise token_error(exc) from None
        return token_answer(issued)


class RevokeView(CompatView):
    public = True

    def post(self, request: HttpRequest, principal: None, params: Params) -> dict[str, Any]:
        from secrets_app.identities.tokens import TokenError, access_token_revoke

        raw = params.string("accessToken", required=True)
        params.check()
        try:
            access_token_revoke(raw_token=str(raw))
        except TokenError as exc:
            raise token_error(exc) from None
        return {"message": "Successfully revoked access token"}
