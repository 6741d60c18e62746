"""Audit noise (issue #11): one matrix event per request; repeated denials counted, then summarised."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
import time_machine
from django.db import connection

from audit import noise
from audit.models import AuditEvent
from secrets_app.errors import PermissionDenied
from secrets_app.policy.enforcement import require
from tests.conftest import build_cast

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _denials_deduplicated(settings: Any) -> None:
    settings.STRONGROOM_AUDIT_DENIAL_WINDOW_SECONDS = 60
    # Ids repeat from test to test and the cache outlives them: a namespace per test.
    settings.STRONGROOM_AUDIT_DENIAL_KEY_PREFIX = f"test-denials:{uuid.uuid4().hex}"


@pytest.fixture
def cast(transactional_db: None) -> Any:
    return build_cast()


def _after(start: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(id__gt=start).order_by("id"))


def _head() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _deny(scope: Any, action: str = "secrets.read_value", path: str = "/") -> None:
    with pytest.raises(PermissionDenied):
        require(scope, action, environment="prod", path=path, resource="DATABASE_URL")


def test_it_records_one_event_for_a_matrix_page(cast: Any, client: Any) -> None:
    client.force_login(cast.alice)
    start = _head()
    assert client.get(f"/projects/{cast.project.slug}/").status_code == 200
    events = _after(start)
    assert [event.action for event in events] == ["secret.values_compared"]
    assert events[0].metadata["environments"] == ["dev", "staging", "prod"]


def test_it_writes_the_first_of_ten_denials_then_one_summary_with_nine(cast: Any) -> None:
    scope = cast.scope(cast.charlie)
    with time_machine.travel(time.time(), tick=False) as traveller:
        start = _head()
        for _ in range(10):
            _deny(scope)
        events = _after(start)
        assert [event.action for event in events] == ["permission.denied"]
        assert noise.audit_denials_flush() == 0  # the window is still open

        traveller.shift(62)
        assert noise.audit_denials_flush() == 1
        assert noise.audit_denials_flush() == 0
    summary = _after(events[0].id)
    assert [event.action for event in summary] == ["permission.denied_repeated"]
    assert summary[0].outcome == "deny"
    assert summary[0].actor_label == events[0].actor_label
    assert (summary[0].environment, summary[0].path, summary[0].resource_id) == ("prod", "/", "DATABASE_URL")
    assert summary[0].metadata["requested_action"] == "secrets.read_value"
    assert summary[0].metadata["suppressed_repeats"] == 9
    assert summary[0].metadata["suppressed_from"] < summary[0].metadata["suppressed_until"]


def test_it_lets_the_next_denial_after_the_window_write_the_summary_first(cast: Any) -> None:
    scope = cast.scope(cast.charlie)
    with time_machine.travel(time.time(), tick=False) as traveller:
        start = _head()
        for _ in range(3):
            _deny(scope)
        traveller.shift(62)
        _deny(scope)
        assert noise.audit_denials_flush() == 0  # already written by the denial
    events = _after(start)
    assert [event.action for event in events] == [
        "permission.denied",
        "permission.denied_repeated",
        "permission.denied",
    ]
    assert events[1].metadata["suppressed_repeats"] == 2


def test_it_never_merges_different_denials(cast: Any) -> None:
    scope = cast.scope(cast.charlie)
    start = _head()
    _deny(scope)
    _deny(scope, action="secrets.delete")
    _deny(scope, path="/backend")
    with pytest.raises(PermissionDenied):
        require(scope, "secrets.read_value", environment="prod", path="/", resource="OTHER_KEY")
    _deny(cast.scope(cast.dave))  # another actor
    _deny(scope)  # a repeat of the first: counted
    events = _after(start)
    assert [
        (event.actor_label, event.metadata["requested_action"], event.path, event.resource_id) for event in events
    ] == [
        ("charlie@example.com", "secrets.read_value", "/", "DATABASE_URL"),
        ("charlie@example.com", "secrets.delete", "/", "DATABASE_URL"),
        ("charlie@example.com", "secrets.read_value", "/backend", "DATABASE_URL"),
        ("charlie@example.com", "secrets.read_value", "/", "OTHER_KEY"),
        ("dave@example.com", "secrets.read_value", "/", "DATABASE_URL"),
    ]


def test_it_writes_each_summary_once_when_two_flushers_race(cast: Any) -> None:
    scope = cast.scope(cast.charlie)
    with time_machine.travel(time.time(), tick=False) as traveller:
        start = _head()
        for action in ("secrets.read_value", "secrets.delete"):
            for _ in range(4):
                _deny(scope, action=action)
        traveller.shift(62)
        now = time.time()
    barrier = threading.Barrier(2)
    results: list[int] = []

    def flush() -> None:
        try:
            barrier.wait()
            results.append(noise.audit_denials_flush(now=now))
        finally:
            connection.close()

    threads = [threading.Thread(target=flush) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 2
    summaries = [event for event in _after(start) if event.action == "permission.denied_repeated"]
    assert sorted(
        (event.metadata["requested_action"], event.metadata["suppressed_repeats"]) for event in summaries
    ) == [
        ("secrets.delete", 3),
        ("secrets.read_value", 3),
    ]


def test_it_writes_every_denial_while_redis_is_down(cast: Any, settings: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "dead": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"},
    }
    settings.STRONGROOM_AUDIT_DENIAL_CACHE = "dead"
    scope = cast.scope(cast.charlie)
    start = _head()
    for _ in range(5):
        _deny(scope)
    assert [event.action for event in _after(start)] == ["permission.denied"] * 5


def test_it_writes_every_denial_inside_a_transaction(cast: Any) -> None:
    """A row in a transaction that may roll back must not open a window that hides the repeats."""
    from django.db import transaction

    scope = cast.scope(cast.charlie)
    start = _head()
    with transaction.atomic():
        _deny(scope)
        _deny(scope)
    assert [event.action for event in _after(start)] == ["permission.denied"] * 2
