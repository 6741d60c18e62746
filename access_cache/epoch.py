"""The access epoch: one number that changes, in the same transaction, whenever a row that shapes
who may read what changes (docs/performance.md, "The access epoch").

PostgreSQL keeps it in ``strongroom_access_epoch`` (one row). Deferred constraint triggers on the
tables below set it to the next value of a sequence at COMMIT, so:

* a reader that sees epoch *E* sees every access-shaping change committed up to *E* and none after
  (the change and its new epoch commit together), so whatever it derives from those rows is at
  least as new as *E*;
* a value is never reused: a rolled-back change leaves the epoch where it was, and the number it
  took from the sequence is never handed out again, so nothing computed inside a rolled-back
  transaction can be mistaken for a later committed state;
* the lock on the epoch row is taken at COMMIT, last, so it is held for microseconds and always in
  the same order.

The token check reads the epoch with the token row (one statement), and the per-process caches of
``access_cache.store`` are keyed by it: a revoked membership, a removed identity or a renamed
folder is seen by the very next request, on every worker, with no time window.

On other databases (SQLite under ``make run``) there is no epoch: the readers compute everything
per request, as before.

A new table whose rows change what a principal may see, or what a cached lookup returns, gets its
triggers in a new migration (``epoch_triggers_sql``) and its name in ``WATCHED``:
``tests/secrets_app/test_access_epoch.py`` checks that the two agree.
"""

from __future__ import annotations

from typing import Any

EPOCH_TABLE = "strongroom_access_epoch"
EPOCH_SEQUENCE = "strongroom_access_epoch_seq"
BUMP_FUNCTION = "strongroom_access_epoch_bump"

# The select-list expression the token checks add to their one statement.
EPOCH_SQL = f"(SELECT version FROM {EPOCH_TABLE} WHERE id = 1)"  # noqa: S608 - constants only

# table → the columns whose UPDATE matters (None: any update).
WATCHED: dict[str, tuple[str, ...] | None] = {
    "auth_user": ("is_active", "is_superuser", "username"),
    "secrets_app_organization": None,
    "secrets_app_organizationmembership": None,
    "secrets_app_machineidentity": None,
    "secrets_app_project": None,
    "secrets_app_environment": None,
    "secrets_app_folder": ("id", "project_id", "environment_id", "parent_id", "path", "name"),
    "secrets_app_tag": None,
    "secrets_app_role": None,
    "secrets_app_rolerule": None,
    "secrets_app_projectmembership": None,
    "secrets_app_identityprojectmembership": None,
    "secrets_app_group": None,
    "secrets_app_groupmembership": None,
    "secrets_app_groupprojectmembership": None,
    "secrets_app_temporaryaccessgrant": None,
    # 0002: what a secret write looks up (the change policy that governs it, the syncs it queues).
    "approvals_approvalpolicy": None,
    "approvals_policyenvironment": None,
    "syncs_secretsync": ("project_id", "auto_sync"),  # UPDATE: only when these change (WHEN)
}


def epoch_setup_sql() -> list[str]:
    return [
        f"CREATE SEQUENCE IF NOT EXISTS {EPOCH_SEQUENCE}",
        f"CREATE TABLE IF NOT EXISTS {EPOCH_TABLE} (id smallint PRIMARY KEY CHECK (id = 1), version bigint NOT NULL)",
        f"INSERT INTO {EPOCH_TABLE} (id, version) VALUES (1, nextval('{EPOCH_SEQUENCE}')) ON CONFLICT (id) DO NOTHING",  # noqa: S608
        f"""CREATE OR REPLACE FUNCTION {BUMP_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {EPOCH_TABLE} SET version = nextval('{EPOCH_SEQUENCE}') WHERE id = 1;
    RETURN NULL;
END $$""",  # noqa: S608 - constants only
    ]


def epoch_triggers_sql(table: str, columns: tuple[str, ...] | None) -> list[str]:
    """Row changes bump at COMMIT (a deferred constraint trigger); TRUNCATE bumps at once."""
    update = f"UPDATE OF {', '.join(columns)}" if columns else "UPDATE"
    return [
        f"DROP TRIGGER IF EXISTS {table}_access_epoch ON {table}",
        f"DROP TRIGGER IF EXISTS {table}_access_epoch_truncate ON {table}",
        f"CREATE CONSTRAINT TRIGGER {table}_access_epoch AFTER INSERT OR {update} OR DELETE ON {table} "
        f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {BUMP_FUNCTION}()",
        f"CREATE TRIGGER {table}_access_epoch_truncate AFTER TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {BUMP_FUNCTION}()",
    ]


def epoch_teardown_sql(tables: dict[str, tuple[str, ...] | None]) -> list[str]:
    statements = []
    for table in tables:
        statements += [
            f"DROP TRIGGER IF EXISTS {table}_access_epoch ON {table}",
            f"DROP TRIGGER IF EXISTS {table}_access_epoch_update ON {table}",
            f"DROP TRIGGER IF EXISTS {table}_access_epoch_truncate ON {table}",
        ]
    return [
        *statements,
        f"DROP FUNCTION IF EXISTS {BUMP_FUNCTION}()",
        f"DROP TABLE IF EXISTS {EPOCH_TABLE}",
        f"DROP SEQUENCE IF EXISTS {EPOCH_SEQUENCE}",
    ]


def epoch_triggers_when_changed_sql(table: str, columns: tuple[str, ...]) -> list[str]:
    """As ``epoch_triggers_sql``, but an UPDATE bumps only when one of *columns* really changed
    (a row saved whole by a busy status update, like a sync's, leaves the epoch alone)."""
    changed = " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in columns)
    return [
        f"DROP TRIGGER IF EXISTS {table}_access_epoch ON {table}",
        f"DROP TRIGGER IF EXISTS {table}_access_epoch_update ON {table}",
        f"DROP TRIGGER IF EXISTS {table}_access_epoch_truncate ON {table}",
        f"CREATE CONSTRAINT TRIGGER {table}_access_epoch AFTER INSERT OR DELETE ON {table} "
        f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {BUMP_FUNCTION}()",
        f"CREATE CONSTRAINT TRIGGER {table}_access_epoch_update AFTER UPDATE ON {table} "
        f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION {BUMP_FUNCTION}()",
        f"CREATE TRIGGER {table}_access_epoch_truncate AFTER TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {BUMP_FUNCTION}()",
    ]


def run_on_postgresql(schema_editor: Any, statements: list[str]) -> None:
    """A migration step of the epoch: PostgreSQL only (other databases have no epoch)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in statements:
        schema_editor.execute(statement)
