"""The permission engine: deny beats allow, segment paths, environments, tags, values vs names."""

from __future__ import annotations

from itertools import permutations

import pytest

from audit.models import AuditEvent
from secrets_app.errors import NotFound, PermissionDenied, ValidationFailed
from secrets_app.models import Folder
from secrets_app.paths import canonical_path
from secrets_app.policy import BUILTIN_RULES, ProjectAccess, Rule
from secrets_app.selectors.secrets import secret_get, secret_list
from secrets_app.services.folders import folder_delete, folder_ensure, folder_rename, tag_create
from secrets_app.services.members import member_add, role_create, role_update
from secrets_app.services.secrets import SecretInput, secret_bulk_upsert, secret_delete, secret_update
from tests.secrets_app.conftest import put, run_in_threads, value_of


def access(*rules: Rule, role: str = "custom") -> ProjectAccess:
    return ProjectAccess(project_id=1, role=role, rules=tuple(rules))


ALLOW_APP = Rule("allow", "secrets.*", frozenset({"prod"}), "/app/**")
DENY_DB_VALUES = Rule("deny", "secrets.read_value", frozenset({"prod"}), "/app/db/**")


@pytest.mark.parametrize("rules", list(permutations([ALLOW_APP, DENY_DB_VALUES, Rule("allow", "*")])))
def test_it_lets_deny_beat_allow_whatever_the_rule_order(rules) -> None:
    engine = access(*rules)

    assert not engine.can("secrets.read_value", environment="prod", path="/app/db")
    assert not engine.can("secrets.read_value", environment="prod", path="/app/db/replica")
    assert engine.can("secrets.read", environment="prod", path="/app/db")
    assert engine.can("secrets.read_value", environment="prod", path="/app")
    assert engine.can("secrets.read_value", environment="prod", path="/app/dbx")


# (grant glob, raw path asked for, allowed?) — the raw path goes through the canonicaliser first.
SEGMENT_TABLE = [
    ("/app/**", "/app", True),
    ("/app/**", "/app/", True),
    ("/app/**", "app", True),
    ("/app/**", "/app/db", True),
    ("/app/**", "/app/db/replica", True),
    ("/app/**", "/app-other", False),
    ("/app/**", "/application", False),
    ("/app/**", "/ap", False),
    ("/app/**", "/APP", False),
    ("/app/**", "/", False),
    ("/app/**", "/other/app", False),
    ("/app", "/app", True),
    ("/app", "/app/", True),
    ("/app", "/app/db", False),
    ("/app", "/app-other", False),
    ("/app/*", "/app", False),
    ("/app/*", "/app/db", True),
    ("/app/*", "/app/db/replica", False),
    ("/app-*", "/app-other", True),
    ("/app-*", "/app", False),
    ("/**", "/", True),
    ("/**", "/anything/below", True),
    ("/", "/", True),
    ("/", "/app", False),
]


@pytest.mark.parametrize(("glob", "raw_path", "allowed"), SEGMENT_TABLE)
def test_it_matches_grants_on_whole_path_segments(glob, raw_path, allowed) -> None:
    engine = access(Rule("allow", "secrets.read_value", frozenset(), glob))

    assert engine.can("secrets.read_value", environment="dev", path=canonical_path(raw_path)) is allowed


@pytest.mark.parametrize(
    "raw_path", ["/app/../prod", "/app/./db", "/app//db", "/%2e%2e/app", "/app\\db", "／app", "/app/*"]
)
def test_it_refuses_paths_that_could_dodge_a_segment_check(raw_path) -> None:
    with pytest.raises(ValidationFailed):
        canonical_path(raw_path)


def test_it_limits_a_rule_to_its_environments() -> None:
    engine = access(Rule("allow", "secrets.*", frozenset({"dev", "staging"})))

    assert engine.can("secrets.read_value", environment="dev", path="/")
    assert engine.can("secrets.create", environment="staging", path="/deep/path")
    assert not engine.can("secrets.read", environment="prod", path="/")


def test_it_applies_tag_rules_only_to_secrets_carrying_the_tag() -> None:
    engine = access(
        Rule("allow", "secrets.read", frozenset({"prod"})),
        Rule("allow", "secrets.read_value", frozenset({"prod"}), "/**", frozenset({"db"})),
        Rule("deny", "secrets.read_value", frozenset(), "/**", frozenset({"break-glass"})),
    )

    assert engine.can("secrets.read_value", environment="prod", path="/", tags=["db"])
    assert engine.can("secrets.read_value", environment="prod", path="/", tags=["db", "other"])
    assert not engine.can("secrets.read_value", environment="prod", path="/", tags=["web"])
    assert not engine.can("secrets.read_value", environment="prod", path="/", tags=[])
    assert not engine.can("secrets.read_value", environment="prod", path="/", tags=["db", "break-glass"])
    assert engine.can("secrets.read", environment="prod", path="/", tags=["break-glass"])


def test_it_opens_a_folder_to_a_tag_limited_role_but_not_past_a_tag_free_deny() -> None:
    tagged = access(Rule("allow", "secrets.read", frozenset({"prod"}), "/**", frozenset({"db"})))
    tagged_but_denied = access(*tagged.rules, Rule("deny", "secrets.read", frozenset({"prod"}), "/app/**"))

    assert tagged.can_for_some_tags("secrets.read", environment="prod", path="/app")
    assert not tagged.can_for_some_tags("secrets.read", environment="dev", path="/app")
    assert not tagged.can("secrets.read", environment="prod", path="/app")
    assert not tagged_but_denied.can_for_some_tags("secrets.read", environment="prod", path="/app")
    assert tagged_but_denied.can_for_some_tags("secrets.read", environment="prod", path="/")


def test_it_keeps_reading_values_separate_from_listing_names() -> None:
    viewer = access(*BUILTIN_RULES["viewer"], role="viewer")
    member = access(*BUILTIN_RULES["member"], role="member")

    assert viewer.can("secrets.read", environment="prod", path="/app")
    assert not viewer.can("secrets.read_value", environment="prod", path="/app")
    assert member.can("secrets.read_value", environment="prod", path="/app")
    assert not access(Rule("allow", "secrets.read")).can("secrets.read_value", environment="dev", path="/")


def test_it_grants_project_wide_actions_only_through_unrestricted_rules() -> None:
    dev_admin = access(Rule("allow", "*", frozenset({"dev"})))
    app_admin = access(Rule("allow", "*", frozenset(), "/app/**"))
    tagged_admin = access(Rule("allow", "*", frozenset(), "/**", frozenset({"db"})))
    admin_but_not_prod = access(Rule("allow", "*"), Rule("deny", "*", frozenset({"prod"})))

    for engine in (dev_admin, app_admin, tagged_admin):
        assert not engine.can("members.manage")
        assert not engine.can("roles.manage")
        assert not engine.can("project.delete")
    assert dev_admin.can("secrets.read_value", environment="dev", path="/")
    assert admin_but_not_prod.can("members.manage")
    assert not admin_but_not_prod.can("secrets.read", environment="prod", path="/")


def test_it_allows_nothing_without_rules() -> None:
    engine = access(*BUILTIN_RULES["no-access"], role="no-access")

    assert not engine.can("secrets.read", environment="dev", path="/")
    assert not engine.can("members.read")


# --- through roles stored in the database -----------------------------------------------------------


@pytest.fixture
def app_team(cast):
    """charlie joins acme with a role: everything under prod:/app except values under /app/db."""
    alice = cast.scope(cast.alice)
    for path in ("/app/db", "/app-other", "/application"):
        folder_ensure(scope=alice, environment="prod", path=path)
    put(alice, "APP_KEY", "app-value", env="prod", path="/app")
    put(alice, "DB_PASS", "db-value", env="prod", path="/app/db")
    put(alice, "OTHER_KEY", "other-value", env="prod", path="/app-other")
    put(alice, "APPLICATION_KEY", "application-value", env="prod", path="/application")
    role_create(
        scope=alice,
        slug="app-team",
        name="App team",
        rules=[
            {"effect": "deny", "action": "secrets.read_value", "environments": ["prod"], "path": "/app/db/**"},
            {"effect": "allow", "action": "secrets.*", "environments": ["prod"], "path": "/app/**"},
        ],
    )
    member_add(scope=alice, email=cast.charlie.email, role="app-team")
    return cast.scope(cast.charlie)


@pytest.mark.django_db
def test_it_applies_a_stored_deny_under_a_stored_allow(cast, app_team) -> None:
    assert value_of(app_team, "APP_KEY", env="prod", path="/app") == "app-value"
    listing = secret_list(app_team, environment="prod", path="/app/db")
    assert [view.key for view in listing.secrets] == ["DB_PASS"]

    with pytest.raises(PermissionDenied):
        value_of(app_team, "DB_PASS", env="prod", path="/app/db")
    with pytest.raises(PermissionDenied):
        secret_list(app_team, environment="prod", path="/app/db", include_values=True)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/app-other", "/application", "/"])
def test_it_never_lets_an_app_grant_reach_a_sibling_prefix(cast, app_team, path) -> None:
    with pytest.raises(PermissionDenied):
        secret_list(app_team, environment="prod", path=path)
    with pytest.raises(PermissionDenied):
        put(app_team, "SNEAKY", "x", env="prod", path=path)


@pytest.mark.django_db
def test_it_lists_recursively_only_what_the_grant_reaches(cast, app_team) -> None:
    with pytest.raises(PermissionDenied):
        secret_list(app_team, environment="prod", path="/", recursive=True)

    listing = secret_list(app_team, environment="prod", path="/app", recursive=True)
    assert sorted((view.path, view.key) for view in listing.secrets) == [("/app", "APP_KEY"), ("/app/db", "DB_PASS")]


@pytest.mark.django_db
def test_it_refuses_a_traversal_path_before_any_permission_check(cast, app_team) -> None:
    with pytest.raises(ValidationFailed) as refused:
        secret_list(app_team, environment="prod", path="/app/../app-other")

    assert "path" in refused.value.fields


@pytest.mark.django_db
def test_it_refuses_a_stored_rule_whose_path_could_escape(cast) -> None:
    for glob in ("/app/../prod", "/app/./x", "/app/[a-z]", "/app\n/db", "app/**"):
        with pytest.raises(ValidationFailed) as refused:
            role_create(
                scope=cast.scope(cast.alice),
                slug="escape",
                name="Escape",
                rules=[{"effect": "allow", "action": "secrets.*", "path": glob}],
            )
        assert "rules[0].path" in refused.value.fields


@pytest.mark.django_db
def test_it_keeps_the_dev_only_role_out_of_prod(cast) -> None:
    alice = cast.scope(cast.alice)
    put(alice, "DB_PASS", "dev-pass", env="dev")
    put(alice, "DB_PASS", "prod-pass", env="prod")
    erin = cast.scope(cast.erin)

    assert value_of(erin, "DB_PASS", env="dev") == "dev-pass"
    # prod is hidden from a dev-only role: it answers like an environment that does not exist.
    with pytest.raises(NotFound):
        value_of(erin, "DB_PASS", env="prod")
    with pytest.raises(NotFound):
        secret_list(erin, environment="prod", path="/")
    with pytest.raises(NotFound):
        put(erin, "NEW", "x", env="prod")
    assert (
        AuditEvent.objects.filter(action="permission.denied", actor_id=str(cast.erin.pk), environment="prod").count()
        == 3
    )
    assert value_of(alice, "DB_PASS", env="prod") == "prod-pass"


@pytest.mark.django_db
def test_it_lets_a_tag_scoped_role_read_only_the_tagged_secrets(cast) -> None:
    alice = cast.scope(cast.alice)
    tag_create(scope=alice, slug="db")
    put(alice, "DB_PASS", "db-secret", env="prod", tags=["db"])
    put(alice, "STRIPE_KEY", "stripe-secret", env="prod")
    role_create(
        scope=alice,
        slug="dba",
        name="DBA",
        rules=[
            {"effect": "allow", "action": "secrets.read_value", "environments": ["prod"], "tags": ["db"]},
            {"effect": "allow", "action": "secrets.read", "environments": ["prod"], "tags": ["db"]},
        ],
    )
    member_add(scope=alice, email=cast.charlie.email, role="dba")
    dba = cast.scope(cast.charlie)

    listing = secret_list(dba, environment="prod", path="/", include_values=True)
    assert [(view.key, view.value) for view in listing.secrets] == [("DB_PASS", "db-secret")]
    assert value_of(dba, "DB_PASS", env="prod") == "db-secret"
    with pytest.raises((NotFound, PermissionDenied)):
        value_of(dba, "STRIPE_KEY", env="prod")
    for view in listing.secrets:
        assert view.value != "stripe-secret"


@pytest.mark.django_db
def test_it_hides_values_of_secrets_under_a_tag_deny(cast) -> None:
    alice = cast.scope(cast.alice)
    tag_create(scope=alice, slug="break-glass")
    put(alice, "ROOT_PASS", "root-secret", env="prod", tags=["break-glass"])
    put(alice, "API_KEY", "api-secret", env="prod")
    role_create(
        scope=alice,
        slug="ops",
        name="Ops",
        rules=[
            {"effect": "allow", "action": "secrets.*"},
            {"effect": "deny", "action": "secrets.read_value", "tags": ["break-glass"]},
        ],
    )
    member_add(scope=alice, email=cast.charlie.email, role="ops")
    ops = cast.scope(cast.charlie)

    listing = secret_list(ops, environment="prod", path="/", include_values=True)
    assert {view.key: view.value for view in listing.secrets} == {"API_KEY": "api-secret", "ROOT_PASS": None}
    with pytest.raises(PermissionDenied):
        value_of(ops, "ROOT_PASS", env="prod")


@pytest.mark.django_db
def test_it_lets_a_viewer_list_names_but_never_values(cast) -> None:
    put(cast.scope(cast.alice), "DB_PASS", "hunter2")
    dave = cast.scope(cast.dave)

    listing = secret_list(dave, environment="dev", path="/")
    assert [(view.key, view.value) for view in listing.secrets] == [("DB_PASS", None)]
    with pytest.raises(PermissionDenied):
        secret_list(dave, environment="dev", path="/", include_values=True)
    with pytest.raises(PermissionDenied):
        value_of(dave, "DB_PASS")
    view = secret_get(dave, environment="dev", path="/", key="DB_PASS", include_value=False)
    assert view.value is None


@pytest.mark.django_db(transaction=True)
def test_it_records_a_refusal_that_survives_the_refused_action(cast) -> None:
    put(cast.scope(cast.alice), "DB_PASS", "hunter2")

    with pytest.raises(PermissionDenied):
        secret_list(cast.scope(cast.dave), environment="dev", path="/", include_values=True)

    # Read back on another connection: the refusal is committed, not pending in this one.
    [(_, seen_elsewhere, error)] = run_in_threads(
        1, lambda _: AuditEvent.objects.filter(action="permission.denied", actor_label=cast.dave.email).count()
    )
    assert (seen_elsewhere, error) == (1, None)
    denial = AuditEvent.objects.get(action="permission.denied", actor_label=cast.dave.email)
    assert denial.outcome == "deny"
    assert denial.metadata == {"requested_action": "secrets.read_value"}
    assert (denial.environment, denial.path, denial.actor_role) == ("dev", "/", "viewer")
    assert "hunter2" not in str(denial.metadata)


@pytest.fixture
def folder_team(cast, app_team):
    """charlie, now also allowed folders.* under prod:/app, still denied values under /app/db."""
    alice = cast.scope(cast.alice)
    role_update(
        scope=alice,
        slug="app-team",
        rules=[
            {"effect": "deny", "action": "secrets.read_value", "environments": ["prod"], "path": "/app/db/**"},
            {"effect": "allow", "action": "secrets.*", "environments": ["prod"], "path": "/app/**"},
            {"effect": "allow", "action": "folders.*", "environments": ["prod"], "path": "/app/**"},
        ],
    )
    return cast.scope(cast.charlie)


@pytest.mark.django_db
def test_it_refuses_a_folder_rename_that_would_carry_secrets_out_from_under_a_deny(cast, folder_team) -> None:
    with pytest.raises(PermissionDenied):
        folder_rename(scope=folder_team, environment="prod", path="/app/db", name="dbx")
    with pytest.raises(PermissionDenied):
        folder_rename(scope=folder_team, environment="prod", path="/app", name="app2")

    with pytest.raises(PermissionDenied):
        value_of(folder_team, "DB_PASS", env="prod", path="/app/db")
    assert value_of(cast.scope(cast.alice), "DB_PASS", env="prod", path="/app/db") == "db-value"


@pytest.mark.django_db
def test_it_allows_a_folder_rename_that_changes_nothing_the_caller_may_do(cast, folder_team) -> None:
    folder_ensure(scope=cast.scope(cast.alice), environment="prod", path="/app/web")

    folder_rename(scope=folder_team, environment="prod", path="/app/web", name="frontend")

    assert Folder.objects.filter(environment__slug="prod", path="/app/frontend").exists()


@pytest.mark.django_db
def test_it_refuses_removing_the_tag_that_hides_a_value(cast) -> None:
    alice = cast.scope(cast.alice)
    tag_create(scope=alice, slug="break-glass")
    put(alice, "ROOT_PASS", "root-secret", env="prod", tags=["break-glass"])
    role_create(
        scope=alice,
        slug="ops",
        name="Ops",
        rules=[
            {"effect": "allow", "action": "secrets.*"},
            {"effect": "deny", "action": "secrets.read_value", "tags": ["break-glass"]},
        ],
    )
    member_add(scope=alice, email=cast.charlie.email, role="ops")
    ops = cast.scope(cast.charlie)

    with pytest.raises(PermissionDenied):
        secret_update(
            scope=ops, environment="prod", path="/", key="ROOT_PASS", item=SecretInput(key="ROOT_PASS", tags=[])
        )

    with pytest.raises(PermissionDenied):
        secret_bulk_upsert(scope=ops, environment="prod", path="/", items=[SecretInput(key="ROOT_PASS", tags=[])])

    with pytest.raises(PermissionDenied):
        value_of(ops, "ROOT_PASS", env="prod")
    assert secret_get(alice, environment="prod", path="/", key="ROOT_PASS").tags == ["break-glass"]
    secret_update(
        scope=ops, environment="prod", path="/", key="ROOT_PASS", item=SecretInput(key="ROOT_PASS", value="rotated")
    )
    assert value_of(alice, "ROOT_PASS", env="prod") == "rotated"


@pytest.mark.django_db
def test_it_lets_a_tag_scoped_writer_create_tagged_secrets_one_by_one_or_in_bulk(cast) -> None:
    alice = cast.scope(cast.alice)
    tag_create(scope=alice, slug="db")
    role_create(
        scope=alice,
        slug="db-writer",
        name="DB writer",
        rules=[{"effect": "allow", "action": "secrets.*", "environments": ["dev"], "tags": ["db"]}],
    )
    member_add(scope=alice, email=cast.charlie.email, role="db-writer")
    writer = cast.scope(cast.charlie)

    put(writer, "ONE", "1", tags=["db"])
    secret_bulk_upsert(
        scope=writer, environment="dev", path="/", items=[SecretInput(key="TWO", value="2", tags=["db"])]
    )
    with pytest.raises(PermissionDenied):
        put(writer, "UNTAGGED", "x")
    with pytest.raises(PermissionDenied):
        secret_bulk_upsert(scope=writer, environment="dev", path="/", items=[SecretInput(key="UNTAGGED", value="x")])

    assert {
        view.key: view.value for view in secret_list(alice, environment="dev", path="/", include_values=True).secrets
    } == {
        "ONE": "1",
        "TWO": "2",
    }


@pytest.mark.django_db
def test_it_keeps_a_tag_deny_on_delete_when_the_whole_folder_goes(cast) -> None:
    alice = cast.scope(cast.alice)
    tag_create(scope=alice, slug="keep")
    folder_ensure(scope=alice, environment="dev", path="/app")
    put(alice, "KEPT", "v", path="/app", tags=["keep"])
    role_create(
        scope=alice,
        slug="no-delete-kept",
        name="No delete of kept",
        rules=[{"effect": "allow", "action": "*"}, {"effect": "deny", "action": "secrets.delete", "tags": ["keep"]}],
    )
    member_add(scope=alice, email=cast.charlie.email, role="no-delete-kept")
    charlie = cast.scope(cast.charlie)

    with pytest.raises(PermissionDenied):
        secret_delete(scope=charlie, environment="dev", path="/app", key="KEPT")
    with pytest.raises(PermissionDenied):
        folder_delete(scope=charlie, environment="dev", path="/app")

    assert value_of(alice, "KEPT", path="/app") == "v"


@pytest.mark.django_db
def test_it_never_lends_a_persons_memberships_to_a_machine_identity_with_the_same_id(cast) -> None:
    from secrets_app.principals import Principal, PrincipalKey, PrincipalKind
    from secrets_app.selectors.access import project_list_for_principal, project_scope

    machine = Principal(key=PrincipalKey(PrincipalKind.IDENTITY, cast.bob.pk), label="ci-runner")

    assert list(project_list_for_principal(machine)) == []
    with pytest.raises(NotFound):
        project_scope(machine, "acme")
    assert cast.scope(cast.bob).access.can("secrets.read", environment="dev", path="/")
