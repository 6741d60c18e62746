"""Append-only audit tables: triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) of
audit events and blocks, except inside ``audit.maintenance.audit_maintenance`` (see docs/audit.md).

Hand-written, vendor-aware, reversible. Table names are spelled out: a migration must keep
meaning what it meant when it was written.
"""

from __future__ import annotations

from django.db import migrations

TABLES = ("audit_auditevent", "audit_auditblock")
PG_FUNCTION = "strongroom_audit_refuse_change"

PG_CREATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('strongroom.audit_maintenance', true), '') = 'on' THEN
        IF TG_LEVEL = 'STATEMENT' THEN
            RETURN NULL;
        ELSIF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit records are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;
"""


def _pg_forward(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {PG_FUNCTION}();",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {PG_FUNCTION}();",
    ]


def _pg_reverse(table: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};",
    ]


def _sqlite_forward(table: str) -> list[str]:
    # strongroom_audit_maintenance() is registered on every app connection (audit.maintenance);
    # elsewhere it does not exist, so the statement fails: closed either way.
    return [
        f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"WHEN strongroom_audit_maintenance() = 0 "
        f"BEGIN SELECT RAISE(ABORT, 'audit records are append-only: {op} on {table} refused'); END;"
        for op in ("UPDATE", "DELETE")
    ]


def _sqlite_reverse(table: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {table}_no_{op};" for op in ("update", "delete")]


def _run(schema_editor, statements: list[str]) -> None:
    # A plain cursor with no parameters: the plpgsql body's RAISE format uses '%'.
    with schema_editor.connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def install(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(schema_editor, [PG_CREATE_FUNCTION])
        for table in TABLES:
            _run(schema_editor, _pg_forward(table))
    elif vendor == "sqlite":
        for table in TABLES:
            _run(schema_editor, _sqlite_forward(table))
    else:
        raise RuntimeError(f"audit append-only triggers are not written for the {vendor!r} backend")


def uninstall(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for table in TABLES:
            _run(schema_editor, _pg_reverse(table))
        _run(schema_editor, [f"DROP FUNCTION IF EXISTS {PG_FUNCTION}();"])
    elif vendor == "sqlite":
        for table in TABLES:
            _run(schema_editor, _sqlite_reverse(table))


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(install, uninstall)]
