"""The access epoch and its triggers (access_cache/epoch.py). PostgreSQL only: on SQLite nothing
is created and readers compute access per request."""

from __future__ import annotations

from typing import Any

from django.db import migrations

from access_cache.epoch import epoch_setup_sql, epoch_teardown_sql, epoch_triggers_sql, run_on_postgresql

# Frozen here: a later migration that watches another table adds its own triggers.
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
}


def forwards(apps: Any, schema_editor: Any) -> None:
    statements = epoch_setup_sql()
    for table, columns in WATCHED.items():
        statements += epoch_triggers_sql(table, columns)
    run_on_postgresql(schema_editor, statements)


def backwards(apps: Any, schema_editor: Any) -> None:
    run_on_postgresql(schema_editor, epoch_teardown_sql(WATCHED))


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("secrets_app", "0014_rotation_actions"),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
