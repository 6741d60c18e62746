"""Universal auth login: client id + client secret → a short-lived access token.

Threat model:
* Client secrets are stored only as a keyed HMAC-SHA256 (key derived from SECRET_KEY with a purpose
  label): a database dump holds nothing usable. The 4-character prefix only picks candidate rows;
  each candidate is compared in constant time.
* Guessing is bounded by a lockout per (identity, client id): ``lockout_threshold`` failures within
  ``lockout_counter_reset_seconds`` lock the client id for ``lockout_duration_seconds``. The state
  lives in the shared cache (Redis in production, where a failure is counted in one atomic round
  trip, ``ratelimit.counter_hit``, so counts are exact under concurrency and shared by every worker). While locked, even the right secret gets the
  same 401 as a wrong one. If the lockout state cannot be read or written, the login is refused.
* An unknown client id and a known one with a wrong secret answer the same, after the same work.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections
from django.utils import timezone

from audit.context import current_request_context, reset_request_context, set_request_context
from secrets_app.errors import DomainError
from secrets_app.identities.access_tokens import (
    IssuedToken,
    access_token_issue,
    ip_allowed,
    login_failure_record,
)
from secrets_app.identities.issue import ClientSecretUsedUp
from secrets_app.models import AuthMethodKind, ClientSecret, MachineIdentity, UniversalAuth
from secrets_app.ratelimit import counter_hit

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
    except Exception as exc:  # noqa: BLE001 - any store failure refuses the login
        logger.error("lockout store unavailable during %s (%s); refusing the login", operation, type(exc).__name__)
        raise LoginUnavailable() from None


def lockout_is_locked(config: UniversalAuth) -> bool:
    return _lockout_read(config)[0]


def _lockout_read(config: UniversalAuth) -> tuple[bool, int]:
    """(locked, failures in the current window), read in one round trip (Redis MGET)."""
    if not config.lockout_enabled:
        return False, 0
    failures_key, locked_key = _lockout_keys(config)
    found = _cache_call("read", cache.get_many, [failures_key, locked_key])
    return found.get(locked_key) is not None, int(found.get(failures_key) or 0)


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
    count = _cache_call("write", counter_hit, cache, failures_key, timeout=window)
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


_CANDIDATE_MODELS: tuple[tuple[type[Any], str], ...] = (
    (UniversalAuth, "ua"),
    (MachineIdentity, "mi"),
    (ClientSecret, "cs"),
)


@functools.cache
def _candidates_statement(alias: str) -> tuple[str, list[Any]]:
    """The SQL of :func:`_config_and_candidates` (every column of the three models, in
    ``_CANDIDATE_MODELS`` order) and the column expressions the ORM would convert values by."""
    quote = connections[alias].ops.quote_name
    expressions = [field.get_col(name) for model, name in _CANDIDATE_MODELS for field in model._meta.concrete_fields]
    sql = (
        f"SELECT {', '.join(f'{e.alias}.{quote(e.target.column)}' for e in expressions)}"  # noqa: S608 - names only
        f" FROM {quote(UniversalAuth._meta.db_table)} ua"
        f" JOIN {quote(MachineIdentity._meta.db_table)} mi ON mi.id = ua.identity_id"
        f" LEFT JOIN {quote(ClientSecret._meta.db_table)} cs"
        " ON cs.universal_auth_id = ua.id AND cs.prefix = %s AND cs.revoked_at IS NULL"
        " WHERE ua.client_id = %s"
    )
    return sql, expressions


def _config_and_candidates(client_id: str, prefix: str) -> tuple[UniversalAuth | None, list[ClientSecret]]:
    """The client id's config (its identity loaded) and its unrevoked secrets with *prefix*: one
    statement, no ORM query compiled. (None, []) for an unknown or malformed client id."""
    try:
        parsed_id = uuid.UUID(str(client_id))
    except ValueError:
        return None, []
    sql, expressions = _candidates_statement(connection.alias)
    client_id_param = UniversalAuth._meta.get_field("client_id").get_db_prep_value(parsed_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [prefix, client_id_param])
        rows = cursor.fetchall()
    # The converters the ORM applies (JSON text → objects everywhere; SQLite's text datetimes, 0/1
    # booleans and hex UUIDs too), taken from this connection as the ORM's compiler does.
    converters = [
        (index, converter, expression)
        for index, expression in enumerate(expressions)
        for converter in connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
    ]
    config = None
    candidates: list[ClientSecret] = []
    for row in rows:
        values = list(row)
        for index, converter, expression in converters:
            values[index] = converter(values[index], expression, connection)
        instances, start = [], 0
        for model, _ in _CANDIDATE_MODELS:
            names = [field.attname for field in model._meta.concrete_fields]
            instances.append(model.from_db(connection.alias, names, values[start : start + len(names)]))
            start += len(names)
        config_row, identity, secret = instances
        if config is None:
            config = config_row
            config.identity = identity
        if secret.pk is not None:
            candidates.append(secret)
    return config, candidates


def _login(*, client_id: str, client_secret: str, ip: str) -> IssuedToken:
    client_secret = client_secret or ""
    presented_hash = client_secret_hash(client_secret)
    # One statement whether or not the client id exists, so the answer's timing does not tell.
    config, candidates = _config_and_candidates(client_id, client_secret[:PREFIX_LENGTH])
    secret = _match(candidates, presented_hash)
    if config is None:
        # A lockout read too, and the same 503 when the lockout store is down: the answer never
        # tells whether the id exists.
        _cache_call("read", cache.get, "strongroom:ua-lockout:unknown")
        login_failure_record(identity=None, method=METHOD, reason="unknown client id")
        raise LoginRefused()
    identity = config.identity

    locked, failures = _lockout_read(config)
    if locked:
        login_failure_record(identity=identity, method=METHOD, reason="locked out")
        raise LoginRefused()

    if secret is None or _secret_expired(secret, timezone.now()) or not identity.is_active:
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
    # Failures counted after the read above stay counted: the stricter side of the race.
    if failures:
        lockout_reset(config)

    try:
        # The use count (exactly num_uses_limit logins succeed, whatever the concurrency), the token
        # row and its audit row: one statement, all or nothing.
        return access_token_issue(
            identity=identity, auth_method=METHOD, settings_from=config, ip=ip, client_secret_id=secret.pk, login=True
        )
    except ClientSecretUsedUp:
        login_failure_record(identity=identity, method=METHOD, reason=f"client secret {secret.pk}: use limit reached")
        raise LoginRefused() from None


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
