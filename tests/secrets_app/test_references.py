"""Secret references expand server-side, within the reader's rights (security bar A4)."""

from __future__ import annotations

import json

import pytest

from audit.models import AuditEvent
from secrets_app.references import expand_references, parse_reference
from secrets_app.selectors.secrets import secret_list
from secrets_app.services.folders import folder_ensure
from tests.secrets_app.conftest import put, value_of


def expanded(scope, key: str, *, env: str = "dev", path: str = "/") -> str | None:
    return value_of(scope, key, env=env, path=path, expand=True)


def test_it_parses_the_three_reference_forms() -> None:
    assert parse_reference("KEY", "dev", "/app") == ("dev", "/app", "KEY")
    assert parse_reference("prod.KEY", "dev", "/app") == ("prod", "/", "KEY")
    assert parse_reference("prod.a.b.KEY", "dev", "/app") == ("prod", "/a/b", "KEY")
    assert parse_reference("prod..KEY", "dev", "/") is None
    assert parse_reference(".KEY", "dev", "/") is None


def test_it_expands_against_a_resolver_and_leaves_the_rest_literal() -> None:
    values = {("dev", "/", "A"): "a", ("dev", "/", "B"): "[${A}]"}

    result = expand_references(
        "${A} ${B} ${MISSING} $A {A} ${ A } ${}",
        environment="dev",
        path="/",
        resolve=lambda env, path, key: values.get((env, path, key)),
    )

    assert result.value == "a [a] ${MISSING} $A {A} ${ A } ${}"
    assert result.references == {("dev", "/", "A"), ("dev", "/", "B")}


@pytest.fixture
def tree(cast):
    """dev:/ and prod:/ with hosts, a folder /backend/api in staging, all written by alice."""
    alice = cast.scope(cast.alice)
    folder_ensure(scope=alice, environment="staging", path="/backend/api")
    put(alice, "HOST", "dev-host")
    put(alice, "PORT", "5432")
    put(alice, "HOST", "prod-host", env="prod")
    put(alice, "DB_PASS", "prod-only-password", env="prod")
    put(alice, "URL", "https://${HOST}/", env="prod")
    put(alice, "TOKEN", "staging-token", env="staging", path="/backend/api")
    return alice


@pytest.mark.django_db
def test_it_expands_same_folder_environment_and_folder_references(cast, tree) -> None:
    put(tree, "DSN", "postgres://${HOST}:${PORT}/app")
    put(tree, "FROM_PROD", "${prod.HOST}")
    put(tree, "FROM_FOLDER", "Bearer ${staging.backend.api.TOKEN}")

    assert expanded(tree, "DSN") == "postgres://dev-host:5432/app"
    assert expanded(tree, "FROM_PROD") == "prod-host"
    assert expanded(tree, "FROM_FOLDER") == "Bearer staging-token"
    assert value_of(tree, "DSN") == "postgres://${HOST}:${PORT}/app"


@pytest.mark.django_db
def test_it_resolves_a_nested_relative_reference_in_the_referenced_secrets_place(cast, tree) -> None:
    put(tree, "PROD_URL", "${prod.URL}")

    assert expanded(tree, "PROD_URL") == "https://prod-host/"


@pytest.mark.django_db
def test_it_expands_references_in_a_listing_too(cast, tree) -> None:
    put(tree, "DSN", "${HOST}:${PORT}")

    listing = secret_list(tree, environment="dev", path="/", include_values=True, expand=True)

    assert {view.key: view.value for view in listing.secrets}["DSN"] == "dev-host:5432"


@pytest.mark.django_db
def test_it_leaves_unresolved_references_literal(cast, tree) -> None:
    put(tree, "BROKEN", "${NOPE} ${prod.NOPE} ${qa.HOST} ${prod.no.such.folder.KEY} ${prod..HOST}")

    assert expanded(tree, "BROKEN") == "${NOPE} ${prod.NOPE} ${qa.HOST} ${prod.no.such.folder.KEY} ${prod..HOST}"


@pytest.mark.django_db
def test_it_leaves_a_self_reference_literal(cast, tree) -> None:
    put(tree, "SELF", "x${SELF}y")

    assert expanded(tree, "SELF") == "x${SELF}y"


@pytest.mark.django_db
def test_it_stops_a_cycle_where_it_comes_back_to_a_secret_being_expanded(cast, tree) -> None:
    put(tree, "A", "a-${B}")
    put(tree, "B", "b-${A}")

    assert expanded(tree, "A") == "a-b-${A}"
    assert expanded(tree, "B") == "b-a-${B}"


@pytest.mark.django_db
def test_it_follows_ten_levels_of_references_and_no_more(cast, tree) -> None:
    for index in range(11):
        put(tree, f"K{index}", f"${{K{index + 1}}}")
    put(tree, "K11", "bottom")

    assert expanded(tree, "K1") == "bottom"  # K1 → K2 → … → K11: ten references
    assert expanded(tree, "K0") == "${K11}"  # eleven: the last one stays literal


@pytest.mark.django_db
def test_it_never_expands_a_prod_reference_for_a_dev_only_reader(cast, tree) -> None:
    put(tree, "LEAK", "pass=${prod.DB_PASS}")
    put(tree, "LEAK_NESTED", "${LEAK}")
    erin = cast.scope(cast.erin)

    assert expanded(erin, "LEAK") == "pass=${prod.DB_PASS}"
    assert expanded(erin, "LEAK_NESTED") == "pass=${prod.DB_PASS}"
    listing = secret_list(erin, environment="dev", path="/", include_values=True, expand=True)
    assert {view.key: view.value for view in listing.secrets}["LEAK"] == "pass=${prod.DB_PASS}"
    audit_text = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert "prod-only-password" not in audit_text
    erin_reads = AuditEvent.objects.filter(
        actor_label=cast.erin.email, action__in=["secret.value_read", "secret.values_read"]
    )
    assert erin_reads.count() == 3
    assert all("prod:/:DB_PASS" not in event.metadata.get("references", []) for event in erin_reads)


@pytest.mark.django_db
def test_it_expands_for_a_reader_with_access_and_records_which_references_it_followed(cast, tree) -> None:
    put(tree, "LEAK", "pass=${prod.DB_PASS}")

    assert expanded(tree, "LEAK") == "pass=prod-only-password"

    event = AuditEvent.objects.filter(action="secret.value_read", resource_id="LEAK").get()
    assert event.metadata["references"] == ["prod:/:DB_PASS"]
    assert "prod-only-password" not in json.dumps(event.metadata)


@pytest.mark.django_db
def test_it_never_expands_a_reference_to_a_value_the_reader_may_not_read(cast, tree) -> None:
    put(tree, "VIA_REF", "${HOST}")

    # dave (viewer) cannot read values at all; erin cannot reach staging.
    assert expanded(cast.scope(cast.erin), "HOST") == "dev-host"
    put(cast.scope(cast.erin), "STAGING_REF", "${staging.backend.api.TOKEN}")
    assert expanded(cast.scope(cast.erin), "STAGING_REF") == "${staging.backend.api.TOKEN}"
    assert expanded(tree, "STAGING_REF") == "staging-token"
