"""Leases against the real servers: the leased user logs in and works, then revocation ends it.

PostgreSQL (psycopg) and MariaDB (PyMySQL), each through the services exactly as the API calls them.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.dynamic.conftest import (
    define,
    mysql_login,
    mysql_user_exists,
    pg_login,
    pg_role_exists,
)

pytestmark = pytest.mark.django_db


def _lease(cast: Any, secret: Any, user: Any = None, ttl: Any = None) -> Any:
    from dynamic.services.leases import lease_create

    return lease_create(scope=cast.scope(user or cast.alice), secret=secret, ttl=ttl)


def test_it_leases_a_postgresql_user_that_works_until_revoked(cast: Any, pg_secret: Any, pg_target: Any) -> None:
    from dynamic.services.leases import lease_revoke

    issued = _lease(cast, pg_secret, cast.bob)  # a member may read values, so may lease
    username, password = issued.data["DB_USERNAME"], issued.data["DB_PASSWORD"]

    with pg_login(pg_target, username, password) as conn:
        assert conn.execute("SELECT label FROM items WHERE id = 1").fetchone() == ("first",)
        conn.execute("INSERT INTO items VALUES (2, 'leased')")
        conn.commit()
    assert issued.lease.status == "active" and issued.lease.username == username
    assert issued.lease.actor_label == "bob@example.com"

    revoked = lease_revoke(scope=cast.scope(cast.bob), lease=issued.lease)

    assert revoked.status == "revoked" and revoked.revoked_at is not None
    assert not pg_role_exists(username)
    with pytest.raises(Exception, match="does not exist|authentication failed"):
        pg_login(pg_target, username, password)


def test_the_postgresql_revocation_drops_a_role_that_owns_objects_and_is_idempotent(
    cast: Any, allow_local: None, pg_target: Any, dyn_settings: Any
) -> None:
    from dynamic.models import Lease
    from dynamic.providers.postgresql.provider import CREATION
    from dynamic.services.revocation import revoke_remote

    creation = [*CREATION, 'GRANT CREATE ON SCHEMA public TO "{{username}}";']
    issued = _lease(cast, define(cast, pg_target, name="creator", statements={"creation": creation}))
    username = issued.data["DB_USERNAME"]
    with pg_login(pg_target, username, issued.data["DB_PASSWORD"]) as conn:
        conn.execute("CREATE TABLE owned_by_lease (id int)")  # public schema: the role now owns a table
        conn.commit()

    revoke_remote(Lease.objects.get(pk=issued.lease.pk))
    revoke_remote(Lease.objects.get(pk=issued.lease.pk))  # again: "does not exist" is success

    assert not pg_role_exists(username)
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", user=pg_target.username, password=pg_target.password, dbname=pg_target.database
    ) as root:
        owner = root.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'owned_by_lease'").fetchone()
    assert owner == (pg_target.username,)  # handed over to the root role, not dropped with the lease


def test_it_ends_the_open_sessions_of_a_revoked_postgresql_user(cast: Any, pg_secret: Any, pg_target: Any) -> None:
    from dynamic.services.leases import lease_revoke

    issued = _lease(cast, pg_secret)
    session = pg_login(pg_target, issued.data["DB_USERNAME"], issued.data["DB_PASSWORD"])
    session.execute("SELECT 1")

    lease_revoke(scope=cast.scope(cast.alice), lease=issued.lease)

    with pytest.raises(Exception):  # noqa: B017 - terminated by the server: the driver's error varies
        session.execute("SELECT 1")
    session.close()


def test_a_do_block_statement_runs_whole(cast: Any, allow_local: None, pg_target: Any, dyn_settings: Any) -> None:
    creation = [
        "DO $$ BEGIN CREATE ROLE \"{{username}}\" WITH LOGIN PASSWORD '{{password}}'; "
        "EXECUTE 'GRANT SELECT ON items TO \"{{username}}\"'; END $$;",
        'GRANT "{{username}}" TO CURRENT_USER;',
    ]
    secret = define(cast, pg_target, name="with-do", statements={"creation": creation})
    issued = _lease(cast, secret)

    with pg_login(pg_target, issued.data["DB_USERNAME"], issued.data["DB_PASSWORD"]) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] >= 1
    assert secret.statements["creation"][0].startswith("DO $$") and len(secret.statements["creation"]) == 2


def test_it_leases_a_mariadb_user_that_works_until_revoked(cast: Any, mysql_secret: Any, mysql_target: Any) -> None:
    from dynamic.services.leases import lease_revoke

    issued = _lease(cast, mysql_secret)
    username, password = issued.data["DB_USERNAME"], issued.data["DB_PASSWORD"]

    conn = mysql_login(mysql_target, username, password)
    with conn.cursor() as cursor:
        cursor.execute("SELECT label FROM items WHERE id = 1")
        assert cursor.fetchone() == ("first",)
    conn.close()
    assert len(username) <= 32

    lease_revoke(scope=cast.scope(cast.alice), lease=issued.lease)

    assert not mysql_user_exists(username)
    with pytest.raises(Exception, match="Access denied"):
        mysql_login(mysql_target, username, password)
    from dynamic.models import Lease
    from dynamic.services.revocation import revoke_remote

    revoke_remote(Lease.objects.get(pk=issued.lease.pk))  # again: DROP USER IF EXISTS, idempotent


def test_a_mariadb_creation_that_fails_half_way_leaves_no_user(
    cast: Any, allow_local: None, mysql_target: Any, dyn_settings: Any
) -> None:
    from dynamic.models import Lease
    from dynamic.services.leases import lease_create
    from secrets_app.errors import ValidationFailed

    creation = [
        "CREATE USER '{{username}}'@'%' IDENTIFIED BY '{{password}}';",  # commits at once
        "GRANT ALL PRIVILEGES ON `no_such_database_here`.* TO '{{username}}'@'%' WITH GRANT OPTION;",
    ]
    secret = define(cast, mysql_target, name="half", statements={"creation": creation})

    with pytest.raises(ValidationFailed, match="Failed to create lease from provider: MySQL error"):
        lease_create(scope=cast.scope(cast.alice), secret=secret)

    lease = Lease.objects.get(dynamic_secret=secret)
    assert lease.status == "revoked"
    assert not mysql_user_exists(lease.username)


def test_concurrent_postgresql_leases_and_revocations_do_not_collide(cast: Any, pg_secret: Any, pg_target: Any) -> None:
    """Concurrent GRANTs on one table fail with "tuple concurrently updated" unless serialised."""
    from concurrent.futures import ThreadPoolExecutor

    from dynamic.providers.registry import PROVIDERS
    from dynamic.providers.templates import render_statements
    from dynamic.services.common import connect_target

    provider = PROVIDERS.get("postgresql")
    target = connect_target(
        provider, organization_id=cast.organization.pk, config=pg_secret.config, credentials=pg_target.credentials()
    )
    names = [f"sr-concurrent-{index}" for index in range(8)]

    def create(name: str) -> None:
        values = {"username": name, "password": "Pw1-" + name, "expiration": "2999-01-01 00:00:00+00", "database": ""}
        provider.create_user(
            target,
            username=name,
            statements=render_statements(pg_secret.statements["creation"], values, provider.dialect),
        )

    def revoke(name: str) -> None:
        statements = render_statements(pg_secret.statements["revocation"], {"username": name}, provider.dialect)
        provider.revoke_user(target, username=name, statements=statements)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(create, names))
        assert all(pg_role_exists(name) for name in names)
        list(pool.map(revoke, names))
    assert not any(pg_role_exists(name) for name in names)


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_a_template_name_that_is_already_taken_leaves_the_existing_account_alone(
    cast: Any, allow_local: None, dyn_settings: Any, kind: str, request: Any
) -> None:
    """A fixed username template collides with an account someone else owns: the lease fails,
    nothing is created, and the compensating revocation never drops *their* account by name."""
    import secrets

    from dynamic.models import Lease
    from dynamic.services.leases import lease_create
    from secrets_app.errors import ValidationFailed
    from tests.dynamic.conftest import mysql_admin, pg_admin

    target = request.getfixturevalue("pg_target" if kind == "postgresql" else "mysql_target")
    theirs = f"theirs_{secrets.token_hex(4)}"
    if kind == "postgresql":
        with pg_admin() as admin:
            admin.execute(f'CREATE ROLE "{theirs}" LOGIN')
    else:
        with mysql_admin().cursor() as cursor:
            cursor.execute(f"CREATE USER '{theirs}'@'%'")
    try:
        secret = define(cast, target, name="fixed", username_template=theirs)

        with pytest.raises(ValidationFailed, match="already exists and is not ours: nothing was created"):
            lease_create(scope=cast.scope(cast.alice), secret=secret)

        assert (pg_role_exists if kind == "postgresql" else mysql_user_exists)(theirs)
        lease = Lease.objects.get(dynamic_secret=secret)
        assert lease.status == "revoked"
    finally:
        if kind == "postgresql":
            with pg_admin() as admin:
                admin.execute(f'DROP ROLE IF EXISTS "{theirs}"')
        else:
            with mysql_admin().cursor() as cursor:
                cursor.execute(f"DROP USER IF EXISTS '{theirs}'@'%'")
