"""What JWT, OIDC and Kubernetes auth share: the refusal type, glob matching, outbound HTTPS to
issuers and API servers (URL policy, CA bundles, timeouts), token-settings validation, the org
admin check for configuring auth methods, and the login skeleton (find config → verify → issue →
audit).

``LoginRefused.status`` is the HTTP status every interface answers:

=====  ==========================================================================================
404    the identity does not exist, is in no usable state, or has no such auth method configured
401    the presented token is not valid (signature, expiry, audience, subject, claims, TokenReview)
403    the token's issuer is not the bound issuer (Infisical's answer), or the source IP is refused
502    the issuer / JWKS / Kubernetes API server could not be used: unreachable, timed out, refused
       by the outbound guard, an HTTP error, a redirect, no JSON, no keys, a refused token reviewer
=====  ==========================================================================================

Every 502 answers the same text (:data:`UPSTREAM_FAILED`) whatever went wrong: a login route is
open to anyone, and distinct texts ("could not be reached" / "answered HTTP 404" / "timed out")
would make it a port scanner of whatever the issuer URL points at. What went wrong is in
``LoginRefused.detail``, recorded in the ``identity.login_failed`` audit event for admins.

Outbound requests go through ``secrets_app.outbound`` (public addresses only, the checked address
dialled, no redirects, no proxies): ``STRONGROOM_OUTBOUND_ALLOWED_HOSTS`` is the escape hatch for a
private issuer or API server (and the only way to use plain http).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import ipaddress
import os
import re
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import requests
from cryptography import x509
from django.db import transaction

from secrets_app import outbound
from secrets_app.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from secrets_app.events import machine_login_verified
from secrets_app.identities.access_tokens import (
    IssuedToken,
    access_token_issue,
    ip_allowed,
    login_failure_record,
)
from secrets_app.models import MachineIdentity, TokenSettings
from secrets_app.principals import Principal
from secrets_app.selectors.access import is_org_admin, is_org_member

HTTP_TIMEOUT_SECONDS = 10.0
MAX_TTL_CAP_SECONDS = 315_360_000  # ten years, Infisical's own cap
UPSTREAM_FAILED = "The login could not be verified with the identity's configured issuer"

Config = TypeVar("Config", bound=TokenSettings)


class LoginRefused(DomainError):
    """A machine login was refused. ``status`` is the HTTP status (see the module docstring);
    ``message`` is safe to show and never contains the presented token; ``detail`` (audited, never
    answered) says more when the message is deliberately generic."""

    _CODES = {401: "unauthorized", 403: "permission_denied", 404: "not_found", 502: "bad_gateway", 504: "timeout"}

    def __init__(self, status: int, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = self._CODES.get(status, "login_refused")
        self.detail = detail

    def __repr__(self) -> str:
        return f"<LoginRefused {self.status} {self.message!r}>"


def upstream_failed(detail: str) -> LoginRefused:
    """The one answer for anything that went wrong with the issuer / API server (see the module
    docstring); *detail* goes to the audit event only."""
    return LoginRefused(502, UPSTREAM_FAILED, detail=detail)


# --- globs ------------------------------------------------------------------------------------------


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """``*`` matches any run without ``/``, ``**`` any run at all, ``?`` one character but ``/``
    (picomatch's rules, which Infisical uses). Everything else is literal."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("".join(out), re.DOTALL)


def glob_match(value: str, pattern: str) -> bool:
    return value == pattern or _glob_regex(pattern).fullmatch(value) is not None


def glob_list(text: str) -> list[str]:
    """A ``", "``-separated glob list (commas with or without spaces), empties dropped."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def any_glob_matches(values: Iterable[str], patterns: Iterable[str]) -> bool:
    patterns = list(patterns)
    return any(glob_match(value, pattern) for value in values for pattern in patterns)


# --- outbound HTTPS ---------------------------------------------------------------------------------


def validate_outbound_url(field: str, url: str) -> str:
    """An http(s) URL the outbound guard accepts now (https, public addresses, unless the host is
    in ``STRONGROOM_OUTBOUND_ALLOWED_HOSTS``); the guard checks again at every connection."""
    url = (url or "").strip()
    try:
        return outbound.check_url(url, unresolvable_ok=True)
    except outbound.OutboundRefused as refusal:
        reason = refusal.reason
        message = (
            reason[0].upper() + reason[1:]
            if reason.startswith(("must", "an IP", "not a"))
            else f"{refusal.host} {reason}"
        )
        raise ValidationFailed(field, message[:300]) from None


def validate_ca_pem(field: str, pem: str) -> str:
    pem = (pem or "").strip()
    if not pem:
        return ""
    try:
        certificates = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise ValidationFailed(field, "Must be one or more PEM certificates") from None
    if not certificates:
        raise ValidationFailed(field, "Must be one or more PEM certificates")
    return pem + "\n"


_ca_files: dict[str, str] = {}
_ca_lock = threading.Lock()


def _ca_files_remove() -> None:
    for path in _ca_files.values():
        with contextlib.suppress(OSError):
            os.unlink(path)


atexit.register(_ca_files_remove)


def ca_bundle_path(pem: str) -> str:
    """A private temp file holding *pem* (requests' ``verify=`` wants a path), one per content."""
    digest = hashlib.sha256(pem.encode()).hexdigest()
    with _ca_lock:
        path = _ca_files.get(digest)
        if path and os.path.exists(path):
            return path
        handle, path = tempfile.mkstemp(prefix="strongroom-ca-", suffix=".pem")
        with os.fdopen(handle, "w") as file:
            file.write(pem)
        _ca_files[digest] = path
        return path


def tls_verify(ca_pem: str) -> str | bool:
    return ca_bundle_path(ca_pem) if ca_pem else True


def http_get_json(url: str, *, ca_pem: str = "", what: str) -> Any:
    """GET a JSON document from an issuer through the outbound guard. Any failure is
    :func:`upstream_failed` with a detail naming *what*."""
    try:
        with outbound.session(bound_to=[url]) as session:
            response = session.get(
                url,
                timeout=HTTP_TIMEOUT_SECONDS,
                verify=tls_verify(ca_pem),
                headers={"Accept": "application/json"},
                allow_redirects=False,
            )
    except outbound.OutboundRefused as refusal:
        raise upstream_failed(f"The {what} was not contacted: {refusal}") from None
    except requests.Timeout:
        raise upstream_failed(f"The {what} did not answer in time") from None
    except requests.RequestException as exc:
        raise upstream_failed(f"The {what} could not be reached ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise upstream_failed(f"The {what} answered HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise upstream_failed(f"The {what} did not answer JSON") from None


# --- configuration ----------------------------------------------------------------------------------


def identity_admin_check(principal: Principal, identity: MachineIdentity) -> None:
    """Only an admin of the identity's organization (or a superuser) configures its auth methods.
    Outside the organization the identity does not exist (404); a plain member gets 403."""
    if principal.user_id is None or not is_org_member(principal, identity.organization_id):
        raise NotFound("Identity not found")
    if not is_org_admin(principal, identity.organization_id):
        raise PermissionDenied("Only organization admins can configure an identity's auth methods")


def token_settings_clean(
    *, access_token_ttl: int, access_token_max_ttl: int, access_token_num_uses_limit: int, access_token_trusted_ips: Any
) -> dict[str, Any]:
    if not isinstance(access_token_ttl, int) or access_token_ttl < 1:
        raise ValidationFailed("accessTokenTTL", "Must be a positive number of seconds")
    if not isinstance(access_token_max_ttl, int) or not access_token_ttl <= access_token_max_ttl <= MAX_TTL_CAP_SECONDS:
        raise ValidationFailed("accessTokenMaxTTL", "Must be at least the TTL and at most ten years")
    if not isinstance(access_token_num_uses_limit, int) or access_token_num_uses_limit < 0:
        raise ValidationFailed("accessTokenNumUsesLimit", "Must be 0 (unlimited) or more")
    cidrs: list[str] = []
    for index, item in enumerate(access_token_trusted_ips or []):
        text = item.get("ipAddress", "") if isinstance(item, dict) else item
        try:
            cidrs.append(str(ipaddress.ip_network(str(text).strip(), strict=False)))
        except ValueError:
            raise ValidationFailed(f"accessTokenTrustedIps[{index}]", "Not an IP address or CIDR range") from None
    return {
        "access_token_ttl": access_token_ttl,
        "access_token_max_ttl": access_token_max_ttl,
        "access_token_num_uses_limit": access_token_num_uses_limit,
        "access_token_trusted_ips": cidrs,
    }


# --- the login skeleton -----------------------------------------------------------------------------


def identity_for_login(identity_id: str) -> MachineIdentity | None:
    try:
        public_id = uuid.UUID(str(identity_id))
    except (TypeError, ValueError, AttributeError):
        return None
    return MachineIdentity.objects.filter(public_id=public_id).first()


def run_login(
    *,
    method: str,
    identity_id: str,
    ip: str,
    config_for: Callable[[MachineIdentity], Config | None],
    verify: Callable[[Config], object],
    not_configured: str,
) -> IssuedToken:
    """Find the identity and its config, verify (raising LoginRefused), then issue and audit.
    Every refusal is audited with its reason (never the token) and re-raised."""
    identity = identity_for_login(identity_id)
    config = config_for(identity) if identity is not None and identity.is_active else None
    try:
        if identity is None or not identity.is_active:
            raise LoginRefused(404, "Identity not found")
        if config is None:
            raise LoginRefused(404, not_configured)
        if not ip_allowed(ip, list(config.access_token_trusted_ips or [])):
            raise LoginRefused(403, "Logins for this identity are not allowed from this IP address")
        verified = verify(config)
    except LoginRefused as refusal:
        login_failure_record(
            identity=identity, method=method, reason=f"{refusal.status}: {refusal.detail or refusal.message}"
        )
        raise
    # The token and audit rows are one statement; the transaction is for what the signal's
    # receivers write with the token (an Azure DevOps run's claims), all or nothing.
    with transaction.atomic():
        issued = access_token_issue(identity=identity, auth_method=method, settings_from=config, ip=ip, login=True)
        machine_login_verified.send(
            sender="secrets_app", token=issued.row, config=config, claims=verified if isinstance(verified, dict) else {}
        )
    return issued


__all__ = [
    "LoginRefused",
    "any_glob_matches",
    "ca_bundle_path",
    "glob_list",
    "glob_match",
    "http_get_json",
    "identity_admin_check",
    "run_login",
    "tls_verify",
    "token_settings_clean",
    "upstream_failed",
    "validate_ca_pem",
    "validate_outbound_url",
]
