"""The audit triggers' bypass needs membership of ``strongroom_audit_maint``, not just a setting.

Before: any session could ``set_config('strongroom.audit_maintenance', 'on', true)`` and then
UPDATE, DELETE or TRUNCATE audit rows, so an application role that could run SQL could rewrite the
log. Now the trigger function lets a change through only when the setting is on *and* the current
role is a member of ``strongroom_audit_maint`` (``pg_has_role(..., 'MEMBER')``). The application
role (``manage.py db_roles``) is never a member; the owner role that runs migrations is made one
here, so ``manage.py flush`` and other deliberate maintenance keep working under the owner.

The role is cluster-wide. Creating it needs CREATEROLE (or a superuser); without that the
migration warns and the bypass stays closed for everyone until a superuser runs
``CREATE ROLE strongroom_audit_maint NOLOGIN; GRANT strongroom_audit_maint TO <owner>;``.

SQLite keeps its own triggers (migration 0002): it has no roles; a file-level database has one user.
"""

from __future__ import annotations

from django.db import migrations

PG_FUNCTION = "strongroom_audit_refuse_change"
MAINTENANCE_ROLE = "strongroom_audit_maint"

# Concurrent migrations of several databases in one cluster (parallel test runs) may race to create
# the role: the loser sees duplicate_object or unique_violation and carries on.
PG_CREATE_ROLE = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '{MAINTENANCE_ROLE}') THEN
        BEGIN
            CREATE ROLE {MAINTENANCE_ROLE} NOLOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;
            WHEN insufficient_privilege THEN
                RAISE WARNING 'cannot create role {MAINTENANCE_ROLE} (needs CREATEROLE): audit maintenance stays closed';
        END;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '{MAINTENANCE_ROLE}')
       AND NOT pg_catalog.pg_has_role(current_user, '{MAINTENANCE_ROLE}', 'MEMBER') THEN
        BEGIN
            EXECUTE format('GRANT {MAINTENANCE_ROLE} TO %I', current_user);
        EXCEPTION
            WHEN insufficient_privilege OR invalid_grant_operation THEN
                RAISE WARNING 'cannot grant {MAINTENANCE_ROLE} to %: audit maintenance stays closed for it', current_user;
        END;
    END IF;
END
$$;
"""

# search_path is pinned so nobody can shadow pg_has_role/current_setting with a function of their own.
PG_FUNCTION_MEMBERSHIP = f"""
CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- The setting says "this transaction means to change audit rows" (so even the owner cannot do
    -- it by accident); membership of the maintenance role says who may. Nested IFs: pg_has_role
    -- raises when the role does not exist, and AND is not guaranteed to short-circuit.
    IF coalesce(current_setting('strongroom.audit_maintenance', true), '') = 'on' THEN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{MAINTENANCE_ROLE}') THEN
            IF pg_has_role(current_user, '{MAINTENANCE_ROLE}', 'MEMBER') THEN
                IF TG_LEVEL = 'STATEMENT' THEN
                    RETURN NULL;
                ELSIF TG_OP = 'DELETE' THEN
                    RETURN OLD;
                END IF;
                RETURN NEW;
            END IF;
        END IF;
        RAISE EXCEPTION 'audit records are append-only: % on % refused (role % is not a member of {MAINTENANCE_ROLE})',
            TG_OP, TG_TABLE_NAME, current_user
            USING ERRCODE = 'restrict_violation';
    END IF;
    RAISE EXCEPTION 'audit records are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;
"""

# 0002's body, for reversing.
PG_FUNCTION_SETTING_ONLY = f"""
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


def _run(schema_editor, statements: list[str]) -> None:
    # A plain cursor with no parameters: the plpgsql bodies use '%'.
    with schema_editor.connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def forward(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        _run(schema_editor, [PG_CREATE_ROLE, PG_FUNCTION_MEMBERSHIP])


def reverse(apps, schema_editor) -> None:
    # The role stays: it is cluster-wide and other databases may use it.
    if schema_editor.connection.vendor == "postgresql":
        _run(schema_editor, [PG_FUNCTION_SETTING_ONLY])


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_triggers")]

    operations = [migrations.RunPython(forward, reverse)]
