"""The API's rate limit as a DRF throttle (``DEFAULT_THROTTLE_CLASSES``): every API view counts
each authenticated request against its caller's per-minute budget (``secrets_app.ratelimit``).

Anonymous requests are not counted here: the only anonymous API routes are the machine logins,
which have their own per-IP limiter, and the schema. DRF runs throttles after authentication, so a
rejected token never reaches this point (it is audited as ``token.rejected`` instead).
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from secrets_app.api.authentication import principal_of
from secrets_app.ratelimit import RateLimited, api_request_rate_limit


class PrincipalRateThrottle(BaseThrottle):
    """429 with ``Retry-After`` past the caller's read or write budget; 503 when the store is down."""

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        user = request.user
        if user is None or not getattr(user, "is_authenticated", False):
            return True
        try:
            api_request_rate_limit(principal=principal_of(user), method=request.method or "GET", surface="api")
        except RateLimited as exc:
            self._wait = exc.retry_after
            return False
        return True  # RateLimitUnavailable propagates: the error handler answers 503

    def wait(self) -> float | None:
        return self._wait
