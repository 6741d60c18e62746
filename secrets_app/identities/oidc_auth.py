"""OIDC auth: JWT auth whose keys come from the issuer's discovery document.

``{oidc_discovery_url}/.well-known/openid-configuration`` gives ``issuer`` and ``jwks_uri``
(cached for a minute). The document's ``issuer`` must equal the configured bound issuer, and the
token's ``iss`` must equal both (403 otherwise). The remaining checks are JWT auth's.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from secrets_app.errors import ValidationFailed
from secrets_app.identities.access_tokens import IssuedToken
from secrets_app.identities.jwt_auth import (
    bound_claims_clean,
    jwt_like_remove,
    jwt_like_save,
    keys_from_jwks_url,
    unverified_kid,
    verify_jwt,
)
from secrets_app.identities.login_common import (
    LoginRefused,
    glob_list,
    http_get_json,
    run_login,
    token_settings_clean,
    upstream_failed,
    validate_ca_pem,
    validate_outbound_url,
)
from secrets_app.models import AuthMethodKind, JwtAuth, MachineIdentity
from secrets_app.principals import Principal

DISCOVERY_CACHE_SECONDS = 60
_discovery: dict[tuple[str, str], tuple[float, dict[str, str]]] = {}
_discovery_lock = threading.Lock()


def discovery_document_url(base: str) -> str:
    base = base.rstrip("/")
    suffix = "/.well-known/openid-configuration"
    return base if base.endswith(suffix) else base + suffix


def discovery_get(base: str, ca_pem: str) -> dict[str, str]:
    """``{"issuer", "jwks_uri"}`` from the discovery document (cached briefly, per process)."""
    key = (base, ca_pem)
    with _discovery_lock:
        cached = _discovery.get(key)
    if cached is not None and time.monotonic() - cached[0] < DISCOVERY_CACHE_SECONDS:
        return cached[1]
    document: Any = http_get_json(discovery_document_url(base), ca_pem=ca_pem, what="OIDC discovery endpoint")
    if not isinstance(document, dict):
        raise upstream_failed("The OIDC discovery document is not a JSON object")
    issuer, jwks_uri = document.get("issuer"), document.get("jwks_uri")
    if not isinstance(issuer, str) or not isinstance(jwks_uri, str) or not issuer or not jwks_uri:
        raise upstream_failed("The OIDC discovery document has no issuer or jwks_uri")
    try:
        validate_outbound_url("jwks_uri", jwks_uri)
    except ValidationFailed as refused:
        raise upstream_failed(f"The OIDC discovery document's jwks_uri was refused ({refused.message})") from None
    found = {"issuer": issuer, "jwks_uri": jwks_uri}
    with _discovery_lock:
        _discovery[key] = (time.monotonic(), found)
    return found


def discovery_cache_clear() -> None:
    with _discovery_lock:
        _discovery.clear()


def _verify_oidc(config: JwtAuth, raw: str) -> dict[str, Any]:
    kid = unverified_kid(raw)
    document = discovery_get(config.oidc_discovery_url, config.jwks_ca_cert)
    if document["issuer"] != config.bound_issuer:
        raise LoginRefused(403, "Access denied: the discovery document names another issuer")
    keys = keys_from_jwks_url(document["jwks_uri"], config.jwks_ca_cert, kid)
    return verify_jwt(config, raw, keys, issuer=config.bound_issuer)


def oidc_auth_login(*, identity_id: str, jwt: str, ip: str) -> IssuedToken:
    """Exchange an OIDC ID token for an access token. *identity_id* is the identity's public id.
    Raises LoginRefused (404 not configured, 401 invalid, 403 issuer/IP, 502/504 issuer unreachable)."""
    return run_login(
        method=AuthMethodKind.OIDC,
        identity_id=identity_id,
        ip=ip,
        config_for=lambda identity: JwtAuth.objects.filter(identity=identity, kind=AuthMethodKind.OIDC).first(),
        verify=lambda config: _verify_oidc(config, jwt),
        not_configured="Identity has no OIDC auth configured",
    )


def oidc_auth_configure(
    *,
    principal: Principal,
    identity: MachineIdentity,
    oidc_discovery_url: str,
    bound_issuer: str,
    ca_cert: str = "",
    bound_audiences: str = "",
    bound_subject: str = "",
    bound_claims: dict[str, str] | None = None,
    access_token_ttl: int = 3600,
    access_token_max_ttl: int = 86400,
    access_token_num_uses_limit: int = 0,
    access_token_trusted_ips: list[str] | None = None,
) -> JwtAuth:
    """Create or replace OIDC auth: an https discovery URL (optional CA PEM, used for discovery
    and JWKS) and the issuer it must name (required)."""
    if not (oidc_discovery_url or "").strip():
        raise ValidationFailed("oidcDiscoveryUrl", "Required")
    if not (bound_issuer or "").strip():
        raise ValidationFailed("boundIssuer", "Required")
    fields = {
        "config_type": "jwks",
        "oidc_discovery_url": validate_outbound_url("oidcDiscoveryUrl", oidc_discovery_url),
        "jwks_url": "",
        "jwks_ca_cert": validate_ca_pem("caCert", ca_cert),
        "public_keys": [],
        "bound_issuer": bound_issuer.strip(),
        "bound_audiences": ", ".join(glob_list(bound_audiences)),
        "bound_subject": (bound_subject or "").strip(),
        "bound_claims": bound_claims_clean(bound_claims),
    }
    settings = token_settings_clean(
        access_token_ttl=access_token_ttl,
        access_token_max_ttl=access_token_max_ttl,
        access_token_num_uses_limit=access_token_num_uses_limit,
        access_token_trusted_ips=access_token_trusted_ips,
    )
    return jwt_like_save(
        principal=principal, identity=identity, kind=AuthMethodKind.OIDC, fields=fields, token_settings=settings
    )


def oidc_auth_remove(*, principal: Principal, identity: MachineIdentity) -> None:
    jwt_like_remove(principal=principal, identity=identity, kind=AuthMethodKind.OIDC)


__all__ = ["LoginRefused", "discovery_cache_clear", "oidc_auth_configure", "oidc_auth_login", "oidc_auth_remove"]
