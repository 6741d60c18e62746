"""Folder commits store what they changed instead of a snapshot of the whole folder (issue 14).

The rows written so far keep their snapshot and become checkpoints; their ``live_count`` is the size
of that snapshot. ``FolderCommitHead`` rows appear with the first new commit of each folder (which is
a checkpoint), so none are made here."""

from __future__ import annotations

from typing import Any

import django.db.models.deletion
from django.db import migrations, models


def count_live(apps: Any, schema_editor: Any) -> None:
    table = apps.get_model("secrets_app", "FolderCommit")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "UPDATE secrets_app_foldercommit SET live_count = (SELECT count(*) FROM jsonb_object_keys(state)) "
            "WHERE state IS NOT NULL AND jsonb_typeof(state) = 'object'"
        )
        return
    batch = []
    for commit in table.objects.only("id", "state").iterator(chunk_size=500):
        commit.live_count = len(commit.state or {})
        batch.append(commit)
        if len(batch) >= 500:
            table.objects.bulk_update(batch, ["live_count"])
            batch = []
    table.objects.bulk_update(batch, ["live_count"])


def snapshot_every_commit(apps: Any, schema_editor: Any) -> None:
    """Backwards: give every delta commit the full state again (rebuilt in id order per folder)."""
    table = apps.get_model("secrets_app", "FolderCommit")
    folder_id, state = None, {}
    batch = []
    for commit in table.objects.order_by("folder_id", "id").only("id", "folder_id", "state", "changes").iterator():
        if commit.folder_id != folder_id:
            folder_id, state = commit.folder_id, {}
        if commit.state is not None:
            state = dict(commit.state)
            continue
        for secret_id, version in (commit.changes or {}).items():
            if version is None:
                state.pop(secret_id, None)
            else:
                state[secret_id] = version
        commit.state = dict(state)
        batch.append(commit)
        if len(batch) >= 500:
            table.objects.bulk_update(batch, ["state"])
            batch = []
    table.objects.bulk_update(batch, ["state"])


class Migration(migrations.Migration):
    dependencies = [
        ("secrets_app", "0014_rotation_actions"),
    ]

    operations = [
        migrations.CreateModel(
            name="FolderCommitHead",
            fields=[
                (
                    "folder",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="secrets_app.folder",
                    ),
                ),
                ("commits", models.BigIntegerField(default=0)),
                ("live_count", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.AddField(
            model_name="foldercommit",
            name="changes",
            field=models.JSONField(blank=True, default=None, null=True),
        ),
        migrations.AddField(
            model_name="foldercommit",
            name="live_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="foldercommit",
            name="state",
            field=models.JSONField(blank=True, default=None, null=True),
        ),
        migrations.AddIndex(
            model_name="foldercommit",
            index=models.Index(fields=["folder", "id"], name="foldercommit_folder_id"),
        ),
        migrations.AddIndex(
            model_name="foldercommit",
            index=models.Index(
                condition=models.Q(("state__isnull", False)), fields=["folder", "id"], name="foldercommit_checkpoint"
            ),
        ),
        migrations.RunPython(count_live, snapshot_every_commit),
    ]
