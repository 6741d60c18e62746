"""A PostgreSQL target of its own (database + least-privilege root role, table ``items`` with one
row) for tests outside ``tests/dynamic/`` that lease real users: the compat SDK tests and the CLI.

``tests/dynamic/conftest.py``'s ``pg_target`` is session-scoped with one name per process, so two
test modules importing it on one xdist worker would both try to create it; each use here gets a
name of its own."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.dynamic.conftest import DbTarget, _skip_or_fail, pg_admin, postgres_available


@contextmanager
def private_pg_target() -> Iterator[DbTarget]:
    """Create the target, yield it, then drop it with every role its leases left behind."""
    if not postgres_available():
        _skip_or_fail("PostgreSQL")
    import psycopg
    from psycopg import sql

    run = uuid.uuid4().hex[:12]
    target = DbTarget("postgresql", "127.0.0.1", 5432, f"dyn_{run}", f"dynroot_{run}", secrets.token_urlsafe(24))
    with pg_admin() as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} WITH LOGIN CREATEROLE PASSWORD {}").format(
                sql.Identifier(target.username), sql.Literal(target.password)
            )
        )
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(target.database), sql.Identifier(target.username)
            )
        )
    with psycopg.connect(
        host=target.host,
        port=target.port,
        user=target.username,
        password=target.password,
        dbname=target.database,
        autocommit=True,
    ) as root:
        root.execute("CREATE TABLE items (id int PRIMARY KEY, label text)")
        root.execute("INSERT INTO items VALUES (1, 'first')")
    try:
        yield target
    finally:
        with pg_admin() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target.database)))
            for role in _created_by(admin, target.username):
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(target.username)))


def _created_by(admin: Any, root: str) -> list[str]:
    """Roles the root role administers (PostgreSQL 16+) or is a member of (our default creation
    statements grant each leased role to the root role)."""
    rows = admin.execute(
        "SELECT r.rolname FROM pg_roles r JOIN pg_auth_members m ON m.roleid = r.oid "
        "JOIN pg_roles g ON g.oid = m.member WHERE g.rolname = %s",
        (root,),
    ).fetchall()
    return [row[0] for row in rows]
