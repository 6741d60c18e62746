"""``SyncProvider.plan`` is pure: these run without a database, a network or a clock."""

from __future__ import annotations

from syncs.providers.azure_devops.provider import AzureDevOpsProvider
from syncs.providers.base import (
    ActionKind,
    DesiredItem,
    ManagedState,
    PlanOptions,
    RemoteItem,
    SyncProvider,
    map_name,
    unmap_name,
    validate_template,
)


class DashProvider(SyncProvider):
    """Key Vault-like naming: ``_`` becomes ``-``, removed keys are disabled."""

    kind = "dash"

    def normalize_name(self, name: str) -> str:
        return name.replace("_", "-")

    def removal_action(self, options: PlanOptions) -> str:
        return ActionKind.DISABLE


def want(**values: str) -> dict[str, DesiredItem]:
    return {key: DesiredItem(key=key, value=value, digest=f"d:{key}:{value}") for key, value in values.items()}


def ours(**digests: str) -> dict[str, ManagedState]:
    return {name: ManagedState(name=name, digest=digest, source_key=name) for name, digest in digests.items()}


def kinds(plan) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(action.kind, action.name) for action in plan.actions]


ADO = AzureDevOpsProvider()


def test_it_creates_what_is_missing_and_leaves_the_rest_alone() -> None:
    remote = {"FOREIGN": RemoteItem("FOREIGN")}
    plan = ADO.plan(want(A="1", B="2"), remote, {}, PlanOptions())
    assert kinds(plan) == [("create", "A"), ("create", "B")]
    assert not plan.errors


def test_it_updates_only_when_the_digest_changed() -> None:
    remote = {"A": RemoteItem("A"), "B": RemoteItem("B")}
    plan = ADO.plan(want(A="1", B="2-new"), remote, ours(A="d:A:1", B="d:B:2"), PlanOptions())
    assert kinds(plan) == [("update", "B")]
    assert plan.unchanged == ["A"]


def test_force_rewrites_every_managed_value() -> None:
    remote = {"A": RemoteItem("A")}
    plan = ADO.plan(want(A="1"), remote, ours(A="d:A:1"), PlanOptions(force=True))
    assert kinds(plan) == [("update", "A")]


def test_a_managed_key_deleted_at_the_destination_is_created_again() -> None:
    plan = ADO.plan(want(A="1"), {}, ours(A="d:A:1"), PlanOptions())
    assert kinds(plan) == [("create", "A")]


def test_removed_source_keys_are_deleted_only_if_managed() -> None:
    remote = {"GONE": RemoteItem("GONE"), "FOREIGN": RemoteItem("FOREIGN")}
    plan = ADO.plan({}, remote, ours(GONE="x"), PlanOptions())
    assert kinds(plan) == [("delete", "GONE")]
    assert kinds(ADO.plan({}, remote, ours(GONE="x"), PlanOptions(delete_removed=False))) == []


def test_the_removal_action_is_the_providers() -> None:
    plan = DashProvider().plan({}, {"GONE": RemoteItem("GONE")}, ours(GONE="x"), PlanOptions())
    assert kinds(plan) == [("disable", "GONE")]


def test_a_clash_with_an_unmanaged_item_is_taken_over_only_with_overwrite() -> None:
    remote = {"A": RemoteItem("A")}
    taken = ADO.plan(want(A="1"), remote, {}, PlanOptions(initial_behavior="overwrite_destination"))
    assert kinds(taken) == [("take_over", "A")]
    skipped = ADO.plan(
        want(A="1"), remote, {}, PlanOptions(first_run=True, initial_behavior="import_prefer_destination")
    )
    assert kinds(skipped) == [] and skipped.errors[0].code == "unreadable_remote"
    later = ADO.plan(want(A="1"), remote, {}, PlanOptions(initial_behavior="import_destination", first_run=False))
    assert kinds(later) == [] and later.errors[0].code == "unmanaged_conflict" and not later.blocked


def test_import_prefer_destination_imports_readable_values_on_the_first_run() -> None:
    remote = {
        "A": RemoteItem("A", value="remote", is_secret=False),
        "NEW": RemoteItem("NEW", value="n", is_secret=False),
    }
    plan = ADO.plan(
        want(A="local"), remote, {}, PlanOptions(first_run=True, initial_behavior="import_prefer_destination")
    )
    assert kinds(plan) == [("import", "A"), ("import", "NEW")]
    assert {a.name: a.value for a in plan.actions} == {"A": "remote", "NEW": "n"}


def test_import_destination_keeps_strongroom_values_on_a_clash() -> None:
    remote = {
        "A": RemoteItem("A", value="remote", is_secret=False),
        "NEW": RemoteItem("NEW", value="n", is_secret=False),
    }
    plan = ADO.plan(want(A="local"), remote, {}, PlanOptions(first_run=True, initial_behavior="import_destination"))
    assert kinds(plan) == [("take_over", "A"), ("import", "NEW")]


def test_imports_only_take_names_that_fit_the_template() -> None:
    remote = {
        "APP_X": RemoteItem("APP_X", value="x", is_secret=False),
        "OTHER": RemoteItem("OTHER", value="o", is_secret=False),
    }
    plan = ADO.plan(
        {},
        remote,
        {},
        PlanOptions(first_run=True, initial_behavior="import_destination", key_name_template="APP_{{secretKey}}"),
    )
    assert [(a.kind, a.name, a.key) for a in plan.actions] == [("import", "APP_X", "X")]


def test_names_that_collide_after_normalisation_block_the_whole_plan() -> None:
    plan = DashProvider().plan(want(A_B="1", **{"A-B": "2"}, C="3"), {}, {}, PlanOptions())
    assert plan.blocked and plan.errors[0].code == "name_collision"
    assert plan.actions == []


def test_azure_devops_names_collide_case_insensitively_and_reject_bad_characters() -> None:
    assert ADO.plan(want(db="1", DB="2"), {}, {}, PlanOptions()).errors[0].code == "name_collision"
    bad = ADO.plan(want(**{"WITH SPACE": "1"}), {}, {}, PlanOptions())
    assert bad.blocked and bad.errors[0].code == "invalid_name"


def test_a_plain_managed_variable_is_rewritten_as_a_secret() -> None:
    remote = {"A": RemoteItem("A", value="1", is_secret=False)}
    plan = ADO.plan(want(A="1"), remote, ours(A="d:A:1"), PlanOptions())
    assert kinds(plan) == [("update", "A")]


def test_soft_deleted_items_are_recovered() -> None:
    plan = DashProvider().plan(want(A="1"), {"A": RemoteItem("A", deleted=True)}, ours(A="old"), PlanOptions())
    assert kinds(plan) == [("recover", "A")]


def test_plan_is_deterministic() -> None:
    args = (want(Z="1", A="2", M="3"), {"M": RemoteItem("M")}, ours(M="x", GONE="y"), PlanOptions())
    assert kinds(ADO.plan(*args)) == kinds(ADO.plan(*args)) == [("create", "A"), ("update", "M"), ("create", "Z")]


def test_name_templates() -> None:
    assert map_name("DB", "APP_{{secretKey}}") == "APP_DB"
    assert map_name("DB", "{{environment}}_{{ secretKey }}", environment="prod") == "prod_DB"
    assert unmap_name("APP_DB", "APP_{{secretKey}}") == "DB"
    assert unmap_name("DB", "APP_{{secretKey}}") is None
    assert validate_template("{{secretKey}}") is None
    assert validate_template("STATIC") is not None
    assert validate_template("{{secretKey}}_{{secretKey}}") is not None
    assert validate_template("{{secretKey}}{{unknown}}") is not None


def test_ado_drift_sees_missing_unmanaged_plain_and_foreign_edits() -> None:
    state = {"modified_on": "t1", "modified_by": "us"}
    remote = {
        "A": RemoteItem("A", version="t2", modified_by="someone"),
        "B": RemoteItem("B", value="visible", is_secret=False, version="t2", modified_by="someone"),
        "X": RemoteItem("X", version="t2", modified_by="someone"),
    }
    items = {(i.kind, i.name) for i in ADO.drift(remote, ours(A="a", B="b", C="c"), {"A", "B", "C"}, state)}
    assert items == {("possibly_changed", "A"), ("changed", "B"), ("missing", "C"), ("unmanaged", "X")}
    # Our own last write moved modifiedOn: no "possibly changed".
    same = {k: RemoteItem(k, version="t1", modified_by="us") for k in ("A",)}
    assert ADO.drift(same, ours(A="a"), {"A"}, state) == []
