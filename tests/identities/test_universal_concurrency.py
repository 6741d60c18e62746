"""Exact counts under concurrency: 20 simultaneous requests against use limits and the lockout.

PostgreSQL (real row locks between connections) and the Redis cache (atomic incr) are needed;
a newcomer's SQLite/file-cache run skips these, CI fails instead."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from secrets_app.identities.universal import LoginRefused, lockout_failure_count, universal_auth_login
from tests.identities.universal_support import bearer, login, make_robot, require_shared_cache
from tests.support.celery_worker import require_postgres

CONCURRENCY = 20
WRONG = "f" * 64


def _together(work: Callable[[], Any]) -> list[Any]:
    """Run *work* in CONCURRENCY threads released at once; each result or exception, in order."""
    barrier = threading.Barrier(CONCURRENCY)
    results: list[Any] = [None] * CONCURRENCY

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work()
        except Exception as exc:  # noqa: BLE001 - collected for the assertions
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.mark.django_db(transaction=True)
def test_it_lets_exactly_the_use_limit_of_a_client_secret_log_in(cast: Any) -> None:
    require_postgres("row-level concurrency needs PostgreSQL")
    robot = make_robot(cast, lockout_enabled=False, secret={"num_uses_limit": 3})
    results = _together(
        lambda: universal_auth_login(client_id=robot.client_id, client_secret=robot.client_secret, ip="127.0.0.1")
    )

    assert sum(1 for r in results if not isinstance(r, Exception)) == 3
    assert sum(1 for r in results if isinstance(r, LoginRefused)) == 17
    robot.secret_row.refresh_from_db()
    assert robot.secret_row.num_uses == 3


@pytest.mark.django_db(transaction=True)
def test_it_lets_exactly_the_use_limit_of_a_token_through(cast: Any) -> None:
    require_postgres("row-level concurrency needs PostgreSQL")
    robot = make_robot(cast, access_token_num_uses_limit=3)
    token = login(robot).json()["accessToken"]
    statuses = _together(lambda: bearer(token).get("/api/v1/projects/acme/secrets/?environment=dev").status_code)

    assert sorted(statuses) == [200] * 3 + [401] * 17
    from secrets_app.models import IdentityAccessToken

    assert IdentityAccessToken.objects.get(identity=robot.identity).num_uses == 3


def _bad_login(robot: Any) -> Callable[[], Any]:
    return lambda: universal_auth_login(client_id=robot.client_id, client_secret=WRONG, ip="127.0.0.1")


@pytest.mark.django_db(transaction=True)
def test_it_counts_concurrent_failures_exactly(cast: Any) -> None:
    require_postgres("concurrent logins need PostgreSQL")
    require_shared_cache("exact failure counts need Redis's atomic incr")
    below = make_robot(cast, lockout_threshold=CONCURRENCY + 1)
    results = _together(_bad_login(below))

    assert all(isinstance(r, LoginRefused) for r in results)
    assert lockout_failure_count(below.config) == CONCURRENCY  # none lost
    assert login(below).status_code == 200  # N-1 failures: the right secret works

    at = make_robot(cast, lockout_threshold=CONCURRENCY)
    _together(_bad_login(at))
    assert login(at).status_code == 401  # N failures: locked, the right secret refused
