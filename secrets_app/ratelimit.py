"""Rate limits: one mechanism for machine logins and for the token-authenticated APIs.

A fixed one-minute window per (bucket, subject) counted in the shared Django cache
(``STRONGROOM_RATE_LIMIT_CACHE``, Redis in production), so every gunicorn worker and every web
node sees the same count: one atomic round trip there (``counter_hit``), so N concurrent requests
count N. Who uses it:

- machine logins (native and compat): per route and client IP, ``STRONGROOM_LOGIN_RATE_PER_MINUTE``
  (``secrets_app.identities.login_views.login_rate_limit_check``);
- ``/api/v1`` (a DRF throttle, the default for every API view) and ``/compat/infisical`` (its
  dispatcher): per person or machine identity, reads (GET/HEAD/OPTIONS) and writes counted apart,
  ``STRONGROOM_API_READ_RATE_PER_MINUTE`` / ``STRONGROOM_API_WRITE_RATE_PER_MINUTE``. The limit is per
  principal, not per token: a machine cannot multiply its budget by logging in again.

When the shared store cannot be read or written:

- **logins fail closed** (503): an attacker who can knock the store over must not get unlimited
  guesses (like Vault's answer when its quota lookup fails);
- **authenticated API requests fall back to a counter in this process** (same limits, per worker):
  the caller has already proved who it is against PostgreSQL, the limit is an abuse guard, not an
  authentication control, and a Redis outage must not stop every pipeline from reading its
  secrets (security bar F3: served from PostgreSQL). Still bounded, never unlimited; the fallback
  is logged once a minute per worker.

Health probes are plain Django views and never counted.
"""

from __future__ import annotations

import logging
import math
import threading
import time

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import RedisCache

from audit.models import Outcome
from audit.services import audit_record
from secrets_app.errors import DomainError
from secrets_app.principals import Principal

logger = logging.getLogger("strongroom.ratelimit")

WINDOW_SECONDS = 60
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RateLimited(DomainError):
    """Over the limit: answer 429 with ``Retry-After: retry_after``. ``first_in_window`` is True for
    exactly one refusal per subject and window (whatever the number of workers): audit that one."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, first_in_window: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.first_in_window = first_in_window


class RateLimitUnavailable(DomainError):
    """The limiter's store did not answer: the request is refused rather than let through unchecked."""

    status = 503
    code = "rate_limit_unavailable"


def _store() -> BaseCache:
    return caches[getattr(settings, "STRONGROOM_RATE_LIMIT_CACHE", "default")]


def counter_hit(store: BaseCache, key: str, *, timeout: int) -> int:
    """Add one to the counter *key* in *store*, created at 0 to expire after *timeout* seconds when
    missing; the new count. Store errors propagate (the caller decides: refuse, or count locally).

    On Redis one round trip: ``MULTI; SET key 0 EX timeout NX; INCR key; EXEC`` (atomic, so N
    concurrent hits count N on every worker; the value is the plain integer Django's Redis cache
    stores for ints, so ``cache.get`` reads it). Other caches: ``add`` + ``incr``, again when the
    counter expired in between."""
    if isinstance(store, RedisCache):
        redis_key = store.make_and_validate_key(key)
        client = store._cache.get_client(redis_key, write=True)  # type: ignore[attr-defined]
        pipeline = client.pipeline(transaction=True)
        pipeline.set(redis_key, 0, ex=timeout, nx=True)
        pipeline.incr(redis_key)
        return int(pipeline.execute()[1])
    for _ in range(3):
        store.add(key, 0, timeout=timeout)
        try:
            return int(store.incr(key))
        except ValueError:  # expired (or reset) between add and incr: again
            continue
    raise RuntimeError("the counter expired three times between add and incr")


class _LocalWindows:
    """Fixed one-minute windows counted in this process: the fallback while the shared store is down."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._window = -1
        self._counts: dict[str, int] = {}
        self._warned_window = -1

    def hit(self, key: str, window: int) -> int:
        with self._lock:
            if window != self._window:  # a new minute: forget the old one (bounded memory)
                self._window, self._counts = window, {}
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key]

    def should_warn(self, window: int) -> bool:
        with self._lock:
            if self._warned_window == window:
                return False
            self._warned_window = window
            return True


_local = _LocalWindows()


def rate_limit_hit(
    *, bucket: str, subject: str, limit: int, refused: str, unavailable: str, local_fallback: bool = False
) -> None:
    """Count one request of *subject* in *bucket*. Raises RateLimited (message *refused*, with
    ``{retry_after}`` filled in) past *limit* per minute. When the store cannot count: with
    *local_fallback*, count in this process instead; otherwise raise RateLimitUnavailable (message
    *unavailable*). A *limit* of 0 or less turns the bucket off."""
    if limit <= 0:
        return
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    key = f"strongroom:rate:{bucket}:{subject}:{window}"
    try:
        count = counter_hit(_store(), key, timeout=WINDOW_SECONDS + 5)
    except Exception as exc:  # noqa: BLE001 - any store failure must refuse (or count locally), whatever its type
        if not local_fallback:
            logger.error("rate limiter unavailable for %s (%s); refusing the request", bucket, type(exc).__name__)
            raise RateLimitUnavailable(unavailable) from None
        if _local.should_warn(window):
            logger.warning(
                "rate limiter store unavailable (%s); counting %s in this process until it answers",
                type(exc).__name__,
                bucket,
            )
        count = _local.hit(key, window)
    if count > limit:
        retry_after = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
        raise RateLimited(
            refused.format(retry_after=retry_after), retry_after=retry_after, first_in_window=count == limit + 1
        )


def api_rate_per_minute(method: str) -> int:
    if method.upper() in SAFE_METHODS:
        return int(getattr(settings, "STRONGROOM_API_READ_RATE_PER_MINUTE", 600))
    return int(getattr(settings, "STRONGROOM_API_WRITE_RATE_PER_MINUTE", 120))


def api_request_rate_limit(*, principal: Principal, method: str, surface: str) -> None:
    """Count one authenticated API request of *principal* (``surface``: ``api`` or ``compat``).

    Raises RateLimited (429) past the per-minute limit of its kind, audited as
    ``request.rate_limited`` once per principal, kind and window. While the shared store is down
    the count is kept in this process (see the module docstring), never skipped."""
    kind = "read" if method.upper() in SAFE_METHODS else "write"
    limit = api_rate_per_minute(method)
    try:
        rate_limit_hit(
            bucket=f"api-{kind}",
            subject=str(principal.key),
            limit=limit,
            refused=f"Too many API {kind}s; retry after {{retry_after}} seconds",
            unavailable="The API is temporarily unavailable (the rate limiter cannot be reached); try again shortly",
            local_fallback=True,
        )
    except RateLimited as exc:
        if exc.first_in_window:
            audit_record(
                action="request.rate_limited",
                actor=principal.audit_actor(),
                outcome=Outcome.DENY,
                organization_id=principal.organization_id,
                resource_type="api",
                resource_id=surface,
                metadata={"kind": kind, "limit_per_minute": limit, "retry_after": exc.retry_after},
            )
        raise


__all__ = [
    "RateLimitUnavailable",
    "RateLimited",
    "api_rate_per_minute",
    "api_request_rate_limit",
    "counter_hit",
    "rate_limit_hit",
]
