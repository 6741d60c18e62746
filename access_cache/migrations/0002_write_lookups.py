"""The epoch also moves with what a secret write looks up: approval policies (and the environments
they cover) and which syncs follow a project automatically (access_cache/epoch.py)."""

from __future__ import annotations

from typing import Any

from django.db import migrations

from access_cache.epoch import epoch_triggers_sql, epoch_triggers_when_changed_sql, run_on_postgresql

WHOLE_ROWS = ("approvals_approvalpolicy", "approvals_policyenvironment")
SYNCS = ("syncs_secretsync", ("project_id", "auto_sync"))


def forwards(apps: Any, schema_editor: Any) -> None:
    statements: list[str] = []
    for table in WHOLE_ROWS:
        statements += epoch_triggers_sql(table, None)
    statements += epoch_triggers_when_changed_sql(*SYNCS)
    run_on_postgresql(schema_editor, statements)


def backwards(apps: Any, schema_editor: Any) -> None:
    statements = []
    for table in (*WHOLE_ROWS, SYNCS[0]):
        for suffix in ("", "_update", "_truncate"):
            statements.append(f"DROP TRIGGER IF EXISTS {table}_access_epoch{suffix} ON {table}")
    run_on_postgresql(schema_editor, statements)


class Migration(migrations.Migration):
    dependencies = [
        ("access_cache", "0001_access_epoch"),
        ("approvals", "0001_initial"),
        ("syncs", "0002_force_next_run"),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
