"""Lockout of people after repeated failed logins: django-axes with a handler of our own.

django-axes wires the checks into Django's login flow: ``AxesStandaloneBackend`` (first in
``AUTHENTICATION_BACKENDS``) refuses a locked login before any password is checked, and its
``user_login_failed`` receiver counts every failure, wrong TOTP codes included (the TOTP step
sends that signal). This module is the handler axes calls (``AXES_HANDLER``). Why our own:

* Two counters with their own thresholds. The **account** counter (email, whatever the source
  address) locks after ``STRONGROOM_LOGIN_LOCKOUT_THRESHOLD`` failures: an attacker spreading
  guesses over many addresses cannot bypass it. The **address** counter (client IP, from
  ``secrets_app.middleware.client_ip``, so X-Forwarded-For is believed only from trusted proxies)
  locks after ``STRONGROOM_LOGIN_LOCKOUT_IP_THRESHOLD`` failures, against password spraying
  (a few guesses on many accounts) without locking a whole office behind one NAT on 5 typos.
  Axes' cache handler has one limit for every parameter.
* A fixed lock: failures within ``..._RESET_SECONDS`` count; the Nth sets a lock key living
  ``STRONGROOM_LOGIN_LOCKOUT_SECONDS`` and clears the counter, so a lock ends on time (attempts
  during the lock are refused without being counted) and is audited once (``user.locked_out``).
* Fail closed. Django's Redis cache raises when Redis is down, and axes would let that escape as
  a 500 after some of its bookkeeping; here every store error becomes LoginLockoutUnavailable
  (503) and the login views refuse the login, as the machine login lockout does
  (``secrets_app/identities/universal.py``).

State lives in the shared Django cache (Redis in production: ``add`` + ``incr`` are atomic, so N
concurrent failures count N on every worker). The counters are keyed by a hash of the
normalised email, so unknown emails lock like known ones and the keys do not hold addresses.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.handlers.base import AbstractAxesHandler, AxesBaseHandler
from axes.signals import user_locked_out
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from audit.models import Outcome
from audit.services import ANONYMOUS_ACTOR, audit_record
from secrets_app.errors import DomainError
from secrets_app.middleware import client_ip

logger = logging.getLogger("strongroom.auth")

ACCOUNT = "account"
ADDRESS = "ip_address"


class LoginLockoutUnavailable(DomainError):
    """The lockout state could not be read or written: the login is refused, never let through."""

    status = 503
    code = "lockout_unavailable"

    def __init__(self) -> None:
        super().__init__("Sign-in is temporarily unavailable (the lockout state cannot be checked); try again shortly")


def lockout_settings() -> dict[str, int]:
    return {
        "threshold": int(getattr(settings, "STRONGROOM_LOGIN_LOCKOUT_THRESHOLD", 5)),
        "ip_threshold": int(getattr(settings, "STRONGROOM_LOGIN_LOCKOUT_IP_THRESHOLD", 20)),
        "seconds": int(getattr(settings, "STRONGROOM_LOGIN_LOCKOUT_SECONDS", 900)),
        "reset_seconds": int(getattr(settings, "STRONGROOM_LOGIN_LOCKOUT_RESET_SECONDS", 900)),
    }


def normalise_username(username: str | None) -> str:
    return (username or "").strip().lower()


def username_from_credentials(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str:
    """``AXES_USERNAME_CALLABLE``: the email as the login form normalises it (case-insensitive)."""
    return normalise_username((credentials or {}).get("username"))


def _keys(scope: str, value: str) -> tuple[str, str]:
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]
    base = f"strongroom:person-lockout:{scope}:{digest}"
    return f"{base}:failures", f"{base}:locked"


def _store(operation: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return call(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any store failure refuses the login, whatever its type
        logger.error("person lockout store unavailable during %s (%s); refusing", operation, type(exc).__name__)
        raise LoginLockoutUnavailable() from None


def _count_one(key: str, window: int) -> int:
    # add() creates the counter only if missing; incr() is atomic on Redis, so N concurrent failures
    # count N on every worker. ValueError: the key vanished in between (expired, or a concurrent
    # failure reached the threshold and reset it): count again from a fresh key.
    for _ in range(3):
        cache.add(key, 0, timeout=window)
        try:
            return int(cache.incr(key))
        except ValueError:
            continue
    raise RuntimeError("failure counter kept vanishing")


def _subjects(username: str, ip: str) -> list[tuple[str, str]]:
    subjects = []
    if username:
        subjects.append((ACCOUNT, username))
    if ip:
        subjects.append((ADDRESS, ip))
    return subjects


def lockout_is_locked(*, username: str, ip: str) -> bool:
    """True while the account or the address is locked. Raises LoginLockoutUnavailable."""
    locked_keys = [_keys(scope, value)[1] for scope, value in _subjects(normalise_username(username), ip)]
    if not locked_keys:
        return False
    return bool(_store("read", cache.get_many, locked_keys))


def lockout_failure_record(*, username: str, ip: str) -> list[str]:
    """Count one failure on the account and the address. Returns the scopes locked by this very
    failure (each lock is reported once). Raises LoginLockoutUnavailable."""
    config = lockout_settings()
    thresholds = {ACCOUNT: config["threshold"], ADDRESS: config["ip_threshold"]}
    newly_locked = []
    for scope, value in _subjects(normalise_username(username), ip):
        if thresholds[scope] <= 0:
            continue
        failures_key, locked_key = _keys(scope, value)
        count = _store("write", _count_one, failures_key, max(1, config["reset_seconds"]))
        if count >= thresholds[scope]:
            # add() is atomic: of concurrent failures past the threshold (even ones that counted
            # again after the counter was reset below), exactly one creates the lock and reports it.
            first = _store("write", cache.add, locked_key, 1, timeout=max(1, config["seconds"]))
            _store("write", cache.delete, failures_key)
            if first:
                newly_locked.append(scope)
    return newly_locked


def lockout_clear(*, username: str = "", ip: str = "", unlock: bool = False) -> int:
    """Forget the failures of the account and/or address (and, with *unlock*, an active lock: an
    admin's decision; a successful login only clears its account's counter). Returns how many
    keys existed. Raises LoginLockoutUnavailable."""
    keys: list[str] = []
    for scope, value in _subjects(normalise_username(username), ip):
        failures_key, locked_key = _keys(scope, value)
        keys += [failures_key, locked_key] if unlock else [failures_key]
    if not keys:
        return 0
    existing = len(_store("read", cache.get_many, keys))
    _store("write", cache.delete_many, keys)
    return existing


def lockout_accounts_locked(usernames: Iterable[str]) -> set[str] | None:
    """Which of these accounts are locked now (one round trip). None when the store is down."""
    by_key = {_keys(ACCOUNT, normalise_username(name))[1]: normalise_username(name) for name in usernames}
    try:
        found = cache.get_many(list(by_key))
    except Exception as exc:  # noqa: BLE001 - a page can still show the people without lock states
        logger.error("person lockout store unavailable while listing locks (%s)", type(exc).__name__)
        return None
    return {by_key[key] for key in found}


def _audit_locked_out(*, username: str, ip: str, scope: str) -> None:
    from django.contrib.auth import get_user_model

    from secrets_app.models import OrganizationMembership

    config = lockout_settings()
    metadata = {
        "username": username[:150],
        "scope": scope,
        "failures": config["threshold"] if scope == ACCOUNT else config["ip_threshold"],
        "lock_seconds": config["seconds"],
    }
    user = None
    if scope == ACCOUNT:
        user = get_user_model().objects.filter(username__iexact=username).first()
    org_ids: list[int | None] = [None]
    if user is not None:
        org_ids = list(
            OrganizationMembership.objects.filter(user_id=user.pk).values_list("organization_id", flat=True)
        ) or [None]
    # One event per organization of the account, so each org's admins see it in their audit log.
    for org_id in org_ids:
        audit_record(
            action="user.locked_out",
            actor=ANONYMOUS_ACTOR,
            outcome=Outcome.DENY,
            organization_id=org_id,
            resource_type="user" if scope == ACCOUNT else "ip_address",
            resource_id=str(user.pk) if user is not None else (ip if scope == ADDRESS else ""),
            metadata=metadata,
        )


class AccountLocked(DomainError):
    """The account is locked after repeated wrong passwords (or TOTP codes)."""

    status = 429
    code = "locked_out"


def account_password_guard(*, username: str) -> None:
    """Before checking a person's password outside the sign-in form (changing the password with a
    session): refuse while the account is locked. Raises AccountLocked or LoginLockoutUnavailable."""
    if lockout_is_locked(username=username, ip=""):
        raise AccountLocked("Too many wrong passwords: try again later, or ask an organization admin to unlock you")


def account_password_failed(*, username: str, ip: str = "") -> None:
    """Count a wrong password given outside the sign-in form against the same account lockout
    (so a stolen session cannot guess the password without limit); audit a lock it causes."""
    for scope in lockout_failure_record(username=username, ip=ip):
        logger.warning("person account locked out (%s) after repeated wrong passwords", scope)
        _audit_locked_out(username=username, ip=ip, scope=scope)


def lockout_refusal_record(*, username: str) -> None:
    """Audit a login refused because the lockout state could not be checked (username only)."""
    audit_record(
        action="user.login_failed",
        actor=ANONYMOUS_ACTOR,
        outcome=Outcome.DENY,
        resource_type="user",
        metadata={"username": normalise_username(username)[:150], "reason": "lockout state unavailable"},
    )


class PersonLockoutBackend(AxesStandaloneBackend):
    """``AUTHENTICATION_BACKENDS``' first entry: axes' gate, which refuses a locked login before any
    password is checked. Called without a request (``Client.login`` in tests, internal code), it
    still refuses a locked account instead of raising axes' "request required" error; such calls
    have no client address and are not counted (only the login views count failures)."""

    def authenticate(  # type: ignore[override]
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        if request is not None:
            return super().authenticate(request, username=username, password=password, **kwargs)  # type: ignore[no-any-return]
        if settings.AXES_ENABLED and lockout_is_locked(username=username or "", ip=""):
            raise PermissionDenied("locked out")
        return None


class PersonLockoutHandler(AbstractAxesHandler, AxesBaseHandler):
    """``AXES_HANDLER``: the account + address lockout above, failing closed."""

    def is_locked(self, request: Any, credentials: dict[str, Any] | None = None) -> bool:
        return lockout_is_locked(username=username_from_credentials(request, credentials), ip=_ip(request))

    def get_failures(self, request: Any, credentials: dict[str, Any] | None = None) -> int:
        """Used by axes' own tools only: the account's current failure count."""
        failures_key, _ = _keys(ACCOUNT, username_from_credentials(request, credentials))
        return int(_store("read", cache.get, failures_key) or 0)

    def user_login_failed(self, sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
        if request is None:
            return
        if getattr(request, "axes_locked_out", False):
            # Refused by the lock itself (AxesStandaloneBackend): not counted, so the lock ends on time.
            return
        username = username_from_credentials(request, credentials)
        ip = _ip(request)
        newly_locked = lockout_failure_record(username=username, ip=ip)
        if newly_locked:
            request.axes_locked_out = True
            request.axes_credentials = {"username": username}
            for scope in newly_locked:
                logger.warning("person login locked out (%s) after repeated failures", scope)
                _audit_locked_out(username=username, ip=ip, scope=scope)
            user_locked_out.send("axes", request=request, username=username, ip_address=ip)

    def user_logged_in(self, sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        """Nothing here: the login views clear the account's counter *before* calling login(), so
        a store failure refuses the login instead of surfacing after the session was granted."""

    def user_logged_out(self, sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        pass

    def reset_attempts(
        self, *, ip_address: str | None = None, username: str | None = None, ip_or_username: bool = False
    ) -> int:
        """``manage.py axes_reset_username`` / ``axes_reset_ip``: lift locks and counters."""
        return lockout_clear(username=username or "", ip=ip_address or "", unlock=True)


def _ip(request: Any) -> str:
    ip = getattr(request, "axes_ip_address", None)
    if ip is None and isinstance(request, HttpRequest):
        ip = client_ip(request)
    return ip or ""


__all__ = [
    "LoginLockoutUnavailable",
    "PersonLockoutBackend",
    "PersonLockoutHandler",
    "lockout_accounts_locked",
    "lockout_clear",
    "lockout_failure_record",
    "lockout_is_locked",
    "lockout_refusal_record",
    "lockout_settings",
    "normalise_username",
    "username_from_credentials",
]
