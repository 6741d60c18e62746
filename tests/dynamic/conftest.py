"""Real targets for dynamic secrets: a database and a least-privilege root account of their own on
the machine's PostgreSQL (127.0.0.1:5432) and MariaDB (127.0.0.1:3306), made once per test
process and dropped at its end — never Strongroom's own test database.

- ``pg_target`` / ``mysql_target``: the server, database and root credentials (a PostgreSQL role
  with CREATEROLE, owner of its database; a MariaDB user with CREATE USER and ALL on its database);
  each database holds a table ``items`` with one row.
- ``allow_local``: the cast's organization allows 127.0.0.1 as a dynamic secret target.
- ``pg_secret`` / ``mysql_secret``: a dynamic secret at acme/dev:/ made through the service.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

RUN = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"


@dataclass
class DbTarget:
    kind: str
    host: str
    port: int
    database: str
    username: str
    password: str = field(repr=False)

    def config(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "database": self.database, "username": self.username}

    def credentials(self) -> dict[str, str]:
        return {"password": self.password}


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=2):
            return True
    except Exception:
        return False


def mysql_available() -> bool:
    try:
        import pymysql

        pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", connect_timeout=2).close()
        return True
    except Exception:
        return False


def _skip_or_fail(what: str) -> None:
    if os.environ.get("CI") or os.environ.get("STRONGROOM_TEST_REQUIRE_SERVICES"):
        pytest.fail(f"{what} is required for the dynamic secret tests")
    pytest.skip(f"{what} is not running on 127.0.0.1")


def pg_admin() -> Any:
    import psycopg

    return psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", autocommit=True)


@pytest.fixture(scope="session")
def pg_target() -> Iterator[DbTarget]:
    if not postgres_available():
        _skip_or_fail("PostgreSQL")
    from psycopg import sql

    # Unique per instantiation: a test module that imports this fixture gets its own copy of it,
    # and two copies on one worker must not create the same database and role.
    run = f"{RUN}_{uuid.uuid4().hex[:4]}"
    name = f"dyn_{run}"
    target = DbTarget("postgresql", "127.0.0.1", 5432, name, f"dynroot_{run}", secrets.token_urlsafe(24))
    with pg_admin() as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} WITH LOGIN CREATEROLE PASSWORD {}").format(
                sql.Identifier(target.username), sql.Literal(target.password)
            )
        )
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(target.username))
        )
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", port=5432, user=target.username, password=target.password, dbname=name, autocommit=True
    ) as root:
        root.execute("CREATE TABLE items (id int PRIMARY KEY, label text)")
        root.execute("INSERT INTO items VALUES (1, 'first')")
    try:
        yield target
    finally:
        with pg_admin() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            leftovers = admin.execute(
                "SELECT r.rolname FROM pg_roles r JOIN pg_auth_members m ON m.roleid = r.oid "
                "JOIN pg_roles g ON g.oid = m.member WHERE g.rolname = %s",
                (target.username,),
            ).fetchall()
            for (role,) in leftovers:
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(target.username)))


def mysql_admin() -> Any:
    import pymysql

    return pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)


@pytest.fixture(scope="session")
def mysql_target() -> Iterator[DbTarget]:
    if not mysql_available():
        _skip_or_fail("MariaDB/MySQL")
    run = f"{RUN}_{uuid.uuid4().hex[:4]}"
    name = f"dyn_{run}"
    target = DbTarget("mysql", "127.0.0.1", 3306, name, f"dynroot_{run}"[:32], secrets.token_urlsafe(24))
    admin = mysql_admin()
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}`")
            cursor.execute(f"CREATE USER '{target.username}'@'%%' IDENTIFIED BY %s", (target.password,))
            cursor.execute(f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{target.username}'@'%' WITH GRANT OPTION")
            cursor.execute(f"GRANT CREATE USER ON *.* TO '{target.username}'@'%'")
            cursor.execute(f"CREATE TABLE `{name}`.items (id int PRIMARY KEY, label text)")
            cursor.execute(f"INSERT INTO `{name}`.items VALUES (1, 'first')")  # noqa: S608 - our own name
        yield target
    finally:
        with admin.cursor() as cursor:
            cursor.execute("SELECT User FROM mysql.db WHERE Db = %s", (name,))
            for (user,) in cursor.fetchall():
                cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cursor.execute(f"DROP USER IF EXISTS '{target.username}'@'%'")
        admin.close()


@pytest.fixture
def allow_local(cast: Any) -> None:
    from dynamic.models import TargetAllowlist

    TargetAllowlist.objects.update_or_create(organization=cast.organization, defaults={"entries": ["127.0.0.1/32"]})


@pytest.fixture
def dyn_settings(settings: Any) -> Any:
    settings.STRONGROOM_DYNAMIC_RETRY_BASE_SECONDS = 0
    settings.STRONGROOM_DYNAMIC_REVOKE_MAX_ATTEMPTS = 3
    settings.STRONGROOM_DYNAMIC_ETA_HORIZON_SECONDS = 0  # no messages from in-process tests
    return settings


def define(cast: Any, target: DbTarget, name: str = "db", **kwargs: Any) -> Any:
    from dynamic.services.definitions import Definition, dynamic_secret_create

    return dynamic_secret_create(
        scope=cast.scope(cast.alice),
        environment="dev",
        path="/",
        name=name,
        provider=target.kind,
        definition=Definition(
            config=target.config(),
            credentials=target.credentials(),
            default_ttl=kwargs.pop("default_ttl", "1h"),
            max_ttl=kwargs.pop("max_ttl", "24h"),
            **kwargs,
        ),
    )


@pytest.fixture
def pg_secret(cast: Any, allow_local: None, pg_target: DbTarget, dyn_settings: Any) -> Any:
    return define(cast, pg_target)


@pytest.fixture
def mysql_secret(cast: Any, allow_local: None, mysql_target: DbTarget, dyn_settings: Any) -> Any:
    return define(cast, mysql_target)


def pg_login(target: DbTarget, username: str, password: str) -> Any:
    import psycopg

    return psycopg.connect(
        host=target.host, port=target.port, user=username, password=password, dbname=target.database, connect_timeout=5
    )


def mysql_login(target: DbTarget, username: str, password: str) -> Any:
    import pymysql

    return pymysql.connect(
        host=target.host,
        port=target.port,
        user=username,
        password=password,
        database=target.database,
        connect_timeout=5,
    )


def pg_role_exists(username: str) -> bool:
    with pg_admin() as admin:
        return admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (username,)).fetchone() is not None


def mysql_user_exists(username: str) -> bool:
    admin = mysql_admin()
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT 1 FROM mysql.user WHERE User = %s", (username,))
            return cursor.fetchone() is not None
    finally:
        admin.close()
