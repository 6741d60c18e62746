"""The PostgreSQL role the application runs as, and its grants (``manage.py db_roles``).

Run by the **owner** role (the one that runs migrations) after every ``migrate``. The application
role (web, worker, beat) then:

* owns nothing, so it can neither ALTER (``DISABLE TRIGGER``), DROP nor TRUNCATE any table;
* may SELECT and INSERT audit rows and blocks, and nothing else on them: UPDATE and DELETE are
  refused by the permission system before the append-only trigger even runs, and it is not a
  member of ``strongroom_audit_maint``, so switching on ``strongroom.audit_maintenance`` changes
  nothing for it;
* has ordinary DML (SELECT, INSERT, UPDATE, DELETE) on every other table, now and in the future
  (default privileges of the owner), USAGE on sequences, and read-only ``django_migrations``.

Idempotent: re-running re-applies the same grants (and repairs drift, e.g. a table added by a
migration that was run as another role).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from audit.models import AuditBlock, AuditEvent, AuditPurge

MAINTENANCE_ROLE = "strongroom_audit_maint"
APPEND_ONLY_TABLES: tuple[str, ...] = (
    AuditEvent._meta.db_table,
    AuditBlock._meta.db_table,
    AuditPurge._meta.db_table,
)
# The app reads the migration history (readiness, `migrate --check`) but never writes it.
READ_ONLY_TABLES: tuple[str, ...] = ("django_migrations",)
_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class DbRoleError(ValueError):
    """The roles cannot be set up as asked; the message says why and what to do."""


@dataclass(frozen=True)
class DbRolesReport:
    app_role: str
    owner_role: str
    created: bool
    password_set: bool
    tables: int
    sequences: int


def db_roles_apply(*, app_role: str, password: str | None = None) -> DbRolesReport:
    """Create (or update) ``app_role`` and give it exactly the application's grants in the current
    database and schema. ``password`` (optional) becomes its login password.

    Raises DbRoleError when not on PostgreSQL, when the name is not a plain lower-case identifier,
    or when the app role would be the owner, a superuser, or a member of the owner or maintenance
    role (any of which would let it bypass the audit triggers)."""
    if connection.vendor != "postgresql":
        raise DbRoleError("db_roles needs PostgreSQL: the embedded SQLite database has no roles")
    if not _ROLE_NAME.fullmatch(app_role):
        raise DbRoleError("--app-role must be a lower-case identifier (letters, digits, _), at most 63 characters")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_database(), current_schema()")
        owner, database, schema = cursor.fetchone()
        if app_role == owner:
            raise DbRoleError(
                f"the app role must differ from the owner role {owner!r} that runs this command and the migrations"
            )
        app, own, db, sch = (_ident(name) for name in (app_role, owner, database, schema))
        cursor.execute("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = %s", [app_role])
        row = cursor.fetchone()
        created = row is None
        if row is not None and row[0]:
            raise DbRoleError(f"role {app_role!r} is a superuser, which bypasses every grant and trigger")
        attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
        if password:
            attributes += " PASSWORD " + _literal(password)
        cursor.execute(f"{'CREATE' if created else 'ALTER'} ROLE {app} {attributes}")
        _refuse_membership(cursor, app_role, owner)
        for statement in (
            f"GRANT CONNECT ON DATABASE {db} TO {app}",
            f"GRANT USAGE ON SCHEMA {sch} TO {app}",
            f"REVOKE CREATE ON SCHEMA {sch} FROM {app}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {sch} TO {app}",
            f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA {sch} FROM {app}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {sch} TO {app}",
            f"REVOKE UPDATE ON ALL SEQUENCES IN SCHEMA {sch} FROM {app}",  # no setval()
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {own} IN SCHEMA {sch} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {own} IN SCHEMA {sch} GRANT USAGE, SELECT ON SEQUENCES TO {app}",
        ):
            cursor.execute(statement)
        for table in APPEND_ONLY_TABLES:
            cursor.execute(f"REVOKE UPDATE, DELETE ON {_ident(table)} FROM {app}")
        for table in READ_ONLY_TABLES:
            cursor.execute(f"REVOKE INSERT, UPDATE, DELETE ON {_ident(table)} FROM {app}")
        cursor.execute(
            "SELECT count(*) FILTER (WHERE c.relkind IN ('r', 'p')), count(*) FILTER (WHERE c.relkind = 'S'),"
            " count(*) FILTER (WHERE c.relowner = r.oid)"
            " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " CROSS JOIN (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = %s) r"
            " WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'S')",
            [app_role, schema],
        )
        tables, sequences, owned = cursor.fetchone()
        if owned:
            raise DbRoleError(
                f"role {app_role!r} owns {owned} tables or sequences; as the owner run "
                f"REASSIGN OWNED BY {app_role} TO {owner}, then db_roles again"
            )
    return DbRolesReport(
        app_role=app_role,
        owner_role=owner,
        created=created,
        password_set=bool(password),
        tables=int(tables),
        sequences=int(sequences),
    )


def _refuse_membership(cursor: CursorWrapper, app_role: str, owner: str) -> None:
    """The app role must not act as the owner or the maintenance role, directly or indirectly."""
    execute, fetchone = cursor.execute, cursor.fetchone
    execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", [MAINTENANCE_ROLE])
    if fetchone() is not None:
        # A direct grant is ours to take back; an indirect one is reported below.
        execute(
            "SELECT 1 FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid"
            " JOIN pg_catalog.pg_roles u ON u.oid = m.member WHERE g.rolname = %s AND u.rolname = %s",
            [MAINTENANCE_ROLE, app_role],
        )
        if fetchone() is not None:
            execute(f"REVOKE {_ident(MAINTENANCE_ROLE)} FROM {_ident(app_role)}")
        execute("SELECT pg_catalog.pg_has_role(%s, %s, 'MEMBER')", [app_role, MAINTENANCE_ROLE])
        if fetchone()[0]:
            raise DbRoleError(f"role {app_role!r} is a member of {MAINTENANCE_ROLE} through another role; revoke that")
    execute("SELECT pg_catalog.pg_has_role(%s, %s, 'MEMBER')", [app_role, owner])
    if fetchone()[0]:
        raise DbRoleError(f"role {app_role!r} is a member of the owner role {owner!r}, so it could act as the owner")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    # Utility statements (CREATE/ALTER ROLE) take no bind parameters: quote as PostgreSQL does.
    if "\x00" in value:
        raise DbRoleError("the app role's password must not contain NUL")
    escaped = value.replace("'", "''")
    return f"E'{escaped.replace(chr(92), chr(92) * 2)}'" if "\\" in value else f"'{escaped}'"
