"""Helpers for the service-level tests: write and read secrets as a cast member, and a database that
threads can share on either backend."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from secrets_app.selectors.secrets import secret_get
from secrets_app.services.secrets import SecretInput, secret_create


def put(scope: Any, key: str, value: str = "v", *, env: str = "dev", path: str = "/", **fields: Any) -> Any:
    """Create a shared secret (or, with secret_type="personal", the caller's override)."""
    secret_type = fields.pop("secret_type", "shared")
    return secret_create(
        scope=scope,
        environment=env,
        path=path,
        item=SecretInput(key=key, value=value, **fields),
        secret_type=secret_type,
    )


def value_of(scope: Any, key: str, *, env: str = "dev", path: str = "/", **options: Any) -> str | None:
    return secret_get(scope=scope, environment=env, path=path, key=key, **options).value


def dump_tables(*, exclude: tuple[str, ...] = ()) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table in the database, read through this connection (bytes for binary)."""
    dump: dict[str, list[tuple[Any, ...]]] = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            if table in exclude:
                continue
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)} ORDER BY 1")  # noqa: S608 - our table names
            dump[table] = [
                tuple(bytes(cell) if isinstance(cell, memoryview | bytearray) else cell for cell in row)
                for row in cursor.fetchall()
            ]
    return dump


def run_in_threads(count: int, work: Callable[[int], Any]) -> list[tuple[int, Any, BaseException | None]]:
    """Run work(0..count-1) in *count* threads released together; each closes its own connection.
    Returns (index, result, exception) in index order."""
    barrier = threading.Barrier(count)
    outcomes: list[tuple[int, Any, BaseException | None]] = [(index, None, None) for index in range(count)]

    def target(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            outcomes[index] = (index, work(index), None)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            outcomes[index] = (index, None, exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker thread hung"
    return outcomes


@pytest.fixture
def shared_db(cast: Any, tmp_path: Path) -> Iterator[Path | None]:
    """A database that concurrent threads really share, holding the committed cast.

    PostgreSQL: the test database as is. Django's SQLite test database lives in memory with a shared
    cache, where a second writer fails at once ("database table is locked") instead of waiting, so it
    cannot show how the product serialises writers. There the committed data is copied into a WAL
    file database (what production SQLite is), which every connection of every thread uses until the
    test ends; then the in-memory database (kept open meanwhile) is put back. Yields the file, or None.
    Needs ``@pytest.mark.django_db(transaction=True)``.
    """
    if connection.vendor != "sqlite" or not connection.is_in_memory_db():
        yield None
        return
    settings_dict = connection.settings_dict
    memory_name = settings_dict["NAME"]
    connection.ensure_connection()
    memory_connection = connection.connection
    database_file = tmp_path / "shared.sqlite3"
    target = sqlite3.connect(database_file)
    memory_connection.backup(target)
    target.close()
    connection.connection = None  # the wrapper reconnects to the file; the memory database stays open
    settings_dict["NAME"] = str(database_file)
    try:
        yield database_file
    finally:
        connection.close()
        settings_dict["NAME"] = memory_name
        connection.connection = memory_connection
