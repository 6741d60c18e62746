"""Rate limiting of the machine login routes (native and Infisical-compatible alike).

Per (route, client IP) per minute, ``STRONGROOM_LOGIN_RATE_PER_MINUTE``, counted by the one
mechanism in ``secrets_app.ratelimit`` (shared store, fail closed when it is down).
"""

from __future__ import annotations

from django.conf import settings

from secrets_app.ratelimit import RateLimited, RateLimitUnavailable, rate_limit_hit


def login_rate_per_minute() -> int:
    return int(getattr(settings, "STRONGROOM_LOGIN_RATE_PER_MINUTE", 25))


def login_rate_limit_check(ip: str, route: str) -> None:
    """Count one attempt on *route* from *ip*. Raises RateLimited past the per-minute limit
    (``STRONGROOM_LOGIN_RATE_PER_MINUTE``), RateLimitUnavailable when the store cannot count."""
    rate_limit_hit(
        bucket=f"login:{route}",
        subject=ip,
        limit=login_rate_per_minute(),
        refused="Too many login attempts; retry after {retry_after} seconds",
        unavailable="Login is temporarily unavailable (the rate limiter cannot be reached); try again shortly",
    )


__all__ = ["RateLimitUnavailable", "RateLimited", "login_rate_limit_check", "login_rate_per_minute"]
