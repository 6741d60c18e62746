"""The one way past the append-only triggers on the audit tables (migration 0002).

The triggers refuse UPDATE, DELETE (and on PostgreSQL TRUNCATE) of audit rows and blocks unless
*this transaction* is in audit maintenance:

* PostgreSQL: the transaction-local setting ``strongroom.audit_maintenance = 'on'`` (``set_config(...,
  true)``, so it can never outlive the transaction or leak to the next user of a pooled connection)
  **and** the current role is a member of ``strongroom_audit_maint`` (migration 0003). The setting
  alone does nothing: the application role (``manage.py db_roles``) is not a member, and has no
  UPDATE/DELETE/TRUNCATE grant on the audit tables anyway. Maintenance runs as the owner role;
* SQLite: the triggers' ``WHEN strongroom_audit_maintenance() = 0`` calls a function this module
  registers on every connection the app opens; it reads a context variable. Any other SQLite client
  (the ``sqlite3`` shell) lacks the function, so its UPDATE/DELETE fails too.

Only ``manage.py flush`` (which Django's ``TransactionTestCase`` calls between tests) and tests that
simulate tampering use it. Against someone who can run SQL as the table owner it is no boundary
(they could drop the trigger); that is what the app role's grants, the hash chain and the external
anchor (``audit.anchor``) are for.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

SQLITE_FUNCTION = "strongroom_audit_maintenance"
POSTGRES_SETTING = "strongroom.audit_maintenance"

_sqlite_maintenance: contextvars.ContextVar[bool] = contextvars.ContextVar("audit_maintenance", default=False)


@contextmanager
def audit_maintenance(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Run the body in one transaction in which the audit tables' append-only triggers stand aside.

    Everything inside commits or rolls back together; the bypass ends with the transaction.
    """
    connection = connections[using]
    token = _sqlite_maintenance.set(True)
    try:
        with transaction.atomic(using=using):
            _set_postgres_flag(connection, "on")
            yield
            # Inside a caller's transaction this block is only a savepoint, and a transaction-local
            # setting survives releasing one: switch it off explicitly. (On an exception the
            # savepoint rollback restores it.)
            _set_postgres_flag(connection, "off")
    finally:
        _sqlite_maintenance.reset(token)


def _set_postgres_flag(connection: BaseDatabaseWrapper, value: str) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, %s, true)", [POSTGRES_SETTING, value])


def _sqlite_maintenance_flag() -> int:
    return 1 if _sqlite_maintenance.get() else 0


def register_sqlite_function(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """``connection_created`` receiver: give each new SQLite connection the triggers' function."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(SQLITE_FUNCTION, 0, _sqlite_maintenance_flag, deterministic=False)
