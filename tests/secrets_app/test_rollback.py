"""Point-in-time recovery: a secret back to an old version, a folder back to an old commit."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from secrets_app.errors import NotFound, PermissionDenied
from secrets_app.models import FolderCommit, Secret
from secrets_app.selectors.secrets import secret_list, secret_versions
from secrets_app.services.folders import tag_create
from secrets_app.services.members import member_add, role_create
from secrets_app.services.rollback import folder_rollback, secret_rollback
from secrets_app.services.secrets import SecretInput, secret_delete, secret_update
from tests.secrets_app.conftest import put, value_of


def update(scope, key: str, value: str, **options) -> None:
    secret_update(scope=scope, environment="dev", path="/", key=key, item=SecretInput(key=key, value=value), **options)


def live_values(scope) -> dict[str, str | None]:
    return {
        view.key: view.value for view in secret_list(scope, environment="dev", path="/", include_values=True).secrets
    }


def latest_commit(cast) -> FolderCommit:
    return FolderCommit.objects.filter(
        folder__environment__project=cast.project, folder__environment__slug="dev"
    ).first()


@pytest.mark.django_db
def test_it_rolls_a_secret_back_by_appending_a_version(cast) -> None:
    bob = cast.scope(cast.bob)
    put(bob, "DB_PASS", "one", comment="first")
    update(bob, "DB_PASS", "two")

    secret = secret_rollback(scope=bob, environment="dev", path="/", key="DB_PASS", version=1)

    assert secret.version == 3
    assert value_of(bob, "DB_PASS") == "one"
    assert value_of(bob, "DB_PASS", version=2) == "two"
    assert [v.change for v in secret_versions(bob, environment="dev", path="/", key="DB_PASS")] == [
        "rolled back to v1",
        "updated",
        "created",
    ]
    event = AuditEvent.objects.get(action="secret.rolled_back")
    assert event.metadata == {"to_version": 1, "new_version": 3}


@pytest.mark.django_db
def test_it_refuses_a_rollback_to_a_version_that_never_existed(cast) -> None:
    bob = cast.scope(cast.bob)
    put(bob, "DB_PASS", "one")

    with pytest.raises(NotFound):
        secret_rollback(scope=bob, environment="dev", path="/", key="DB_PASS", version=7)

    assert Secret.objects.get(key="DB_PASS").version == 1


@pytest.mark.django_db
def test_it_refuses_rollback_to_readers(cast) -> None:
    put(cast.scope(cast.alice), "DB_PASS", "one")
    update(cast.scope(cast.alice), "DB_PASS", "two")

    with pytest.raises(PermissionDenied):
        secret_rollback(scope=cast.scope(cast.dave), environment="dev", path="/", key="DB_PASS", version=1)

    assert value_of(cast.scope(cast.alice), "DB_PASS") == "two"


@pytest.mark.django_db
def test_it_rolls_a_folder_back_restoring_deleted_removing_new_and_reverting_values(cast) -> None:
    bob = cast.scope(cast.bob)
    put(bob, "KEEP", "keep-1")
    put(bob, "CHANGE", "change-1")
    put(bob, "GONE", "gone-1")
    checkpoint = latest_commit(cast)
    update(bob, "CHANGE", "change-2")
    secret_delete(scope=bob, environment="dev", path="/", key="GONE")
    put(bob, "LATER", "later-1")
    assert live_values(bob) == {"KEEP": "keep-1", "CHANGE": "change-2", "LATER": "later-1"}

    folder_rollback(scope=bob, environment="dev", path="/", commit_id=checkpoint.pk)

    assert live_values(bob) == {"KEEP": "keep-1", "CHANGE": "change-1", "GONE": "gone-1"}
    assert [v.version for v in secret_versions(bob, environment="dev", path="/", key="CHANGE")] == [3, 2, 1]
    assert Secret.objects.get(key="KEEP").version == 1
    event = AuditEvent.objects.get(action="folder.rolled_back")
    assert event.metadata == {"restored": ["GONE"], "reverted": ["CHANGE"], "removed": ["LATER"]}


@pytest.mark.django_db
def test_it_rolls_a_folder_back_over_a_key_that_was_deleted_and_created_again(cast) -> None:
    bob = cast.scope(cast.bob)
    put(bob, "DB_PASS", "original")
    checkpoint = latest_commit(cast)
    secret_delete(scope=bob, environment="dev", path="/", key="DB_PASS")
    put(bob, "DB_PASS", "replacement")

    folder_rollback(scope=bob, environment="dev", path="/", commit_id=checkpoint.pk)

    assert live_values(bob) == {"DB_PASS": "original"}
    assert Secret.objects.filter(key="DB_PASS", deleted_at__isnull=True).count() == 1


@pytest.mark.django_db
def test_it_can_undo_a_folder_rollback_with_the_commit_it_made(cast) -> None:
    bob = cast.scope(cast.bob)
    put(bob, "A", "a-1")
    checkpoint = latest_commit(cast)
    update(bob, "A", "a-2")
    put(bob, "B", "b-1")
    before_rollback = latest_commit(cast)

    folder_rollback(scope=bob, environment="dev", path="/", commit_id=checkpoint.pk)
    folder_rollback(scope=bob, environment="dev", path="/", commit_id=before_rollback.pk)

    assert live_values(bob) == {"A": "a-2", "B": "b-1"}


@pytest.mark.django_db
def test_it_refuses_a_commit_of_another_folder_or_project(cast) -> None:
    put(cast.scope(cast.alice), "PROD", "p", env="prod")
    prod_commit = FolderCommit.objects.filter(folder__environment__slug="prod").first()

    with pytest.raises(NotFound):
        folder_rollback(scope=cast.scope(cast.alice), environment="dev", path="/", commit_id=prod_commit.pk)
    with pytest.raises((NotFound, PermissionDenied)):
        folder_rollback(scope=cast.scope(cast.erin), environment="prod", path="/", commit_id=prod_commit.pk)


@pytest.mark.django_db
def test_it_keeps_a_tag_deny_on_rollback(cast) -> None:
    alice = cast.scope(cast.alice)
    tag_create(scope=alice, slug="locked")
    put(alice, "LOCKED", "v1", tags=["locked"])
    update(alice, "LOCKED", "v2")
    role_create(
        scope=alice,
        slug="no-locked-rollback",
        name="No rollback of locked secrets",
        rules=[
            {"effect": "allow", "action": "secrets.*"},
            {"effect": "deny", "action": "secrets.rollback", "tags": ["locked"]},
        ],
    )
    member_add(scope=alice, email=cast.charlie.email, role="no-locked-rollback")

    with pytest.raises(PermissionDenied):
        secret_rollback(scope=cast.scope(cast.charlie), environment="dev", path="/", key="LOCKED", version=1)

    assert value_of(alice, "LOCKED") == "v2"


@pytest.mark.django_db
def test_it_keeps_a_tag_deny_on_folder_rollback_of_a_changed_tagged_secret(cast) -> None:
    alice = cast.scope(cast.alice)
    tag_create(scope=alice, slug="locked")
    put(alice, "LOCKED", "v1", tags=["locked"])
    put(alice, "FREE", "f1")
    locked_was_v1 = latest_commit(cast)
    update(alice, "LOCKED", "v2")
    locked_is_v2 = latest_commit(cast)
    update(alice, "FREE", "f2")
    role_create(
        scope=alice,
        slug="no-locked-rollback",
        name="No rollback of locked secrets",
        rules=[
            {"effect": "allow", "action": "secrets.*"},
            {"effect": "deny", "action": "secrets.rollback", "tags": ["locked"]},
        ],
    )
    member_add(scope=alice, email=cast.charlie.email, role="no-locked-rollback")
    charlie = cast.scope(cast.charlie)

    with pytest.raises(PermissionDenied):
        folder_rollback(scope=charlie, environment="dev", path="/", commit_id=locked_was_v1.pk)
    assert live_values(alice) == {"LOCKED": "v2", "FREE": "f2"}

    folder_rollback(scope=charlie, environment="dev", path="/", commit_id=locked_is_v2.pk)
    assert live_values(alice) == {"LOCKED": "v2", "FREE": "f1"}
