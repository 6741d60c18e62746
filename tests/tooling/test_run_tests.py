"""scripts/run_tests.py: which database and Redis `make test` uses, and when a missing one is fatal."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "run_tests.py"


@pytest.fixture
def run_tests(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_tests_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _services(module: ModuleType, monkeypatch: pytest.MonkeyPatch, *, postgres: bool, redis: bool) -> None:
    monkeypatch.setattr(module, "postgres_answers", lambda: None if postgres else "no PostgreSQL (test)")
    monkeypatch.setattr(module, "redis_answers", lambda: None if redis else "no Redis (test)")


def test_it_uses_local_postgres_and_redis_when_they_answer(
    run_tests: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    _services(run_tests, monkeypatch, postgres=True, redis=True)

    chosen, _ = run_tests.choose_environment({})

    assert chosen["DATABASE_URL"].startswith("postgres://postgres@127.0.0.1:5432/strongroom_")
    assert chosen["REDIS_URL"] == "redis://127.0.0.1:6379/15"
    assert len(chosen["STRONGROOM_ROOT_KEY"]) == 44


def test_it_gives_each_run_its_own_database_name(run_tests: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    _services(run_tests, monkeypatch, postgres=True, redis=True)

    first, _ = run_tests.choose_environment({})
    second, _ = run_tests.choose_environment({})

    assert first["DATABASE_URL"] != second["DATABASE_URL"]


def test_it_falls_back_to_sqlite_for_a_newcomer_without_services(
    run_tests: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    _services(run_tests, monkeypatch, postgres=False, redis=False)

    chosen, notes = run_tests.choose_environment({})

    assert "DATABASE_URL" not in chosen
    assert "REDIS_URL" not in chosen
    assert any("SQLite" in note for note in notes)


@pytest.mark.parametrize("flag", [{"CI": "true"}, {"STRONGROOM_TEST_REQUIRE_SERVICES": "1"}])
def test_it_refuses_to_fall_back_in_ci(
    run_tests: ModuleType, monkeypatch: pytest.MonkeyPatch, flag: dict[str, str]
) -> None:
    _services(run_tests, monkeypatch, postgres=False, redis=True)

    with pytest.raises(run_tests.ServiceMissing, match="PostgreSQL"):
        run_tests.choose_environment(flag)


def test_it_keeps_urls_from_the_environment_and_never_prints_their_passwords(
    run_tests: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    _services(run_tests, monkeypatch, postgres=False, redis=False)
    environ = {
        "CI": "true",
        "DATABASE_URL": "postgres://app:s3cret-db@db.internal:5432/x",
        "REDIS_URL": "redis://:s3cret-redis@cache.internal:6379/0",
        "STRONGROOM_ROOT_KEY": "given",
    }

    chosen, notes = run_tests.choose_environment(environ)

    assert chosen == {}
    assert not any("s3cret" in note for note in notes)
    assert any("app:***@db.internal" in note for note in notes)
