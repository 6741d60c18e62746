"""Secret imports: local keys win, import order decides, unreadable sources are skipped and named."""

from __future__ import annotations

import pytest

from secrets_app.errors import Conflict, NotFound, ValidationFailed
from secrets_app.models import SecretImport
from secrets_app.selectors.secrets import secret_get, secret_list
from secrets_app.services.folders import folder_ensure, import_create, import_delete, import_reorder
from tests.secrets_app.conftest import put, value_of


@pytest.fixture
def imports(cast):
    """dev:/ has A locally and imports staging:/shared (first) then prod:/shared (second)."""
    alice = cast.scope(cast.alice)
    for env in ("staging", "prod"):
        folder_ensure(scope=alice, environment=env, path="/shared")
    put(alice, "A", "local-a")
    put(alice, "A", "staging-a", env="staging", path="/shared")
    put(alice, "B", "staging-b", env="staging", path="/shared")
    put(alice, "B", "prod-b", env="prod", path="/shared")
    put(alice, "C", "prod-c", env="prod", path="/shared")
    first = import_create(scope=alice, environment="dev", path="/", source_environment="staging", source_path="/shared")
    second = import_create(scope=alice, environment="dev", path="/", source_environment="prod", source_path="/shared/")
    return alice, first, second


def values(scope, **options) -> dict[str, tuple[str | None, str | None]]:
    result = secret_list(scope, environment="dev", path="/", include_imports=True, **options)
    return {view.key: (view.value, view.imported_from) for view in result.secrets}


@pytest.mark.django_db
def test_it_lets_local_keys_win_and_earlier_imports_beat_later_ones(cast, imports) -> None:
    alice, _, _ = imports

    assert values(alice, include_values=True) == {
        "A": ("local-a", None),
        "B": ("staging-b", "staging:/shared"),
        "C": ("prod-c", "prod:/shared"),
    }


@pytest.mark.django_db
def test_it_lets_the_import_order_decide_between_imports(cast, imports) -> None:
    alice, first, second = imports

    import_reorder(scope=alice, environment="dev", path="/", import_ids=[second.pk, first.pk])

    assert values(alice, include_values=True)["B"] == ("prod-b", "prod:/shared")
    assert values(alice, include_values=True)["A"] == ("local-a", None)


@pytest.mark.django_db
def test_it_lists_only_local_secrets_unless_imports_are_asked_for(cast, imports) -> None:
    alice, _, _ = imports

    assert [view.key for view in secret_list(alice, environment="dev", path="/").secrets] == ["A"]


@pytest.mark.django_db
def test_it_skips_imports_the_reader_cannot_read_and_names_them(cast, imports) -> None:
    erin = cast.scope(cast.erin)

    result = secret_list(erin, environment="dev", path="/", include_imports=True, include_values=True)

    assert [(view.key, view.value) for view in result.secrets] == [("A", "local-a")]
    assert result.imports_skipped == ["staging:/shared", "prod:/shared"]


@pytest.mark.django_db
def test_it_shows_imported_names_but_no_values_to_a_viewer(cast, imports) -> None:
    result = secret_list(cast.scope(cast.dave), environment="dev", path="/", include_imports=True)

    assert {view.key: view.value for view in result.secrets} == {"A": None, "B": None, "C": None}
    assert result.imports_skipped == []


@pytest.mark.django_db
def test_it_gets_an_imported_secret_only_with_include_imports(cast, imports) -> None:
    alice, _, _ = imports

    with pytest.raises(NotFound):
        value_of(alice, "C")
    view = secret_get(alice, environment="dev", path="/", key="C", include_imports=True)
    assert (view.value, view.imported_from, view.environment, view.path) == (
        "prod-c",
        "prod:/shared",
        "prod",
        "/shared",
    )
    assert value_of(alice, "B", include_imports=True) == "staging-b"
    assert value_of(alice, "A", include_imports=True) == "local-a"
    with pytest.raises(NotFound):
        value_of(cast.scope(cast.erin), "C", include_imports=True)


@pytest.mark.django_db
def test_it_expands_an_imported_secret_in_its_source_place(cast, imports) -> None:
    alice, _, _ = imports
    put(alice, "HOST", "prod-host", env="prod", path="/shared")
    put(alice, "URL", "https://${HOST}", env="prod", path="/shared")
    put(alice, "HOST", "dev-host")

    assert value_of(alice, "URL", include_imports=True, expand=True) == "https://prod-host"


@pytest.mark.django_db
def test_it_stops_following_an_import_cycle(cast, imports) -> None:
    alice, _, _ = imports
    import_create(scope=alice, environment="staging", path="/shared", source_environment="dev", source_path="/")

    assert values(alice, include_values=True)["B"] == ("staging-b", "staging:/shared")


@pytest.mark.django_db
def test_it_refuses_bad_imports(cast, imports) -> None:
    alice, first, _ = imports

    with pytest.raises(Conflict):
        import_create(scope=alice, environment="dev", path="/", source_environment="staging", source_path="/shared")
    with pytest.raises(ValidationFailed):
        import_create(scope=alice, environment="dev", path="/", source_environment="dev", source_path="/")
    with pytest.raises(NotFound):
        import_create(scope=alice, environment="dev", path="/", source_environment="prod", source_path="/nope")
    with pytest.raises(NotFound):  # prod is hidden from a dev-only role
        import_create(
            scope=cast.scope(cast.erin), environment="dev", path="/", source_environment="prod", source_path="/"
        )
    with pytest.raises(ValidationFailed):
        import_reorder(scope=alice, environment="dev", path="/", import_ids=[first.pk])


@pytest.mark.django_db
def test_it_stops_importing_once_the_import_is_deleted(cast, imports) -> None:
    alice, first, second = imports

    import_delete(scope=alice, import_id=second.pk)

    assert set(values(alice)) == {"A", "B"}
    assert list(SecretImport.objects.values_list("pk", flat=True)) == [first.pk]
