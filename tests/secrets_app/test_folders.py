"""Folders and environments: names that cannot widen a grant, idempotent creation, rename, delete."""

from __future__ import annotations

import pytest

from secrets_app.errors import NotFound, PermissionDenied, ValidationFailed
from secrets_app.models import Folder, Secret
from secrets_app.selectors.secrets import secret_list
from secrets_app.services.folders import (
    folder_create,
    folder_delete,
    folder_ensure,
    folder_rename,
    import_create,
    tag_create,
)
from secrets_app.services.members import member_add, role_create
from secrets_app.services.projects import environment_create
from tests.secrets_app.conftest import put, run_in_threads, value_of


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ["pr*d", "prod?", "[prod]", "prod+x", "Prod", "prod/x", "-prod", "pród", ""])
def test_it_refuses_environment_names_that_could_widen_a_grant(cast, slug) -> None:
    with pytest.raises(ValidationFailed):
        environment_create(scope=cast.scope(cast.alice), slug=slug)


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ["tag*", "a b", "x?"])
def test_it_refuses_role_and_tag_names_with_glob_characters(cast, slug) -> None:
    alice = cast.scope(cast.alice)
    with pytest.raises(ValidationFailed):
        tag_create(scope=alice, slug=slug)
    with pytest.raises(ValidationFailed):
        role_create(scope=alice, slug=slug, name="x", rules=[])


@pytest.mark.django_db
def test_it_creates_a_folder_path_once_however_often_it_is_ensured(cast) -> None:
    alice = cast.scope(cast.alice)

    first = folder_ensure(scope=alice, environment="dev", path="/a/b/c")
    again = folder_ensure(scope=alice, environment="dev", path="/a/b/c/")

    assert first.pk == again.pk
    assert list(
        Folder.objects.filter(environment__slug="dev", project=cast.project).values_list("path", flat=True)
    ) == [
        "/",
        "/a",
        "/a/b",
        "/a/b/c",
    ]


@pytest.mark.django_db(transaction=True)
def test_it_ensures_the_same_folder_from_concurrent_writers(cast, shared_db) -> None:
    outcomes = run_in_threads(
        8, lambda _: folder_ensure(scope=cast.scope(cast.bob), environment="dev", path="/shared/deep").pk
    )

    assert [error for _, _, error in outcomes if error is not None] == []
    assert len({folder_id for _, folder_id, _ in outcomes}) == 1
    assert Folder.objects.filter(project=cast.project, environment__slug="dev", path="/shared/deep").count() == 1


@pytest.mark.django_db
def test_it_checks_folder_creation_against_the_new_path(cast) -> None:
    erin = cast.scope(cast.erin)

    folder_ensure(scope=erin, environment="dev", path="/mine")
    with pytest.raises(NotFound):  # prod is hidden from a dev-only role: it answers like a missing env
        folder_create(scope=erin, environment="prod", path="/", name="sneaky")
    with pytest.raises(PermissionDenied):
        folder_create(scope=cast.scope(cast.dave), environment="dev", path="/", name="viewer")


@pytest.mark.django_db
def test_it_renames_a_folder_and_everything_below_it(cast) -> None:
    alice = cast.scope(cast.alice)
    folder_ensure(scope=alice, environment="dev", path="/old/inner")
    put(alice, "TOP", "top", path="/old")
    put(alice, "INNER", "inner", path="/old/inner")

    folder_rename(scope=alice, environment="dev", path="/old", name="new")

    assert value_of(alice, "TOP", path="/new") == "top"
    assert value_of(alice, "INNER", path="/new/inner") == "inner"
    with pytest.raises(NotFound):
        value_of(alice, "TOP", path="/old")


@pytest.mark.django_db
def test_it_keeps_imports_of_a_renamed_folder_working(cast) -> None:
    alice = cast.scope(cast.alice)
    folder_ensure(scope=alice, environment="prod", path="/shared")
    put(alice, "SHARED_KEY", "shared-value", env="prod", path="/shared")
    import_create(scope=alice, environment="dev", path="/", source_environment="prod", source_path="/shared")

    folder_rename(scope=alice, environment="prod", path="/shared", name="common")

    result = secret_list(alice, environment="dev", path="/", include_imports=True, include_values=True)
    assert [(view.key, view.value, view.imported_from) for view in result.secrets] == [
        ("SHARED_KEY", "shared-value", "prod:/common")
    ]
    assert result.imports_skipped == []


@pytest.mark.django_db
def test_it_deletes_a_folder_with_its_secrets_but_never_the_root(cast) -> None:
    alice = cast.scope(cast.alice)
    folder_ensure(scope=alice, environment="dev", path="/gone/inner")
    put(alice, "INNER", "inner", path="/gone/inner")
    put(alice, "ROOT_KEY", "stays")

    folder_delete(scope=alice, environment="dev", path="/gone")

    assert not Folder.objects.filter(path__startswith="/gone").exists()
    assert not Secret.objects.filter(key="INNER", deleted_at__isnull=True).exists()
    assert value_of(alice, "ROOT_KEY") == "stays"
    with pytest.raises(ValidationFailed):
        folder_delete(scope=alice, environment="dev", path="/")


@pytest.mark.django_db
def test_it_refuses_a_folder_delete_that_reaches_a_denied_subfolder(cast) -> None:
    alice = cast.scope(cast.alice)
    folder_ensure(scope=alice, environment="dev", path="/app/locked")
    put(alice, "LOCKED", "v", path="/app/locked")
    role_create(
        scope=alice,
        slug="no-locked",
        name="No locked",
        rules=[
            {"effect": "allow", "action": "*"},
            {"effect": "deny", "action": "secrets.delete", "path": "/app/locked/**"},
        ],
    )
    member_add(scope=alice, email=cast.charlie.email, role="no-locked")

    with pytest.raises(PermissionDenied):
        folder_delete(scope=cast.scope(cast.charlie), environment="dev", path="/app")

    assert value_of(alice, "LOCKED", path="/app/locked") == "v"
