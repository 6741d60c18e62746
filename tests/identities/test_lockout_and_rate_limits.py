"""Lockout after N failures (exact, shared, fail closed) and the per-IP login rate limit."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from django.test import override_settings

from secrets_app.identities.login_views import login_rate_limit_check
from secrets_app.identities.universal import (
    LoginRefused,
    LoginUnavailable,
    lockout_failure_count,
    universal_auth_login,
)
from secrets_app.ratelimit import RateLimitUnavailable
from tests.identities.universal_support import login, make_robot, unique_ip

WRONG = "0" * 64
DEAD_REDIS = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}
}


def _attempt(robot: Any, secret: str) -> None:
    universal_auth_login(client_id=robot.client_id, client_secret=secret, ip="127.0.0.1")


def _error(response: Any) -> tuple[int, dict[str, Any]]:
    return response.status_code, response.json()["error"]


def test_it_allows_the_right_secret_after_n_minus_one_failures(cast: Any) -> None:
    robot = make_robot(cast)  # default threshold 3
    for _ in range(2):
        with pytest.raises(LoginRefused):
            _attempt(robot, WRONG)
    assert login(robot).status_code == 200


def test_it_locks_after_n_failures_with_the_same_answer_for_the_right_secret(cast: Any) -> None:
    robot = make_robot(cast)
    bad = [login(robot, secret=WRONG) for _ in range(3)]
    right = login(robot)

    assert {_error(answer)[0] for answer in bad} == {401}
    assert _error(right) == _error(bad[0]) == (401, {"code": "invalid_credentials", "message": "Invalid credentials"})
    from audit.models import AuditEvent

    reasons = [e.metadata["reason"] for e in AuditEvent.objects.filter(action="identity.login_failed").order_by("id")]
    assert reasons[-2:] == ["wrong client secret (now locked out)", "locked out"]


def test_it_unlocks_when_the_lock_expires(cast: Any) -> None:
    robot = make_robot(cast)
    # Below the API's 30 s minimum, set directly: the test waits for a real TTL in the cache.
    type(robot.config).objects.filter(pk=robot.config.pk).update(lockout_duration_seconds=1)
    for _ in range(3):
        assert login(robot, secret=WRONG).status_code == 401
    assert login(robot).status_code == 401
    time.sleep(1.3)
    assert login(robot).status_code == 200


def test_it_resets_the_count_on_success(cast: Any) -> None:
    robot = make_robot(cast)
    for _ in range(2):
        assert login(robot, secret=WRONG).status_code == 401
    assert login(robot).status_code == 200
    for _ in range(2):
        assert login(robot, secret=WRONG).status_code == 401
    assert lockout_failure_count(robot.config) == 2
    assert login(robot).status_code == 200


def test_it_counts_per_client_id(cast: Any) -> None:
    locked, other = make_robot(cast), make_robot(cast)
    for _ in range(3):
        assert login(locked, secret=WRONG).status_code == 401
    assert login(locked).status_code == 401
    assert login(other).status_code == 200


def test_it_refuses_logins_when_the_lockout_store_is_down(cast: Any) -> None:
    robot = make_robot(cast)
    with override_settings(CACHES=DEAD_REDIS):
        with pytest.raises(LoginUnavailable):
            _attempt(robot, robot.client_secret)  # the right secret: still refused
        with pytest.raises(LoginUnavailable):
            _attempt(robot, WRONG)
        with pytest.raises(LoginUnavailable):  # an unknown client id answers alike
            universal_auth_login(client_id=str(uuid.uuid4()), client_secret=WRONG, ip="127.0.0.1")
        answer = login(robot)
        assert answer.status_code == 503  # the rate limiter refuses first, also closed
        assert answer.json()["error"]["code"] in {"rate_limit_unavailable", "lockout_unavailable"}
        with pytest.raises(RateLimitUnavailable):
            login_rate_limit_check("127.0.0.1", "universal-auth-login")
    with override_settings(CACHES=DEAD_REDIS, STRONGROOM_LOGIN_RATE_PER_MINUTE=0):
        answer = login(robot)
        assert answer.status_code == 503 and answer.json()["error"]["code"] == "lockout_unavailable"
    assert login(robot).status_code == 200


@override_settings(STRONGROOM_LOGIN_RATE_PER_MINUTE=3)
def test_it_rate_limits_logins_per_address_with_retry_after(cast: Any) -> None:
    robot = make_robot(cast)
    ip, other_ip = unique_ip(), unique_ip()
    answers = [login(robot, ip=ip).status_code for _ in range(3)]
    limited = login(robot, ip=ip)

    assert answers == [200, 200, 200]
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert limited.json()["error"]["code"] == "throttled"
    assert login(robot, ip=other_ip).status_code == 200  # per address
    renew = {"accessToken": "x.y.z"}
    from rest_framework.test import APIClient

    assert APIClient().post("/api/v1/auth/token/renew", renew, format="json", REMOTE_ADDR=ip).status_code == 401


@override_settings(STRONGROOM_LOGIN_RATE_PER_MINUTE=2)
@pytest.mark.django_db
def test_it_shares_one_login_budget_between_the_native_api_and_the_infisical_adapter() -> None:
    """A JWT login counts per address on both surfaces together: the native API counts a bad body
    (it limits before reading it), the adapter does not (Infisical validates first). Over the
    limit each answers 429 in its own error shape, with Retry-After."""
    from django.test import Client

    if time.time() % 60 > 55:  # the counts live in a fixed minute: do not straddle two
        time.sleep(60 - time.time() % 60)
    ip, client = unique_ip(), Client()
    native, adapter = "/api/v1/auth/jwt-auth/login", "/compat/infisical/api/v1/auth/jwt-auth/login"

    def post(path: str, body: dict[str, Any]) -> Any:
        return client.post(path, body, content_type="application/json", REMOTE_ADDR=ip)

    unknown = {"identityId": str(uuid.uuid4()), "jwt": "a.b.c"}
    answers = [
        post(native, {}).status_code,  # 1st attempt counted
        post(adapter, {}).status_code,  # refused before counting
        post(adapter, unknown).status_code,  # 2nd attempt counted
    ]
    native_limited, adapter_limited = post(native, unknown), post(adapter, unknown)

    assert answers == [400, 422, 404]
    assert native_limited.status_code == 429 and native_limited.json()["error"]["code"] == "throttled"
    assert adapter_limited.status_code == 429
    body = adapter_limited.json()
    assert (body["statusCode"], body["error"]) == (429, "RateLimitExceeded")
    assert body["message"] == f"Too many login attempts; retry after {adapter_limited['Retry-After']} seconds"
    assert 1 <= int(native_limited["Retry-After"]) <= 60 and 1 <= int(adapter_limited["Retry-After"]) <= 60
