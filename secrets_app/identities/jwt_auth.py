"""JWT auth: a machine identity logs in with a JWT signed by a key we trust (a JWKS URL or static
PEM public keys) and bound to an issuer, audiences, a subject and claims.

Built for Azure DevOps workload identity federation: both token styles verify (see
docs/azure-devops.md). Checks, in order:

1. the signature, with a key chosen by ``kid`` (JWKS) or each static key in turn; the algorithm
   comes from the key type (RS*/PS* for RSA, ES* for EC, EdDSA) — never ``none``, never HS*;
2. ``exp`` (required), ``nbf`` and ``iat``, with 30 s leeway;
3. ``iss`` equals the bound issuer (403 otherwise, as Infisical answers);
4. one bound audience glob matches one ``aud`` value; the subject glob matches ``sub``; every
   bound claim (dot path → glob list) matches.

Every refusal raises :class:`LoginRefused` (see ``login_common`` for the status table).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import jwt as pyjwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.db import transaction

from audit.services import audit_record
from secrets_app.errors import ValidationFailed
from secrets_app.identities.access_tokens import IssuedToken
from secrets_app.identities.login_common import (
    LoginRefused,
    any_glob_matches,
    glob_list,
    glob_match,
    http_get_json,
    identity_admin_check,
    run_login,
    token_settings_clean,
    upstream_failed,
    validate_ca_pem,
    validate_outbound_url,
)
from secrets_app.models import AuthMethodKind, JwtAuth, MachineIdentity
from secrets_app.principals import Principal

LEEWAY_SECONDS = 30
JWKS_CACHE_SECONDS = 60
JWKS_MIN_REFRESH_SECONDS = 5  # an unknown kid refetches, but not more often than this

_RSA_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
_EC_ALGORITHMS = {"secp256r1": ["ES256"], "secp384r1": ["ES384"], "secp521r1": ["ES512"], "secp256k1": ["ES256K"]}


def algorithms_for(key: Any) -> list[str]:
    """The signature algorithms a public key may verify. Symmetric keys get none."""
    if isinstance(key, rsa.RSAPublicKey):
        return list(_RSA_ALGORITHMS)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return list(_EC_ALGORITHMS.get(key.curve.name, []))
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return ["EdDSA"]
    return []


@dataclass(frozen=True)
class VerifyKey:
    key: Any
    kid: str | None
    algorithms: list[str] = field(default_factory=list)


def _keys_from_jwks(document: Any) -> list[VerifyKey]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise upstream_failed("The JWKS document has no keys")
    keys: list[VerifyKey] = []
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("kty") not in {"RSA", "EC", "OKP"} or entry.get("use") == "enc":
            continue
        try:
            jwk = pyjwt.PyJWK(entry)
        except (pyjwt.PyJWKError, pyjwt.InvalidKeyError, ValueError, TypeError):
            continue
        allowed = algorithms_for(jwk.key)
        declared = entry.get("alg")
        if declared:
            allowed = [declared] if declared in allowed else []
        if allowed:
            keys.append(VerifyKey(key=jwk.key, kid=entry.get("kid"), algorithms=allowed))
    return keys


class _JwksCache:
    """Per-process cache of JWKS documents, keyed by (URL, CA)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[float, list[VerifyKey]]] = {}

    def get(self, url: str, ca_pem: str, *, refresh_if_older_than: float | None = None) -> list[VerifyKey]:
        now = time.monotonic()
        with self._lock:
            cached = self._entries.get((url, ca_pem))
        if cached is not None:
            age = now - cached[0]
            stale = age > JWKS_CACHE_SECONDS
            forced = refresh_if_older_than is not None and age > refresh_if_older_than
            if not stale and not forced:
                return cached[1]
        keys = _keys_from_jwks(http_get_json(url, ca_pem=ca_pem, what="JWKS endpoint"))
        with self._lock:
            self._entries[(url, ca_pem)] = (time.monotonic(), keys)
        return keys

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


jwks_cache = _JwksCache()


def keys_from_jwks_url(url: str, ca_pem: str, kid: str | None) -> list[VerifyKey]:
    """The candidate keys for a token: those with its ``kid`` (refetching once when none has it),
    or every key when the token names none."""
    keys = jwks_cache.get(url, ca_pem)
    if kid is None:
        return keys
    matching = [key for key in keys if key.kid == kid]
    if not matching:
        keys = jwks_cache.get(url, ca_pem, refresh_if_older_than=JWKS_MIN_REFRESH_SECONDS)
        matching = [key for key in keys if key.kid == kid]
    if not matching:
        raise LoginRefused(401, "Invalid token: no signing key with this kid")
    return matching


def keys_from_pems(pems: list[str]) -> list[VerifyKey]:
    keys = []
    for pem in pems:
        key = load_pem_public_key(pem.encode())
        keys.append(VerifyKey(key=key, kid=None, algorithms=algorithms_for(key)))
    return keys


def _claim_at(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _as_strings(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    out = []
    for item in values:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            out.append(str(item))
    return out


def _signature_verified(raw: str, keys: list[VerifyKey]) -> dict[str, Any]:
    try:
        header = pyjwt.get_unverified_header(raw)
    except pyjwt.PyJWTError:
        raise LoginRefused(401, "Invalid token: not a JWT") from None
    algorithm = header.get("alg")
    if not isinstance(algorithm, str) or algorithm.lower() == "none" or algorithm.upper().startswith("HS"):
        raise LoginRefused(401, "Invalid token: unsupported signing algorithm")
    candidates = [key for key in keys if algorithm in key.algorithms]
    if not candidates:
        raise LoginRefused(401, "Invalid token: no trusted key for this signing algorithm")
    for candidate in candidates:
        try:
            return pyjwt.decode(
                raw,
                candidate.key,
                algorithms=[algorithm],
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp"], "verify_aud": False, "verify_iss": False},
            )
        except pyjwt.InvalidSignatureError:
            continue
        # Signatures are checked before claims: these errors mean this key verified it.
        except pyjwt.ExpiredSignatureError:
            raise LoginRefused(401, "Invalid token: expired") from None
        except pyjwt.ImmatureSignatureError:
            raise LoginRefused(401, "Invalid token: not valid yet") from None
        except pyjwt.MissingRequiredClaimError as exc:
            raise LoginRefused(401, f"Invalid token: no {exc.claim} claim") from None
        except pyjwt.PyJWTError:
            raise LoginRefused(401, "Invalid token") from None
    raise LoginRefused(401, "Invalid token: signature verification failed")


def claims_check(config: JwtAuth, claims: dict[str, Any], *, issuer: str) -> None:
    """The bound checks of JWT and OIDC auth (after the signature)."""
    if issuer and claims.get("iss") != issuer:
        raise LoginRefused(403, "Access denied: issuer mismatch")
    audiences = glob_list(config.bound_audiences)
    if audiences and not any_glob_matches(_as_strings(claims.get("aud")), audiences):
        raise LoginRefused(401, "Access denied: token audience not allowed")
    if config.bound_subject:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise LoginRefused(401, "Access denied: token has no subject")
        if not glob_match(subject, config.bound_subject):
            raise LoginRefused(401, "Access denied: subject not allowed")
    for path, patterns in (config.bound_claims or {}).items():
        values = _as_strings(_claim_at(claims, path))
        if not values or not any_glob_matches(values, glob_list(str(patterns))):
            raise LoginRefused(401, f"Access denied: claim {path!r} not allowed")


def verify_jwt(config: JwtAuth, raw: str, keys: list[VerifyKey], *, issuer: str) -> dict[str, Any]:
    claims = _signature_verified(raw, keys)
    claims_check(config, claims, issuer=issuer)
    return claims


def unverified_kid(raw: str) -> str | None:
    try:
        kid = pyjwt.get_unverified_header(raw).get("kid")
    except pyjwt.PyJWTError:
        raise LoginRefused(401, "Invalid token: not a JWT") from None
    return kid if isinstance(kid, str) else None


def _verify_jwt_auth(config: JwtAuth, raw: str) -> dict[str, Any]:
    if config.config_type == "static":
        keys = keys_from_pems(list(config.public_keys or []))
    else:
        keys = keys_from_jwks_url(config.jwks_url, config.jwks_ca_cert, unverified_kid(raw))
    return verify_jwt(config, raw, keys, issuer=config.bound_issuer)


def jwt_config_for(identity: MachineIdentity, kind: str) -> JwtAuth | None:
    return JwtAuth.objects.filter(identity=identity, kind=kind).first()


def jwt_auth_login(*, identity_id: str, jwt: str, ip: str) -> IssuedToken:
    """Exchange a JWT for an access token. *identity_id* is the identity's public id.
    Raises LoginRefused (404 not configured, 401 invalid, 403 issuer/IP, 502/504 JWKS unreachable)."""
    return run_login(
        method=AuthMethodKind.JWT,
        identity_id=identity_id,
        ip=ip,
        config_for=lambda identity: jwt_config_for(identity, AuthMethodKind.JWT),
        verify=lambda config: _verify_jwt_auth(config, jwt),
        not_configured="Identity has no JWT auth configured",
    )


# --- configuration ----------------------------------------------------------------------------------


def public_keys_clean(public_keys: Any) -> list[str]:
    if not isinstance(public_keys, list) or not public_keys:
        raise ValidationFailed("publicKeys", "Give at least one PEM public key")
    cleaned = []
    for index, pem in enumerate(public_keys):
        try:
            key = load_pem_public_key(str(pem).strip().encode())
        except (ValueError, TypeError):
            raise ValidationFailed(f"publicKeys[{index}]", "Not a PEM public key") from None
        if not algorithms_for(key):
            raise ValidationFailed(f"publicKeys[{index}]", "Only RSA, EC and Ed25519/Ed448 keys are supported")
        cleaned.append(str(pem).strip() + "\n")
    return cleaned


def bound_claims_clean(bound_claims: Any) -> dict[str, str]:
    if bound_claims in (None, ""):
        return {}
    if not isinstance(bound_claims, dict):
        raise ValidationFailed("boundClaims", "Must map claim paths to glob lists")
    cleaned = {}
    for path, patterns in bound_claims.items():
        if not isinstance(path, str) or not path.strip() or not isinstance(patterns, str) or not glob_list(patterns):
            raise ValidationFailed("boundClaims", "Each claim path needs a non-empty glob list")
        cleaned[path.strip()] = patterns.strip()
    return cleaned


def jwt_like_save(
    *,
    principal: Principal,
    identity: MachineIdentity,
    kind: str,
    fields: dict[str, Any],
    token_settings: dict[str, Any],
) -> JwtAuth:
    """Create or replace the identity's JWT/OIDC auth (audited, admin only)."""
    identity_admin_check(principal, identity)
    with transaction.atomic():
        config = JwtAuth.objects.select_for_update().filter(identity=identity, kind=kind).first()
        created = config is None
        config = config or JwtAuth(identity=identity, kind=kind)
        for name, value in {**fields, **token_settings}.items():
            setattr(config, name, value)
        config.save()
        audit_record(
            action=f"identity.{kind.replace('-', '_')}_configured",
            actor=principal.audit_actor(),
            organization_id=identity.organization_id,
            resource_type="identity",
            resource_id=str(identity.public_id),
            metadata={
                "created": created,
                "config_type": config.config_type,
                "jwks_url": config.jwks_url,
                "oidc_discovery_url": config.oidc_discovery_url,
                "public_keys": len(config.public_keys or []),
                "bound_issuer": config.bound_issuer,
                "bound_audiences": config.bound_audiences,
                "bound_subject": config.bound_subject,
                "bound_claims": config.bound_claims,
                **{key: value for key, value in token_settings.items()},
            },
        )
    return config


def jwt_like_remove(*, principal: Principal, identity: MachineIdentity, kind: str) -> None:
    identity_admin_check(principal, identity)
    with transaction.atomic():
        deleted, _ = JwtAuth.objects.filter(identity=identity, kind=kind).delete()
        audit_record(
            action=f"identity.{kind.replace('-', '_')}_removed",
            actor=principal.audit_actor(),
            organization_id=identity.organization_id,
            resource_type="identity",
            resource_id=str(identity.public_id),
            metadata={"existed": bool(deleted)},
        )


def jwt_auth_configure(
    *,
    principal: Principal,
    identity: MachineIdentity,
    config_type: str = "jwks",
    jwks_url: str = "",
    jwks_ca_cert: str = "",
    public_keys: list[str] | None = None,
    bound_issuer: str = "",
    bound_audiences: str = "",
    bound_subject: str = "",
    bound_claims: dict[str, str] | None = None,
    access_token_ttl: int = 3600,
    access_token_max_ttl: int = 86400,
    access_token_num_uses_limit: int = 0,
    access_token_trusted_ips: list[str] | None = None,
) -> JwtAuth:
    """Create or replace JWT auth. ``jwks``: an https JWKS URL (optional CA PEM) and a required
    bound issuer (a JWKS such as Azure DevOps' is shared by every organization, so the issuer must
    be pinned). ``static``: PEM public keys (RSA, EC, Ed25519/Ed448)."""
    if config_type not in {"jwks", "static"}:
        raise ValidationFailed("configurationType", "Must be 'jwks' or 'static'")
    fields: dict[str, Any] = {
        "config_type": config_type,
        "bound_issuer": (bound_issuer or "").strip(),
        "bound_audiences": ", ".join(glob_list(bound_audiences)),
        "bound_subject": (bound_subject or "").strip(),
        "bound_claims": bound_claims_clean(bound_claims),
        "oidc_discovery_url": "",
    }
    if config_type == "jwks":
        if not (jwks_url or "").strip():
            raise ValidationFailed("jwksUrl", "Required with the jwks configuration type")
        if not fields["bound_issuer"]:
            raise ValidationFailed("boundIssuer", "Required with a JWKS URL (JWKS endpoints can be shared by issuers)")
        fields.update(
            jwks_url=validate_outbound_url("jwksUrl", jwks_url),
            jwks_ca_cert=validate_ca_pem("jwksCaCert", jwks_ca_cert),
            public_keys=[],
        )
    else:
        fields.update(jwks_url="", jwks_ca_cert="", public_keys=public_keys_clean(public_keys))
    settings = token_settings_clean(
        access_token_ttl=access_token_ttl,
        access_token_max_ttl=access_token_max_ttl,
        access_token_num_uses_limit=access_token_num_uses_limit,
        access_token_trusted_ips=access_token_trusted_ips,
    )
    return jwt_like_save(
        principal=principal, identity=identity, kind=AuthMethodKind.JWT, fields=fields, token_settings=settings
    )


def jwt_auth_remove(*, principal: Principal, identity: MachineIdentity) -> None:
    jwt_like_remove(principal=principal, identity=identity, kind=AuthMethodKind.JWT)


__all__ = [
    "LoginRefused",
    "algorithms_for",
    "claims_check",
    "jwks_cache",
    "jwt_auth_configure",
    "jwt_auth_login",
    "jwt_auth_remove",
    "verify_jwt",
]
