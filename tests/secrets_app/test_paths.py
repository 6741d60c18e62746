"""Folder paths: one canonical form, traversal and look-alikes refused before any check."""

from __future__ import annotations

import unicodedata

import pytest

from secrets_app.errors import Conflict, ValidationFailed
from secrets_app.models import Folder
from secrets_app.paths import canonical_path, path_matches
from secrets_app.selectors.secrets import secret_list
from secrets_app.services.folders import folder_create, folder_ensure
from tests.secrets_app.conftest import put, value_of


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("/", "/"),
        ("", "/"),
        (None, "/"),
        ("/app", "/app"),
        ("/app/", "/app"),
        ("app", "/app"),
        ("  /app/db  ", "/app/db"),
        ("/backend/api-v2/worker_1", "/backend/api-v2/worker_1"),
    ],
)
def test_it_gives_every_spelling_of_a_folder_one_canonical_path(raw, canonical) -> None:
    assert canonical_path(raw) == canonical


@pytest.mark.parametrize(
    "raw",
    [
        "/app/..",
        "/..",
        "/app/../prod",
        "/app/./db",
        "/./app",
        "//app",
        "/app//db",
        "/app/db//",
        "/%2e%2e/prod",
        "/app/%2e%2e",
        "/app/%252e%252e",
        "/app\\..\\prod",
        "\\app",
        "／app",
        "/app／db",
        "/caf\u00e9",
        unicodedata.normalize("NFD", "/caf\u00e9"),
        "/app*",
        "/app/**",
        "/app?",
        "/app[1]",
        "/app+x",
        "/app db",
        "/app\n/db",
        "/app\x00",
        "/app\u200b",
        "/" + "a" * 65,
        "/a" * 21,
        "/" + "a/" * 600,
    ],
)
def test_it_refuses_traversal_look_alikes_and_glob_characters_in_paths(raw) -> None:
    with pytest.raises(ValidationFailed) as refused:
        canonical_path(raw)

    assert list(refused.value.fields) == ["path"]


def test_it_names_the_field_it_refused() -> None:
    with pytest.raises(ValidationFailed) as refused:
        canonical_path("/../x", field="secretPath")

    assert list(refused.value.fields) == ["secretPath"]


def test_it_matches_globs_by_segment() -> None:
    assert path_matches("/app/**", "/app")
    assert path_matches("/app/**", "/app/db/replica")
    assert not path_matches("/app/**", "/app-other")
    assert not path_matches("/app/**", "/application")
    assert path_matches("/*/db", "/app/db")
    assert not path_matches("/*/db", "/db")
    assert path_matches("/**/db", "/db")
    assert path_matches("/**/db", "/a/b/db")
    assert not path_matches("/**/db", "/a/b/dbx")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", ["*", "**", "app*", "a?b", "[ab]", "..", ".", "", "a/b", "a b", "app\n", "／app", "caf\u00e9", "a" * 65]
)
def test_it_refuses_folder_names_that_are_not_plain_segments(cast, name) -> None:
    with pytest.raises(ValidationFailed) as refused:
        folder_create(scope=cast.scope(cast.alice), environment="dev", path="/", name=name)

    assert list(refused.value.fields) == ["name"]
    assert list(
        Folder.objects.filter(project=cast.project, environment__slug="dev").values_list("path", flat=True)
    ) == ["/"]


@pytest.mark.django_db
def test_it_finds_the_same_folder_with_or_without_a_trailing_slash(cast) -> None:
    alice = cast.scope(cast.alice)
    folder_create(scope=alice, environment="dev", path="/", name="app")
    put(alice, "KEY", "value", path="/app/")

    assert value_of(alice, "KEY", path="/app") == "value"
    assert value_of(alice, "KEY", path="app/") == "value"
    assert [view.path for view in secret_list(alice, environment="dev", path="/app/").secrets] == ["/app"]
    with pytest.raises(Conflict):
        folder_create(scope=alice, environment="dev", path="/", name="app")


@pytest.mark.django_db
def test_it_refuses_traversal_in_a_service_call_before_looking_anything_up(cast) -> None:
    alice = cast.scope(cast.alice)
    folder_ensure(scope=alice, environment="dev", path="/app")

    for raw in ("/app/..", "/app/../app", "/app/%2e%2e", "/app\\..", "／app"):
        with pytest.raises(ValidationFailed):
            secret_list(alice, environment="dev", path=raw)
        with pytest.raises(ValidationFailed):
            put(alice, "KEY", "value", path=raw)
