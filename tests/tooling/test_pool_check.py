"""The pooled-connection check (config/postgresql): no round trip for a healthy connection, and a
connection whose server session ended is never handed to a request."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from django.db import connection

from config.postgresql.base import idle_connection_check

pytestmark = pytest.mark.django_db(transaction=True)


def _connect() -> psycopg.Connection[Any]:
    if connection.vendor != "postgresql":
        pytest.fail("the pool check is PostgreSQL's; run the suite against PostgreSQL")
    params = connection.get_connection_params()
    return psycopg.connect(**params, autocommit=True)


def _terminate(pid: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    time.sleep(0.2)  # the backend exits and its socket closes


def test_a_healthy_idle_connection_passes_without_a_statement() -> None:
    with _connect() as conn:
        conn.execute("SELECT 1 AS before_the_check")
        idle_connection_check(conn)  # raises nothing
        with connection.cursor() as cursor:
            cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [conn.info.backend_pid])
            # The server saw nothing after the last statement: the check sent no query.
            assert cursor.fetchone() == ("SELECT 1 AS before_the_check",)
        assert conn.execute("SELECT 2").fetchone() == (2,)


def test_a_connection_whose_session_was_terminated_is_refused() -> None:
    with _connect() as conn:
        _terminate(conn.info.backend_pid)
        with pytest.raises(psycopg.OperationalError):
            idle_connection_check(conn)


def test_the_pool_replaces_a_dead_connection_before_a_request_gets_it() -> None:
    from psycopg_pool import ConnectionPool

    params = connection.get_connection_params()
    with ConnectionPool(
        kwargs={**params, "autocommit": True}, min_size=1, max_size=1, check=idle_connection_check
    ) as pool:
        with pool.connection() as conn:
            first_pid = conn.info.backend_pid
        _terminate(first_pid)
        with pool.connection() as conn:
            assert conn.info.backend_pid != first_pid
            assert conn.execute("SELECT 1").fetchone() == (1,)
