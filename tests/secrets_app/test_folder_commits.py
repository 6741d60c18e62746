"""Folder commits store what each change did (a delta) and, every few commits, the whole folder (a
checkpoint). Point-in-time recovery must see the same states as when every commit was a snapshot,
and a create must cost the same in a full folder as in an empty one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection

from secrets_app.models import FolderCommit, Secret
from secrets_app.selectors.commits import folder_commit_state
from secrets_app.selectors.secrets import secret_list
from secrets_app.services.rollback import folder_rollback, secret_rollback
from secrets_app.services.secrets import SecretInput, secret_bulk_upsert, secret_delete, secret_update
from tests.secrets_app.conftest import put, run_in_threads


def update(scope: Any, key: str, value: str, env: str = "dev") -> None:
    secret_update(scope=scope, environment=env, path="/", key=key, item=SecretInput(key=key, value=value))


def delete(scope: Any, key: str, env: str = "dev") -> None:
    secret_delete(scope=scope, environment=env, path="/", key=key)


def live_values(scope: Any, env: str = "dev") -> dict[str, str | None]:
    return {view.key: view.value for view in secret_list(scope, environment=env, path="/", include_values=True).secrets}


def live_ids(env: str = "dev") -> dict[int, int]:
    """What the folder holds now, read from the secrets themselves (id → version)."""
    return dict(
        Secret.objects.filter(folder__environment__slug=env, folder__path="/", deleted_at__isnull=True).values_list(
            "id", "version"
        )
    )


def commits(env: str = "dev") -> list[FolderCommit]:
    return list(FolderCommit.objects.filter(folder__environment__slug=env, folder__path="/").order_by("pk"))


def stored_json_size(commit: FolderCommit) -> int:
    row = FolderCommit.objects.values("state", "changes").get(pk=commit.pk)
    return len(json.dumps(row["state"])) + len(json.dumps(row["changes"]))


@pytest.mark.django_db
def test_it_rebuilds_every_commits_state_across_checkpoints(cast, settings) -> None:
    settings.FOLDER_COMMIT_CHECKPOINT_EVERY = 3
    bob = cast.scope(cast.bob)
    seen: list[dict[int, int]] = []  # the folder right after each commit
    for step in range(4):
        put(bob, f"KEY_{step}", f"one-{step}")
        seen.append(live_ids())
    update(bob, "KEY_1", "two")
    seen.append(live_ids())
    delete(bob, "KEY_2")
    seen.append(live_ids())
    secret_bulk_upsert(
        scope=bob,
        environment="dev",
        path="/",
        items=[SecretInput(key="KEY_0", value="bulk"), SecretInput(key="KEY_9", value="new")],
    )
    seen.append(live_ids())
    secret_rollback(scope=bob, environment="dev", path="/", key="KEY_1", version=1)
    seen.append(live_ids())
    put(bob, "KEY_2", "again")
    seen.append(live_ids())

    written = commits()
    assert [commit.is_checkpoint for commit in written] == [True, False, False] * 3
    assert [folder_commit_state(commit) for commit in written] == seen
    assert [commit.live_count for commit in written] == [len(state) for state in seen]


@pytest.mark.django_db
def test_it_rolls_a_folder_back_to_a_commit_before_and_after_a_checkpoint(cast, settings) -> None:
    settings.FOLDER_COMMIT_CHECKPOINT_EVERY = 2
    bob = cast.scope(cast.bob)
    put(bob, "A", "a-1")  # checkpoint
    put(bob, "B", "b-1")
    before_checkpoint = commits()[-1]
    update(bob, "A", "a-2")  # checkpoint
    delete(bob, "B")
    after_checkpoint = commits()[-1]
    put(bob, "C", "c-1")  # checkpoint
    update(bob, "C", "c-2")
    assert not before_checkpoint.is_checkpoint and not after_checkpoint.is_checkpoint

    folder_rollback(scope=bob, environment="dev", path="/", commit_id=before_checkpoint.pk)
    assert live_values(bob) == {"A": "a-1", "B": "b-1"}

    folder_rollback(scope=bob, environment="dev", path="/", commit_id=after_checkpoint.pk)
    assert live_values(bob) == {"A": "a-2"}


@pytest.mark.django_db
def test_it_records_a_deletion_as_a_delta_that_a_rollback_undoes_and_replays(cast) -> None:
    bob = cast.scope(cast.bob)
    put(bob, "KEEP", "keep")
    put(bob, "GONE", "gone")
    before_delete = commits()[-1]
    gone_id = Secret.objects.get(key="GONE").pk
    delete(bob, "GONE")
    after_delete = commits()[-1]

    assert after_delete.changes == {str(gone_id): None} and after_delete.state is None
    assert gone_id in folder_commit_state(before_delete) and gone_id not in folder_commit_state(after_delete)
    assert (before_delete.live_count, after_delete.live_count) == (2, 1)

    folder_rollback(scope=bob, environment="dev", path="/", commit_id=before_delete.pk)
    assert live_values(bob) == {"KEEP": "keep", "GONE": "gone"}
    folder_rollback(scope=bob, environment="dev", path="/", commit_id=after_delete.pk)
    assert live_values(bob) == {"KEEP": "keep"}
    assert commits()[-1].live_count == 1


@pytest.mark.django_db
def test_it_writes_a_commit_for_a_create_that_does_not_grow_with_the_folder(cast) -> None:
    bob = cast.scope(cast.bob)
    put(bob, "FIRST", "x", env="staging")  # the folder's first commit is a checkpoint
    put(bob, "SECOND", "x", env="staging")
    into_nearly_empty = commits("staging")[-1]
    secret_bulk_upsert(
        scope=bob, environment="prod", path="/", items=[SecretInput(key=f"FILL_{n:03}", value="x") for n in range(300)]
    )
    put(bob, "THREE_HUNDRED_AND_FIRST", "x", env="prod")
    into_full = commits("prod")[-1]

    assert into_full.live_count == 301 and into_nearly_empty.live_count == 2
    assert into_full.state is None and into_nearly_empty.state is None
    # Only the new secret's id is stored: a few more digits at most, not 300 entries.
    assert stored_json_size(into_full) <= stored_json_size(into_nearly_empty) + 4


@pytest.mark.django_db
def test_it_rolls_back_to_a_commit_written_before_deltas(cast) -> None:
    """Rows from before the migration keep their snapshot (a checkpoint) and no changes."""
    bob = cast.scope(cast.bob)
    put(bob, "OLD", "old-1")
    put(bob, "OTHER", "other-1")
    old = Secret.objects.get(key="OLD")
    legacy = FolderCommit.objects.create(
        folder=old.folder, state={str(old.pk): 1}, changes=None, live_count=1, message="before deltas"
    )
    update(bob, "OLD", "old-2")

    folder_rollback(scope=bob, environment="dev", path="/", commit_id=legacy.pk)

    assert live_values(bob) == {"OLD": "old-1"}


@pytest.mark.django_db(transaction=True)
def test_it_keeps_commits_of_concurrent_writers_to_one_folder_consistent(cast, shared_db, settings) -> None:
    settings.FOLDER_COMMIT_CHECKPOINT_EVERY = 4
    put(cast.scope(cast.alice), "SEED", "seed")

    def create_several(index: int) -> None:
        for n in range(5):
            put(cast.scope(cast.bob), f"KEY_{index}_{n}", "x")
        delete(cast.scope(cast.bob), f"KEY_{index}_0")

    outcomes = run_in_threads(4, create_several)

    assert [error for _, _, error in outcomes if error is not None] == []
    newest = commits()[-1]
    assert folder_commit_state(newest) == live_ids()
    assert newest.live_count == len(live_ids()) == 1 + 4 * 4


def _migrate_secrets_app(target: str | None) -> None:
    """Migrate secrets_app to *target* (None: every app to its newest migration: going back also
    unapplied the other apps' migrations that depend on secrets_app's later ones, e.g. governance's,
    and a later test in this worker would find their tables missing)."""
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    if target is None:
        executor.migrate(executor.loader.graph.leaf_nodes())
        return
    executor.migrate([("secrets_app", target)])


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_snapshot_commits_as_checkpoints_and_back(cast) -> None:
    bob = cast.scope(cast.bob)
    put(bob, "A", "a-1")
    put(bob, "B", "b-1")
    update(bob, "A", "a-2")  # a delta: going back, the migration gives it its full state again
    a, b = Secret.objects.get(key="A"), Secret.objects.get(key="B")
    _migrate_secrets_app("0014_rotation_actions")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT state FROM secrets_app_foldercommit WHERE folder_id = %s ORDER BY id", [a.folder_id])
            snapshots = [json.loads(row[0]) if isinstance(row[0], str) else row[0] for row in cursor.fetchall()]
            cursor.execute(
                "INSERT INTO secrets_app_foldercommit (folder_id, state, message, actor_label, created_at) "
                "VALUES (%s, %s, 'snapshot era', '', CURRENT_TIMESTAMP)",
                [a.folder_id, json.dumps({str(a.pk): 1, str(b.pk): 1})],
            )
    finally:
        _migrate_secrets_app(None)
    assert snapshots == [{str(a.pk): 1}, {str(a.pk): 1, str(b.pk): 1}, {str(a.pk): 2, str(b.pk): 1}]

    legacy = FolderCommit.objects.get(message="snapshot era")
    assert legacy.is_checkpoint and legacy.changes is None and legacy.live_count == 2
    delete(bob, "B")
    folder_rollback(scope=bob, environment="dev", path="/", commit_id=legacy.pk)

    assert live_values(bob) == {"A": "a-1", "B": "b-1"}
    assert commits()[-1].live_count == 2
