"""Writing and reading secrets through the services: versions, overrides, isolation, bulk writes."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from secrets_app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from secrets_app.models import Secret, SecretVersion
from secrets_app.principals import Principal
from secrets_app.selectors.access import project_list_for_principal, project_scope
from secrets_app.selectors.secrets import secret_get, secret_list, secret_versions
from secrets_app.services.folders import folder_ensure
from secrets_app.services.secrets import SecretInput, secret_bulk_upsert, secret_delete, secret_update
from tests.secrets_app.conftest import put, value_of


def keys_in(scope, env: str = "dev", path: str = "/") -> list[str]:
    return [view.key for view in secret_list(scope, environment=env, path=path).secrets]


@pytest.mark.django_db
def test_it_creates_a_secret_at_version_1_and_refuses_a_second_with_the_same_key(cast) -> None:
    bob = cast.scope(cast.bob)
    put(bob, "DB_PASS", "one", comment="rotated by hand")

    with pytest.raises(Conflict) as clash:
        put(bob, "DB_PASS", "two")

    view = secret_get(bob, environment="dev", path="/", key="DB_PASS")
    assert (view.version, view.value, view.comment) == (1, "one", "rotated by hand")
    assert clash.value.fields == {"key": ["already exists"]}
    assert AuditEvent.objects.filter(action="secret.created", resource_id="DB_PASS").count() == 1


@pytest.mark.django_db
def test_it_keeps_the_same_key_apart_in_other_folders_and_environments(cast) -> None:
    alice = cast.scope(cast.alice)
    folder_ensure(scope=alice, environment="dev", path="/backend")
    put(alice, "DB_PASS", "dev-root")
    put(alice, "DB_PASS", "dev-backend", path="/backend")
    put(alice, "DB_PASS", "prod-root", env="prod")

    assert value_of(alice, "DB_PASS") == "dev-root"
    assert value_of(alice, "DB_PASS", path="/backend") == "dev-backend"
    assert value_of(alice, "DB_PASS", env="prod") == "prod-root"


@pytest.mark.django_db
def test_it_appends_a_version_per_change_and_keeps_old_values_readable(cast) -> None:
    bob = cast.scope(cast.bob)
    put(bob, "DB_PASS", "one")
    for value in ("two", "three"):
        secret_update(
            scope=bob, environment="dev", path="/", key="DB_PASS", item=SecretInput(key="DB_PASS", value=value)
        )

    assert [(v.version, v.is_current) for v in secret_versions(bob, environment="dev", path="/", key="DB_PASS")] == [
        (3, True),
        (2, False),
        (1, False),
    ]
    assert [value_of(bob, "DB_PASS", version=n) for n in (1, 2, 3)] == ["one", "two", "three"]
    with pytest.raises(NotFound):
        value_of(bob, "DB_PASS", version=4)


@pytest.mark.django_db
def test_it_writes_no_version_when_nothing_changed(cast) -> None:
    bob = cast.scope(cast.bob)
    put(bob, "DB_PASS", "same", comment="note")

    secret_update(scope=bob, environment="dev", path="/", key="DB_PASS", item=SecretInput(key="DB_PASS", value="same"))
    secret_update(
        scope=bob, environment="dev", path="/", key="DB_PASS", item=SecretInput(key="DB_PASS", comment="note")
    )

    assert SecretVersion.objects.filter(secret__key="DB_PASS").count() == 1


@pytest.mark.django_db
def test_it_updates_the_comment_alone_keeping_the_value(cast) -> None:
    bob = cast.scope(cast.bob)
    put(bob, "DB_PASS", "value", comment="old note")

    secret_update(
        scope=bob, environment="dev", path="/", key="DB_PASS", item=SecretInput(key="DB_PASS", comment="new note")
    )

    view = secret_get(bob, environment="dev", path="/", key="DB_PASS")
    assert (view.version, view.value, view.comment) == (2, "value", "new note")


@pytest.mark.django_db
def test_it_renames_a_secret_but_never_onto_another_live_key(cast) -> None:
    bob = cast.scope(cast.bob)
    put(bob, "OLD", "value")
    put(bob, "TAKEN", "other")

    with pytest.raises(Conflict):
        secret_update(scope=bob, environment="dev", path="/", key="OLD", item=SecretInput(key="OLD"), new_key="TAKEN")
    secret_update(scope=bob, environment="dev", path="/", key="OLD", item=SecretInput(key="OLD"), new_key="NEW")

    assert keys_in(bob) == ["NEW", "TAKEN"]
    assert value_of(bob, "NEW") == "value"
    assert value_of(bob, "TAKEN") == "other"


@pytest.mark.django_db
def test_it_deletes_a_secret_and_frees_its_key(cast) -> None:
    bob = cast.scope(cast.bob)
    put(bob, "DB_PASS", "old")

    secret_delete(scope=bob, environment="dev", path="/", key="DB_PASS")

    assert keys_in(bob) == []
    with pytest.raises(NotFound):
        value_of(bob, "DB_PASS")
    with pytest.raises(NotFound):
        secret_delete(scope=bob, environment="dev", path="/", key="DB_PASS")
    put(bob, "DB_PASS", "new")
    assert value_of(bob, "DB_PASS") == "new"


@pytest.mark.django_db
def test_it_answers_not_found_for_a_missing_secret_folder_or_environment(cast) -> None:
    alice = cast.scope(cast.alice)

    with pytest.raises(NotFound):
        value_of(alice, "NOPE")
    with pytest.raises(NotFound):
        value_of(alice, "NOPE", path="/no/such/folder")
    with pytest.raises(NotFound):
        value_of(alice, "NOPE", env="qa")
    with pytest.raises(NotFound):
        secret_update(scope=alice, environment="dev", path="/", key="NOPE", item=SecretInput(key="NOPE", value="x"))


# --- personal overrides ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_gives_bob_his_personal_override_and_everyone_else_the_shared_value(cast) -> None:
    alice, bob = cast.scope(cast.alice), cast.scope(cast.bob)
    put(alice, "DB_URL", "postgres://shared")
    put(bob, "DB_URL", "postgres://bob-laptop", secret_type="personal")

    assert value_of(bob, "DB_URL") == "postgres://bob-laptop"
    assert value_of(alice, "DB_URL") == "postgres://shared"
    assert value_of(cast.scope(cast.erin), "DB_URL") == "postgres://shared"
    bob_listing = secret_list(bob, environment="dev", path="/", include_values=True).secrets
    assert [(v.key, v.value, v.is_personal_override) for v in bob_listing] == [
        ("DB_URL", "postgres://bob-laptop", True)
    ]
    alice_listing = secret_list(alice, environment="dev", path="/", include_values=True).secrets
    assert [(v.key, v.value, v.is_personal_override) for v in alice_listing] == [("DB_URL", "postgres://shared", False)]
    assert keys_in(cast.scope(cast.dave)) == ["DB_URL"]


@pytest.mark.django_db
def test_it_lets_bob_change_and_drop_his_override_without_touching_the_shared_secret(cast) -> None:
    alice, bob = cast.scope(cast.alice), cast.scope(cast.bob)
    put(alice, "DB_URL", "shared")
    put(bob, "DB_URL", "mine", secret_type="personal")

    secret_update(
        scope=bob,
        environment="dev",
        path="/",
        key="DB_URL",
        item=SecretInput(key="DB_URL", value="mine-2"),
        secret_type="personal",
    )
    assert value_of(bob, "DB_URL") == "mine-2"
    assert value_of(alice, "DB_URL") == "shared"

    secret_delete(scope=bob, environment="dev", path="/", key="DB_URL", secret_type="personal")
    assert value_of(bob, "DB_URL") == "shared"
    assert Secret.objects.get(key="DB_URL", deleted_at__isnull=True).version == 1


@pytest.mark.django_db
def test_it_keeps_each_persons_override_to_themselves(cast) -> None:
    alice, bob = cast.scope(cast.alice), cast.scope(cast.bob)
    put(alice, "TOKEN", "shared")
    put(alice, "TOKEN", "alice-own", secret_type="personal")
    put(bob, "TOKEN", "bob-own", secret_type="personal")

    assert value_of(alice, "TOKEN") == "alice-own"
    assert value_of(bob, "TOKEN") == "bob-own"
    with pytest.raises(Conflict):
        put(bob, "TOKEN", "bob-again", secret_type="personal")


@pytest.mark.django_db
def test_it_refuses_an_override_to_someone_without_write_access(cast) -> None:
    put(cast.scope(cast.alice), "DB_URL", "shared")

    with pytest.raises(PermissionDenied):
        put(cast.scope(cast.dave), "DB_URL", "dave-own", secret_type="personal")
    with pytest.raises(ValidationFailed):
        put(cast.scope(cast.bob), "DB_URL", "x", secret_type="private")


# --- isolation ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_hides_acme_from_mallory_as_if_it_did_not_exist(cast) -> None:
    mallory = Principal.for_user(cast.mallory)

    with pytest.raises(NotFound) as by_slug:
        project_scope(mallory, "acme")
    with pytest.raises(NotFound) as by_id:
        project_scope(mallory, str(cast.project.public_id))
    with pytest.raises(NotFound) as missing:
        project_scope(mallory, "no-such-project")

    assert str(by_slug.value) == str(by_id.value) == str(missing.value)
    assert list(project_list_for_principal(mallory)) == [cast.other_project]
    assert project_scope(mallory, "evil").project == cast.other_project


@pytest.mark.django_db
def test_it_keeps_charlie_out_of_a_project_he_is_not_a_member_of(cast) -> None:
    put(cast.scope(cast.alice), "DB_PASS", "hunter2")
    charlie = cast.scope(cast.charlie)

    with pytest.raises(NotFound):
        project_scope(Principal.for_user(cast.charlie), "acme")
    with pytest.raises(NotFound):
        secret_list(charlie, environment="dev", path="/")
    with pytest.raises(NotFound):
        value_of(charlie, "DB_PASS")
    with pytest.raises(NotFound):
        put(charlie, "NEW", "x")
    assert AuditEvent.objects.filter(action="permission.denied", actor_label=cast.charlie.email).count() == 3


@pytest.mark.django_db
def test_it_finds_projects_by_slug_or_public_id_for_members(cast) -> None:
    bob = Principal.for_user(cast.bob)

    assert project_scope(bob, "acme").project == cast.project
    assert project_scope(bob, str(cast.project.public_id)).access.role == "member"
    with pytest.raises(NotFound):
        project_scope(bob, "evil")


@pytest.mark.django_db
def test_it_lets_mallorys_own_secrets_stay_in_her_project(cast) -> None:
    mallory = project_scope(Principal.for_user(cast.mallory), "evil")
    put(mallory, "EVIL", "mallory-value")
    put(cast.scope(cast.alice), "DB_PASS", "acme-value")

    assert keys_in(mallory) == ["EVIL"]
    assert keys_in(cast.scope(cast.alice)) == ["DB_PASS"]


# --- bulk writes --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_upserts_in_bulk_and_reports_what_changed(cast) -> None:
    bob = cast.scope(cast.bob)
    put(bob, "KEEP", "same")
    put(bob, "CHANGE", "old")

    result = secret_bulk_upsert(
        scope=bob,
        environment="dev",
        path="/",
        items=[
            SecretInput(key="KEEP", value="same"),
            SecretInput(key="CHANGE", value="new"),
            SecretInput(key="ADD", value="added"),
        ],
    )

    assert (result.created, result.updated, result.unchanged) == (["ADD"], ["CHANGE"], ["KEEP"])
    values = {
        view.key: view.value for view in secret_list(bob, environment="dev", path="/", include_values=True).secrets
    }
    assert values == {"ADD": "added", "CHANGE": "new", "KEEP": "same"}


@pytest.mark.django_db
def test_it_changes_nothing_when_one_bulk_item_is_bad(cast) -> None:
    bob = cast.scope(cast.bob)
    put(bob, "EXISTING", "old")

    for items in (
        [SecretInput(key="EXISTING", value="new"), SecretInput(key="BIG", value="x" * (1024 * 1024 + 1))],
        [SecretInput(key="EXISTING", value="new"), SecretInput(key="A", value="1"), SecretInput(key="A", value="2")],
        [SecretInput(key="EXISTING", value="new"), SecretInput(key="NOTE", value="v", comment="\ud800")],
        [SecretInput(key="EXISTING", value="new"), SecretInput(key="TAGGED", value="v", tags=["no-such-tag"])],
    ):
        with pytest.raises(ValidationFailed):
            secret_bulk_upsert(scope=bob, environment="dev", path="/", items=items)

    assert keys_in(bob) == ["EXISTING"]
    assert value_of(bob, "EXISTING") == "old"


@pytest.mark.django_db
def test_it_refuses_a_whole_bulk_write_when_one_key_is_not_allowed(cast) -> None:
    alice = cast.scope(cast.alice)
    put(alice, "PROD_KEY", "old", env="prod")

    with pytest.raises(PermissionDenied):
        secret_bulk_upsert(
            scope=cast.scope(cast.dave), environment="prod", path="/", items=[SecretInput(key="PROD_KEY", value="x")]
        )
    with pytest.raises(NotFound):
        secret_bulk_upsert(
            scope=cast.scope(cast.erin), environment="prod", path="/", items=[SecretInput(key="NEW", value="x")]
        )

    assert keys_in(alice, env="prod") == ["PROD_KEY"]
    assert value_of(alice, "PROD_KEY", env="prod") == "old"
