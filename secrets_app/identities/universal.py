"""Universal auth login: client id + client secret → a short-lived access token.

Threat model:
* Client secrets are stored only as a keyed HMAC-SHA256 (key derived from SECRET_KEY with a purpose
  label): a database dump holds nothing usable. The 4-character prefix only picks candidate rows;
  each candidate is compared in constant time.
* Guessing is bounded by a lockout per (identity, client id): ``lockout_threshold`` failures within
  ``lockout_counter_reset_seconds`` lock the client id for ``lockout_duration_seconds``. The state
  lives in the shared cache (Redis in production, where ``add`` + ``incr`` are atomic, so counts are
  exact under concurrency and shared by every worker). While locked, even the right secret gets the
  same 401 as a wrong one. If the lockout state cannot be read or written, the login is refused.
* An unknown client id and a known one with a wrong secret answer the same, after the same work.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import replace

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from audit.context import current_request_context, reset_request_context, set_request_context
from secrets_app.errors import DomainError
from secrets_app.identities.tokens import (
    IssuedToken,
    access_token_issue,
    ip_allowed,
    login_failure_record,
    login_success_record,
)
from secrets_app.models import AuthMethodKind, ClientSecret, UniversalAuth

logger = logging.getLogger("strongroom.identities")

METHOD = AuthMethodKind.UNIVERSAL.value
PREFIX_LENGTH = 4
INVALID_CREDENTIALS = "Invalid credentials"


class LoginRefused(DomainError):
    """Wrong, unknown, revoked, expired or used-up credentials, or a locked client id: always the
    same 401 "Invalid credentials" so a caller learns nothing about which."""

    status = 401
    code = "invalid_credentials"

    def __init__(self) -> None:
        super().__init__(INVALID_CREDENTIALS)


class LoginForbidden(DomainError):
    """Right credentials from an address the client secret is not allowed from (403)."""

    status = 403
    code = "ip_not_allowed"

    def __init__(self) -> None:
        super().__init__("Login is not allowed from this IP address")


class LoginUnavailable(DomainError):
    """The lockout state could not be read or written: refused rather than let through unchecked."""

    status = 503
    code = "lockout_unavailable"

    def __init__(self) -> None:
        super().__init__("Login is temporarily unavailable (the lockout state cannot be checked); try again shortly")


def client_secret_hash(raw_secret: str) -> str:
    """Keyed hash of a client secret (the only form ever stored)."""
    key = hashlib.sha256(b"strongroom-client-secret-hash|" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, raw_secret.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def client_secret_generate() -> str:
    return secrets.token_hex(32)


# --- lockout state (shared cache) ------------------------------------------------------------------


def _lockout_keys(config: UniversalAuth) -> tuple[str, str]:
    base = f"strongroom:ua-lockout:{config.identity_id}:{config.client_id}"
    return f"{base}:failures", f"{base}:locked"


def _cache_call(operation: str, func, *args, **kwargs):  # type: ignore[no-untyped-def]
    try:
        return func(*args, **kwargs)
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - any store failure refuses the login
        logger.error("lockout store unavailable during %s (%s); refusing the login", operation, type(exc).__name__)
        raise LoginUnavailable() from None


def lockout_is_locked(config: UniversalAuth) -> bool:
    if not config.lockout_enabled:
        return False
    _, locked_key = _lockout_keys(config)
    return _cache_call("read", cache.get, locked_key) is not None


def lockout_failure_count(config: UniversalAuth) -> int:
    """Failures counted in the current window (0 when none); raises LoginUnavailable if unreadable."""
    failures_key, _ = _lockout_keys(config)
    return int(_cache_call("read", cache.get, failures_key) or 0)


def _lockout_failure_record(config: UniversalAuth) -> bool:
    """Count one failure; lock the client id when the threshold is reached. True when now locked."""
    if not config.lockout_enabled:
        return False
    failures_key, locked_key = _lockout_keys(config)
    window = max(1, config.lockout_counter_reset_seconds)
    count = 0
    for _ in range(3):
        _cache_call("write", cache.add, failures_key, 0, timeout=window)
        try:
            count = _cache_call("write", cache.incr, failures_key)
            break
        except ValueError:  # the window expired, or a concurrent failure locked and reset it: again
            continue
    else:
        raise LoginUnavailable()
    if count >= max(1, config.lockout_threshold):
        _cache_call("write", cache.set, locked_key, 1, timeout=max(1, config.lockout_duration_seconds))
        _cache_call("write", cache.delete, failures_key)
        return True
    return False


def lockout_reset(config: UniversalAuth, *, unlock: bool = False) -> None:
    """Forget the failures (and, with *unlock*, an active lock: an admin's decision)."""
    failures_key, locked_key = _lockout_keys(config)
    _cache_call("write", cache.delete_many, [failures_key, locked_key] if unlock else [failures_key])


# --- login -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def _audit_source_ip(ip: str) -> Iterator[None]:
    """Audit rows of this login carry *ip* even when called outside a request (tests, compat)."""
    context = current_request_context()
    if context.source_ip == ip:
        yield
        return
    token = set_request_context(replace(context, source_ip=ip))
    try:
        yield
    finally:
        reset_request_context(token)


def _secret_expired(secret: ClientSecret, now: datetime.datetime) -> bool:
    return bool(secret.ttl_seconds) and secret.created_at + datetime.timedelta(seconds=secret.ttl_seconds) <= now


def _match(candidates: list[ClientSecret], presented_hash: str) -> ClientSecret | None:
    found = None
    for candidate in candidates:
        # Every candidate is compared (no early exit), each in constant time.
        if hmac.compare_digest(candidate.secret_hash, presented_hash):
            found = candidate
    return found


def universal_auth_login(*, client_id: str, client_secret: str, ip: str) -> IssuedToken:
    """Exchange a client id and secret for an access token.

    Raises LoginRefused (401 "Invalid credentials") for anything wrong with the credentials or while
    the client id is locked out, LoginForbidden (403) for a disallowed source address, and
    LoginUnavailable (503) when the lockout state cannot be checked. Every outcome is audited with
    the source IP; the secret never is."""
    with _audit_source_ip(ip):
        return _login(client_id=client_id, client_secret=client_secret, ip=ip)


def _login(*, client_id: str, client_secret: str, ip: str) -> IssuedToken:
    client_secret = client_secret or ""
    presented_hash = client_secret_hash(client_secret)
    try:
        parsed_id = uuid.UUID(str(client_id))
    except ValueError:
        parsed_id = None
    config = (
        UniversalAuth.objects.select_related("identity").filter(client_id=parsed_id).first()
        if parsed_id is not None
        else None
    )
    if config is None:
        # Same work as a known client id (a lockout read, a candidate query, a compare), and the
        # same 503 when the lockout store is down: the answer never tells whether the id exists.
        _cache_call("read", cache.get, "strongroom:ua-lockout:unknown")
        _match(
            list(ClientSecret.objects.filter(universal_auth_id=-1, prefix=client_secret[:PREFIX_LENGTH])),
            presented_hash,
        )
        login_failure_record(identity=None, method=METHOD, reason="unknown client id")
        raise LoginRefused()
    identity = config.identity

    if lockout_is_locked(config):
        login_failure_record(identity=identity, method=METHOD, reason="locked out")
        raise LoginRefused()

    now = timezone.now()
    candidates = list(
        ClientSecret.objects.filter(universal_auth=config, prefix=client_secret[:PREFIX_LENGTH]).filter(
            revoked_at__isnull=True
        )
    )
    secret = _match(candidates, presented_hash)
    if secret is None or _secret_expired(secret, now) or not identity.is_active:
        reason = "wrong client secret"
        if secret is not None:
            reason = "identity deactivated" if not identity.is_active else "client secret expired"
        locked = _lockout_failure_record(config)
        login_failure_record(identity=identity, method=METHOD, reason=reason + (" (now locked out)" if locked else ""))
        raise LoginRefused()

    if not (ip_allowed(ip, list(config.client_secret_trusted_ips or [])) and ip_allowed(ip, list(secret.trusted_ips))):
        login_failure_record(identity=identity, method=METHOD, reason=f"client secret {secret.pk}: IP not allowed")
        raise LoginForbidden()

    # A success resets the failure count (and refuses the login if the store cannot be written).
    if config.lockout_enabled:
        lockout_reset(config)

    with transaction.atomic():
        # Atomic use count: exactly num_uses_limit logins succeed, whatever the concurrency.
        counted = ClientSecret.objects.filter(
            Q(num_uses_limit=0) | Q(num_uses__lt=F("num_uses_limit")), pk=secret.pk, revoked_at__isnull=True
        ).update(num_uses=F("num_uses") + 1, last_used_at=now)
        if counted == 1:
            issued = access_token_issue(
                identity=identity, auth_method=METHOD, settings_from=config, ip=ip, client_secret_id=secret.pk
            )
            login_success_record(identity=identity, method=METHOD, issued=issued)
    if counted != 1:
        login_failure_record(identity=identity, method=METHOD, reason=f"client secret {secret.pk}: use limit reached")
        raise LoginRefused()
    return issued


__all__ = [
    "INVALID_CREDENTIALS",
    "LoginForbidden",
    "LoginRefused",
    "LoginUnavailable",
    "client_secret_generate",
    "client_secret_hash",
    "lockout_failure_count",
    "lockout_is_locked",
    "lockout_reset",
    "universal_auth_login",
]
