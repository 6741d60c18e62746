"""The Key Vault provider's pure parts: name mapping, collisions, removals, drift."""

from __future__ import annotations

from syncs.providers.azure_key_vault.provider import AzureKeyVaultProvider
from syncs.providers.base import DesiredItem, ManagedState, PlanOptions, RemoteItem

KV = AzureKeyVaultProvider()
OURS = {"managed-by": "strongroom", "strongroom-sync": "1"}


def want(**values: str) -> dict[str, DesiredItem]:
    return {key: DesiredItem(key=key, value=value, digest=f"d:{key}:{value}") for key, value in values.items()}


def kinds(plan) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(action.kind, action.name) for action in plan.actions]


def test_underscores_map_to_dashes() -> None:
    plan = KV.plan(want(DB_PASSWORD="x"), {}, {}, PlanOptions(key_name_template="APP_{{secretKey}}"))
    assert kinds(plan) == [("create", "APP-DB-PASSWORD")]


def test_a_b_and_a_dash_b_collide_and_nothing_is_planned() -> None:
    plan = KV.plan(want(A_B="1", **{"A-B": "2"}, C="3"), {}, {}, PlanOptions())
    assert plan.blocked and plan.actions == []
    assert plan.errors[0].code == "name_collision" and set(plan.errors[0].names) == {"A_B", "A-B"}


def test_names_differing_only_in_case_collide() -> None:
    plan = KV.plan(want(db="1", DB="2"), {}, {}, PlanOptions())
    assert plan.blocked and plan.actions == []


def test_names_the_vault_refuses_block_the_run() -> None:
    plan = KV.plan(want(**{"a.b": "1"}), {}, {}, PlanOptions())
    assert plan.blocked and plan.errors[0].code == "invalid_name"


def test_a_soft_deleted_secret_is_recovered() -> None:
    plan = KV.plan(want(A="1"), {"A": RemoteItem("A", deleted=True)}, {}, PlanOptions())
    assert kinds(plan) == [("recover", "A")]


def test_removed_managed_secrets_are_disabled_by_default_or_deleted_by_option() -> None:
    remote = {"GONE": RemoteItem("GONE", value="v", tags=OURS)}
    managed = {"GONE": ManagedState("GONE", digest="d", source_key="GONE")}
    assert kinds(KV.plan({}, remote, managed, PlanOptions())) == [("disable", "GONE")]
    delete = PlanOptions(provider_options={"removal": "delete"})
    assert kinds(KV.plan({}, remote, managed, delete)) == [("delete", "GONE")]
    already = {"GONE": RemoteItem("GONE", enabled=False, tags=OURS)}
    assert kinds(KV.plan({}, already, managed, PlanOptions())) == []


def test_an_untagged_secret_is_never_removed() -> None:
    remote = {"GONE": RemoteItem("GONE", value="v", tags={})}
    managed = {"GONE": ManagedState("GONE", digest="d", source_key="GONE")}
    plan = KV.plan({}, remote, managed, PlanOptions())
    assert plan.actions == [] and plan.errors[0].code == "untagged_remote" and not plan.blocked


def test_a_managed_secret_that_lost_its_tags_or_was_disabled_is_rewritten() -> None:
    managed = {"A": ManagedState("A", digest="d:A:1", source_key="A")}
    untagged = {"A": RemoteItem("A", value="1", tags={})}
    disabled = {"A": RemoteItem("A", enabled=False, tags=OURS)}
    current = {"A": RemoteItem("A", value="1", tags=OURS)}
    assert kinds(KV.plan(want(A="1"), untagged, managed, PlanOptions())) == [("update", "A")]
    assert kinds(KV.plan(want(A="1"), disabled, managed, PlanOptions())) == [("update", "A")]
    assert KV.plan(want(A="1"), current, managed, PlanOptions()).unchanged == ["A"]


def test_drift_sees_new_versions_missing_and_unmanaged_secrets() -> None:
    remote = {
        "A": RemoteItem("A", value="edited", version="v2", tags=OURS),
        "OTHER": RemoteItem("OTHER", value="x"),
    }
    managed = {
        "A": ManagedState("A", digest="d", version="v1"),
        "B": ManagedState("B", digest="d", version="v1"),
    }
    drift = {(item.name, item.kind, item.adoptable) for item in KV.drift(remote, managed, {"A", "B"})}
    assert drift == {("A", "changed", True), ("B", "missing", False), ("OTHER", "unmanaged", True)}
