# mypy: disable-error-code="attr-defined,misc"
"""Django's PostgreSQL backend with one change: a pooled or kept connection is checked without a
round trip when a request borrows it (docs/performance.md, "Serving").

Django's pool (``OPTIONS["pool"]``, used under the gevent worker) checks each borrowed connection
with ``ConnectionPool.check_connection`` when ``CONN_HEALTH_CHECKS`` is on: an empty query sent to
PostgreSQL and waited for, on every request — a quarter of a get-one's database round trips, and
under wrk the difference between 176 and 304 get-ones a second on one connection.
``idle_connection_check`` asks libpq instead whether anything arrived on the idle socket: a server
that restarted, crashed or terminated the session has closed it (or sent its termination notice),
so the connection is refused and the pool takes or opens another, as before; a healthy idle
connection has nothing to read and costs two non-blocking ``recv`` calls.
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base
from psycopg import pq


def idle_connection_check(connection: psycopg.Connection[Any]) -> None:
    """Raise when the pooled *connection* is not usable; no statement is sent."""
    pgconn = connection.pgconn
    if pgconn.status != pq.ConnStatus.OK:
        raise psycopg.OperationalError("the connection is closed")
    # Reads whatever the server sent while the connection sat idle. A terminated session sent its
    # FATAL message and then closed the socket: the first read takes the message, the second meets
    # the closed socket and raises. A healthy connection has nothing to read, twice.
    pgconn.consume_input()
    pgconn.consume_input()
    if pgconn.status != pq.ConnStatus.OK or pgconn.transaction_status != pq.TransactionStatus.IDLE:
        raise psycopg.OperationalError("the connection is not idle")


# Django's pool attributes below are not in django-stubs; they are Django 5.2's own (the LTS we pin).
class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self) -> Any:
        pool_options = self.settings_dict["OPTIONS"].get("pool")
        if self.alias == NO_DB_ALIAS or not pool_options or self.alias in self._connection_pools:
            return super().pool
        if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
            return super().pool  # Django raises its own ImproperlyConfigured
        from psycopg_pool import ConnectionPool

        connect_kwargs = self.get_connection_params()
        connect_kwargs["autocommit"] = True  # as Django: it sets autocommit properly later on
        options = {} if pool_options is True else dict(pool_options)
        created = ConnectionPool(
            kwargs=connect_kwargs,
            open=False,
            configure=self._configure_connection,
            check=idle_connection_check if self.settings_dict["CONN_HEALTH_CHECKS"] else None,
            **options,
        )
        self._connection_pools.setdefault(self.alias, created)
        return self._connection_pools[self.alias]

    def is_usable(self) -> bool:
        """A kept connection (``CONN_MAX_AGE`` > 0: sync and gthread workers) is health-checked
        when a request reuses it, and after an error in autocommit: the same check, no ``SELECT 1``."""
        if self.connection is None:
            return False
        try:
            idle_connection_check(self.connection)
        except psycopg.Error:
            return False
        return True
