"""Rate limiting of the machine login routes (native and Infisical-compatible alike).

A fixed one-minute window per (route, client IP) counted in the shared Django cache, so every web
worker sees the same count (Redis in production: ``cache.add`` + ``cache.incr`` are atomic there).
If the counter cannot be read or written, the login is refused (fail closed, like Vault's 500 when
its quota lookup fails): an attacker who can knock the cache over must not get unlimited guesses.
"""

from __future__ import annotations

import logging
import math
import time

from django.conf import settings
from django.core.cache import cache

from secrets_app.errors import DomainError

logger = logging.getLogger("strongroom.identities")

WINDOW_SECONDS = 60


class RateLimited(DomainError):
    """Too many login attempts from this address: answer 429 with ``Retry-After: retry_after``."""

    status = 429
    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many login attempts; retry after {retry_after} seconds")
        self.retry_after = retry_after


class RateLimitUnavailable(DomainError):
    """The limiter's store did not answer: the login is refused rather than let through unchecked."""

    status = 503
    code = "rate_limit_unavailable"

    def __init__(self) -> None:
        super().__init__("Login is temporarily unavailable (the rate limiter cannot be reached); try again shortly")


def login_rate_per_minute() -> int:
    return int(getattr(settings, "STRONGROOM_LOGIN_RATE_PER_MINUTE", 25))


def login_rate_limit_check(ip: str, route: str) -> None:
    """Count one attempt on *route* from *ip*. Raises RateLimited past the per-minute limit
    (``STRONGROOM_LOGIN_RATE_PER_MINUTE``), RateLimitUnavailable when the cache cannot count."""
    limit = login_rate_per_minute()
    if limit <= 0:
        return
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    key = f"strongroom:login-rate:{route}:{ip}:{window}"
    try:
        # add() creates the counter only if missing; incr() is atomic on Redis, so N concurrent
        # attempts count N whatever the number of workers.
        cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr: start it again
            cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
            count = cache.incr(key)
    except Exception as exc:  # noqa: BLE001 - any store failure must refuse, whatever its type
        logger.error("login rate limiter unavailable (%s); refusing the login", type(exc).__name__)
        raise RateLimitUnavailable() from None
    if count > limit:
        retry_after = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
        raise RateLimited(retry_after)


__all__ = ["RateLimitUnavailable", "RateLimited", "login_rate_limit_check", "login_rate_per_minute"]
