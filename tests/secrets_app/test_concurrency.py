"""Concurrent writers (security bar G1): contiguous versions, one winner per key, check-and-set.

Real threads on real connections: PostgreSQL row locks, SQLite's BEGIN IMMEDIATE on a WAL file."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from secrets_app.errors import Conflict, PreconditionFailed
from secrets_app.models import Secret, SecretVersion
from secrets_app.selectors.secrets import secret_get, secret_versions
from secrets_app.services.secrets import SecretInput, secret_update
from tests.secrets_app.conftest import put, run_in_threads, value_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_numbers_50_concurrent_updates_1_to_51_without_gaps(cast, shared_db) -> None:
    put(cast.scope(cast.alice), "DB_PASS", "value-0")

    def update(index: int) -> None:
        secret_update(
            scope=cast.scope(cast.bob),
            environment="dev",
            path="/",
            key="DB_PASS",
            item=SecretInput(key="DB_PASS", value=f"value-{index + 1}"),
        )

    outcomes = run_in_threads(50, update)

    assert [error for _, _, error in outcomes if error is not None] == []
    secret = Secret.objects.get(key="DB_PASS", deleted_at__isnull=True)
    assert sorted(SecretVersion.objects.filter(secret=secret).values_list("version", flat=True)) == list(range(1, 52))
    assert secret.version == 51
    scope = cast.scope(cast.alice)
    values = {version: value_of(scope, "DB_PASS", version=version) for version in range(1, 52)}
    assert set(values.values()) == {f"value-{index}" for index in range(51)}
    assert value_of(scope, "DB_PASS") == values[51]
    assert [view.version for view in secret_versions(scope, environment="dev", path="/", key="DB_PASS")] == list(
        range(51, 0, -1)
    )
    updates = AuditEvent.objects.filter(action="secret.updated", resource_id="DB_PASS")
    assert sorted(event.metadata["version"] for event in updates) == list(range(2, 52))
    assert AuditEvent.objects.filter(action="secret.created", resource_id="DB_PASS").count() == 1


def test_it_lets_exactly_one_of_20_concurrent_creates_of_a_key_win(cast, shared_db) -> None:
    def create(index: int) -> None:
        put(cast.scope(cast.bob), "API_TOKEN", f"token-{index}")

    outcomes = run_in_threads(20, create)

    errors = [error for _, _, error in outcomes if error is not None]
    winners = [index for index, _, error in outcomes if error is None]
    assert len(winners) == 1
    assert len(errors) == 19
    assert all(isinstance(error, Conflict) for error in errors), errors
    assert Secret.objects.filter(key="API_TOKEN", deleted_at__isnull=True).count() == 1
    assert value_of(cast.scope(cast.alice), "API_TOKEN") == f"token-{winners[0]}"
    assert AuditEvent.objects.filter(action="secret.created", resource_id="API_TOKEN").count() == 1


def test_it_lets_one_of_10_concurrent_check_and_set_writers_win(cast, shared_db) -> None:
    put(cast.scope(cast.alice), "DB_PASS", "start")

    def compare_and_set(index: int) -> None:
        secret_update(
            scope=cast.scope(cast.bob),
            environment="dev",
            path="/",
            key="DB_PASS",
            item=SecretInput(key="DB_PASS", value=f"cas-{index}"),
            expected_version=1,
        )

    outcomes = run_in_threads(10, compare_and_set)

    winners = [index for index, _, error in outcomes if error is None]
    assert len(winners) == 1
    assert all(isinstance(error, PreconditionFailed) for _, _, error in outcomes if error is not None)
    view = secret_get(cast.scope(cast.alice), environment="dev", path="/", key="DB_PASS")
    assert (view.version, view.value) == (2, f"cas-{winners[0]}")


@pytest.mark.django_db
def test_it_refuses_a_check_and_set_update_with_a_stale_version(cast) -> None:
    scope = cast.scope(cast.bob)
    put(scope, "DB_PASS", "one")
    secret_update(scope=scope, environment="dev", path="/", key="DB_PASS", item=SecretInput(key="DB_PASS", value="two"))

    with pytest.raises(PreconditionFailed) as refused:
        secret_update(
            scope=scope,
            environment="dev",
            path="/",
            key="DB_PASS",
            item=SecretInput(key="DB_PASS", value="three"),
            expected_version=1,
        )

    assert refused.value.status == 412
    assert refused.value.fields == {"version": ["stale"]}
    view = secret_get(scope, environment="dev", path="/", key="DB_PASS")
    assert (view.version, view.value) == (2, "two")
    secret_update(
        scope=scope,
        environment="dev",
        path="/",
        key="DB_PASS",
        item=SecretInput(key="DB_PASS", value="three"),
        expected_version=2,
    )
    assert value_of(scope, "DB_PASS") == "three"
