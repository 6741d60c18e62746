"""Guided import, service level, against the EstateEmulator (and the Key Vault emulator) over HTTP
and real PostgreSQL: what lands where, what needs a value, what is held, and that no value leaks."""

from __future__ import annotations

from typing import Any

import pytest
import yaml as pyyaml

from estate.models import EstateImport, ImportStatus, ItemSource, ItemStatus
from estate.services.imports import (
    import_apply,
    import_create,
    import_pipeline_yaml,
    import_preview,
    import_suggest,
    import_values_csv,
    import_values_enter,
)
from secrets_app.errors import NotFound, ValidationFailed
from tests.estate.conftest import (
    PIPELINE_SECRET_VALUE,
    PLAIN_SECRET_VALUE,
    PLAIN_SETTING_VALUE,
    SECRET_VALUE,
)
from tests.estate.conftest_imports import (
    ENTERED_VALUE,
    KV_DB_PASSWORD,
    Scanned,
    actions,
    assert_no_value_leaked,
    kv_fixture,  # noqa: F401 - the kv fixture
    make_kv_connection,
    rescan,
    scanned_fixture,  # noqa: F401 - the scanned fixture
    value_of,
    version_of,
)

pytestmark = pytest.mark.django_db(transaction=False)


def _create(scanned: Scanned, name: str, *, kind: str = "variable_group", **place: Any) -> EstateImport:
    defaults: dict[str, Any] = {"project": "acme", "environment": "dev", "path": "/app"}
    defaults.update(place)
    return import_create(
        principal=scanned.alice,
        organization=scanned.cast.organization,
        resource=scanned.resource(name, kind),
        **defaults,
    )


def _items(estate_import: EstateImport) -> dict[str, tuple[str, str, str]]:
    return {i.ado_name: (i.key, i.source, i.status) for i in estate_import.items.all()}


def test_it_imports_a_plain_group_encrypted_and_a_second_apply_writes_nothing(scanned: Scanned) -> None:
    from secrets_app.models import SecretVersion

    estate_import = _create(scanned, "legacy", environment="prod", path="/legacy")
    assert _items(estate_import) == {
        "ADMIN_PASSWORD": ("ADMIN_PASSWORD", ItemSource.PLAIN, ItemStatus.PENDING),
        "REGION": ("REGION", ItemSource.PLAIN, ItemStatus.PENDING),
    }
    preview = import_preview(principal=scanned.alice, estate_import=estate_import)
    assert {row.ado_name: row.action for row in preview.rows} == {"ADMIN_PASSWORD": "create", "REGION": "create"}
    assert actions()[-1] == "estate.import_previewed"  # a preview compares values: it is recorded

    applied = import_apply(principal=scanned.alice, estate_import=estate_import)
    assert applied.status == ImportStatus.COMPLETE
    assert applied.counts["created"] == 2
    assert value_of(scanned.cast, "prod", "/legacy", "REGION") == PLAIN_SETTING_VALUE
    assert version_of(scanned.cast, "prod", "/legacy", "ADMIN_PASSWORD") == 1
    stored = b"".join(bytes(row) for row in SecretVersion.objects.values_list("value_ciphertext", flat=True))
    assert PLAIN_SETTING_VALUE.encode() not in stored  # encrypted at rest

    again = import_apply(principal=scanned.alice, estate_import=estate_import)
    assert again.status == ImportStatus.COMPLETE
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 2, "needs_value": 0, "skipped": 0}
    assert version_of(scanned.cast, "prod", "/legacy", "ADMIN_PASSWORD") == 1
    assert {row.action for row in import_preview(principal=scanned.alice, estate_import=estate_import).rows} == {
        "unchanged"
    }

    scanned.ado.edit_variable("legacy", "REGION", "moved-region", secret=False)
    updated = import_apply(principal=scanned.alice, estate_import=estate_import)
    assert updated.counts["updated"] == 1 and updated.counts["unchanged"] == 1
    assert version_of(scanned.cast, "prod", "/legacy", "REGION") == 2
    assert actions("estate.import") == [
        "estate.import_created",
        "estate.import_previewed",
        "estate.import_applied",
        "estate.import_applied",
        "estate.import_previewed",
        "estate.import_applied",
    ]
    assert actions("secret.bulk") == ["secret.bulk_upserted"] * 2  # the unchanged apply wrote nothing
    assert_no_value_leaked(preview.rows)


def test_it_is_idempotent_per_place_and_follows_the_group(scanned: Scanned, run_scan: Any) -> None:
    first = _create(scanned, "app-settings", keys={"API_TOKEN": "GITHUB_TOKEN"})
    second = _create(scanned, "app-settings")
    assert second.pk == first.pk and EstateImport.objects.count() == 1
    assert _items(second)["API_TOKEN"][0] == "GITHUB_TOKEN"  # the mapping stays

    scanned.ado.edit_variable("app-settings", "NEW_FLAG", "on", secret=False)
    scanned.ado.edit_variable("app-settings", "REGION", None)
    rescan(scanned, run_scan)
    third = _create(scanned, "app-settings")
    items = _items(third)
    assert items["NEW_FLAG"] == ("NEW_FLAG", ItemSource.PLAIN, ItemStatus.PENDING)
    assert items["REGION"][2] == ItemStatus.SKIPPED
    assert third.items.get(ado_name="REGION").note == "no longer in Azure DevOps"


def test_it_refuses_bad_targets_naming_the_field(scanned: Scanned) -> None:
    with pytest.raises(ValidationFailed) as bad_key:
        _create(scanned, "app-settings", keys={"REGION": "has space"})
    assert "keys.REGION" in bad_key.value.fields
    with pytest.raises(ValidationFailed) as clash:
        _create(scanned, "app-settings", keys={"REGION": "API_TOKEN"})
    assert "both map" in clash.value.fields["keys"][0]
    with pytest.raises(ValidationFailed) as not_importable:
        _create(scanned, "arm-prod", kind="service_connection")
    assert "resource" in not_importable.value.fields
    with pytest.raises(NotFound):
        _create(scanned, "app-settings", environment="nope")
    with pytest.raises(NotFound):
        _create(scanned, "app-settings", project="evil")
    with pytest.raises(ValidationFailed):
        _create(scanned, "app-settings", path="/../up")
    assert EstateImport.objects.count() == 0


def test_secret_variables_need_values_entered_as_json_or_csv(scanned: Scanned) -> None:
    estate_import = _create(scanned, "app-settings")
    applied = import_apply(principal=scanned.alice, estate_import=estate_import)
    assert applied.status == ImportStatus.NEEDS_VALUES
    assert _items(applied)["DB_PASSWORD"] == ("DB_PASSWORD", ItemSource.REENTRY, ItemStatus.NEEDS_VALUE)
    assert value_of(scanned.cast, "dev", "/app", "API_TOKEN") == PLAIN_SECRET_VALUE
    assert value_of(scanned.cast, "dev", "/app", "DB_PASSWORD") is None

    for bad, field_text in (
        ({"NOPE": "x"}, "'NOPE' is not a variable"),
        ({"DB_PASSWORD": ""}, "empty values are refused"),
    ):
        with pytest.raises(ValidationFailed) as refused:
            import_values_enter(principal=scanned.alice, estate_import=applied, values=bad)
        assert field_text in refused.value.fields["values"][0]
    assert value_of(scanned.cast, "dev", "/app", "DB_PASSWORD") is None

    done = import_values_enter(principal=scanned.alice, estate_import=applied, values={"DB_PASSWORD": SECRET_VALUE})
    assert done.status == ImportStatus.COMPLETE
    assert value_of(scanned.cast, "dev", "/app", "DB_PASSWORD") == SECRET_VALUE
    # Applying again keeps the entered value (Azure DevOps still returns none).
    assert import_apply(principal=scanned.alice, estate_import=done).status == ImportStatus.COMPLETE
    assert value_of(scanned.cast, "dev", "/app", "DB_PASSWORD") == SECRET_VALUE

    # The same group into prod, its secret from a CSV file.
    prod = _create(scanned, "app-settings", environment="prod")
    import_apply(principal=scanned.alice, estate_import=prod)
    for text, line in (
        ('name,value\nDB_PASSWORD,"unterminated\n', "line 2"),
        ("name,value\nDB_PASSWORD,a,b\n", "line 2"),
        (f"name,value\nREGION,x\nMISSING,{ENTERED_VALUE}\n", "line 3"),
        ("secret,value\nDB_PASSWORD,x\n", "line 1"),
    ):
        with pytest.raises(ValidationFailed) as refused:
            import_values_csv(principal=scanned.alice, estate_import=prod, csv_text=text)
        assert refused.value.fields["csv"][0].startswith(line)
        assert ENTERED_VALUE not in refused.value.message
    complete = import_values_csv(
        principal=scanned.alice, estate_import=prod, csv_text=f'name,value\r\nDB_PASSWORD,"{ENTERED_VALUE}"\r\n'
    )
    assert complete.status == ImportStatus.COMPLETE
    assert value_of(scanned.cast, "prod", "/app", "DB_PASSWORD") == ENTERED_VALUE
    assert actions("estate.import_values") == ["estate.import_values_entered"] * 2
    assert_no_value_leaked()


def test_a_key_vault_group_is_read_through_a_key_vault_connection(scanned: Scanned, kv: Any) -> None:
    kv.seed("db-password", KV_DB_PASSWORD)
    kv.seed("api-key", "disabled-in-the-vault", enabled=False)  # disabled (Azure DevOps says so too): not read
    kv_connection = make_kv_connection(scanned.cast, kv)
    estate_import = _create(scanned, "kv-prod", environment="prod", path="/")
    assert {i.source for i in estate_import.items.all()} == {ItemSource.KEY_VAULT}

    without = import_preview(principal=scanned.alice, estate_import=estate_import)
    assert {row.action for row in without.rows} == {"needs_value"}
    assert without.vault_url == "https://acme-kv.vault.azure.net"  # from the group's providerData

    preview = import_preview(
        principal=scanned.alice, estate_import=estate_import, key_vault_connection="kv", vault_url=kv.vault_url
    )
    assert preview.vault_readable is True
    assert {row.ado_name: row.action for row in preview.rows} == {"db-password": "create", "api-key": "needs_value"}

    applied = import_apply(
        principal=scanned.alice,
        estate_import=estate_import,
        key_vault_connection=str(kv_connection.public_id),
        vault_url=kv.vault_url,
    )
    assert applied.status == ImportStatus.NEEDS_VALUES
    assert value_of(scanned.cast, "prod", "/", "db-password") == KV_DB_PASSWORD
    assert applied.items.get(ado_name="api-key").status == ItemStatus.NEEDS_VALUE
    assert applied.items.get(ado_name="api-key").note.startswith("disabled in the vault")

    wrong = make_kv_connection(scanned.cast, kv, secret="wrong-secret", name="kv-wrong")
    with pytest.raises(ValidationFailed) as refused:
        import_apply(
            principal=scanned.alice,
            estate_import=estate_import,
            key_vault_connection=wrong.name,
            vault_url=kv.vault_url,
        )
    assert "keyVaultConnection" in refused.value.fields
    with pytest.raises(ValidationFailed):
        import_apply(principal=scanned.alice, estate_import=estate_import, key_vault_connection="ado-estate")
    assert_no_value_leaked(preview.rows)


def test_a_pipeline_definition_copies_plain_variables_and_asks_for_secret_ones(scanned: Scanned) -> None:
    estate_import = _create(scanned, "web-ci", kind="pipeline", path="/web")
    applied = import_apply(principal=scanned.alice, estate_import=estate_import)
    assert applied.status == ImportStatus.NEEDS_VALUES
    assert value_of(scanned.cast, "dev", "/web", "BUILD_FLAVOR") == "release"
    assert _items(applied)["SIGNING_KEY"][1:] == (ItemSource.REENTRY, ItemStatus.NEEDS_VALUE)
    done = import_values_enter(
        principal=scanned.alice, estate_import=applied, values={"SIGNING_KEY": PIPELINE_SECRET_VALUE}
    )
    assert done.status == ImportStatus.COMPLETE
    yaml = import_pipeline_yaml(done)
    assert "--env=dev" in yaml["cli"] and "--path=/web" in yaml["cli"] and "universal-auth" in yaml["cli"]
    assert "jwt-auth" in yaml["oidc"] and "AzureCLI@2" in yaml["oidc"] and "SIGNING_KEY" in yaml["oidc"]
    assert "infisical" not in yaml["cli"] + yaml["oidc"]
    for text in yaml.values():  # valid Azure Pipelines YAML: the run step targets the import's place
        parsed = pyyaml.safe_load(text)
        assert parsed["variables"] == [{"name": "STRONGROOM_PROJECT", "value": "acme"}]
        run = parsed["steps"][-1]["script"]
        assert run.startswith("set -euo pipefail\nstrongroom run") and "--env=dev" in run and "--path=/web" in run
    group_yaml = import_pipeline_yaml(_create(scanned, "app-settings"))
    assert "#   - group: app-settings" in group_yaml["cli"]
    assert_no_value_leaked(yaml)


def test_an_approval_policy_holds_the_write(scanned: Scanned) -> None:
    from approvals.models import ChangeRequest
    from approvals.services.policies import MemberRef, approval_policy_create

    approval_policy_create(
        scope=scanned.cast.scope(scanned.cast.alice),
        name="prod-guard",
        environments=["prod"],
        path="/**",
        approvers=[MemberRef(kind="user", ref=scanned.cast.bob.email)],
        bypassers=[],
    )
    estate_import = _create(scanned, "legacy", environment="prod", path="/")
    held = import_apply(principal=scanned.alice, estate_import=estate_import)
    assert held.status == ImportStatus.HELD
    assert held.change_request_id is not None
    request = ChangeRequest.objects.get(pk=held.change_request_id)
    assert request.environment.slug == "prod"
    assert value_of(scanned.cast, "prod", "/", "REGION") is None
    assert {i.status for i in held.items.all()} == {ItemStatus.PENDING}

    # bob approves, alice merges: the values land; applying again opens no second request.
    from approvals.services.change_requests import change_request_merge, change_request_review

    change_request_review(request=request, reviewer=scanned.cast.scope(scanned.cast.bob), status="approved")
    change_request_merge(request=ChangeRequest.objects.get(pk=request.pk), by=scanned.cast.scope(scanned.cast.alice))
    assert value_of(scanned.cast, "prod", "/", "REGION") == PLAIN_SETTING_VALUE
    after = import_apply(principal=scanned.alice, estate_import=held)
    assert after.status == ImportStatus.COMPLETE and after.change_request_id is None
    assert after.counts["unchanged"] == 2
    assert ChangeRequest.objects.count() == 1
    assert_no_value_leaked()


def test_it_suggests_a_place_and_keys(scanned: Scanned, cast: Any, run_scan: Any) -> None:
    from estate.services.import_mapping import suggest_key, tokens

    scanned.ado.seed_group("acme-payments-prod", {"db.password": ("x", True), "bad name": ("y", False)})
    scanned.ado.seed_group("other-stage", {"A": ("x", False)})
    rescan(scanned, run_scan)
    suggestion = import_suggest(
        principal=scanned.alice, organization=cast.organization, resource=scanned.resource("acme-payments-prod")
    )
    assert suggestion.project == cast.project
    assert suggestion.environment == "prod"
    assert suggestion.path == "/payments"
    assert suggestion.keys == {"db.password": "db.password", "bad name": "bad_name"}
    other = import_suggest(
        principal=scanned.alice, organization=cast.organization, resource=scanned.resource("other-stage")
    )
    assert other.project is None and other.path == "/other"
    assert tokens("webApi_PROD-vars") == ["web", "api", "prod", "vars"]
    assert suggest_key("a/b:c") == "a_b_c"
