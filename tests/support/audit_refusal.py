"""A database trigger that refuses every insert into the audit table, for tests that prove a
refused audit row stops what it records (security bar D2)."""

from __future__ import annotations

from django.db import connection


def refuse_audit_inserts(trigger: str) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN RAISE EXCEPTION 'audit insert refused (test)'; END; $$"
            )
            cursor.execute(
                f"CREATE TRIGGER {trigger} BEFORE INSERT ON audit_auditevent FOR EACH ROW EXECUTE FUNCTION {trigger}()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER {trigger} BEFORE INSERT ON audit_auditevent "
                "BEGIN SELECT RAISE(ABORT, 'audit insert refused (test)'); END"
            )


def allow_audit_inserts(trigger: str) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP TRIGGER IF EXISTS {trigger} ON audit_auditevent")
            cursor.execute(f"DROP FUNCTION IF EXISTS {trigger}()")
        else:
            cursor.execute(f"DROP TRIGGER IF EXISTS {trigger}")
