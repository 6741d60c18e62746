"""A full scan against the estate emulator through the real Celery task (eager, after commit):
what it records, what it finds, what it never stores, and that it writes nothing to Azure DevOps."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.estate.conftest import (
    PIPELINE_SECRET_VALUE,
    PLAIN_PASSWORD_VALUE,
    PLAIN_SECRET_VALUE,
    PLAIN_SETTING_VALUE,
    SECRET_VALUE,
    seed_small_estate,
)

pytestmark = pytest.mark.django_db


def _resources(cast: Any, **filters: Any) -> dict[str, Any]:
    from estate.selectors.inventory import resource_list

    return {r.name: r for r in resource_list(cast.organization, **filters)}


def _open_findings(cast: Any) -> set[tuple[str, str, str]]:
    from estate.selectors.inventory import finding_list

    return {(f.kind, f.resource.name if f.resource else "", f.subject) for f in finding_list(cast.organization)}


def test_it_inventories_the_estate_through_the_task(
    cast: Any, estate_ado: Any, estate_connection: Any, run_scan: Any
) -> None:
    seed_small_estate(estate_ado)
    scan = run_scan(cast, estate_connection)

    assert scan.status == "succeeded", scan.error
    assert scan.attempts == 1 and scan.started_at and scan.finished_at
    assert scan.counts == {
        "projects": 2,
        "variable_groups": 4,
        "pipelines": 1,
        "service_connections": 3,
        "secure_files": 1,
        "secret_variables": 4,  # DB_PASSWORD, the two Key Vault secrets, SIGNING_KEY
        "findings": len(_open_findings(cast)),
    }
    assert scan.diff == {"added": 11, "changed": 0, "removed": 0}
    assert scan.progress["phase"] == "done"
    assert scan.progress["projects_total"] == scan.progress["projects_done"] == 2
    assert scan.progress["requests"] == len(estate_ado.reads()) and scan.done_projects

    groups = _resources(cast, kind="variable_group")
    app = groups["app-settings"]
    assert app.secret_count == 1 and app.variable_count == 3 and app.details["all_pipelines"] is True
    by_name = {v["name"]: v for v in app.details["variables"]}
    assert by_name["API_TOKEN"] == {
        "name": "API_TOKEN",
        "is_secret": False,
        "looks_secret": True,
        "reason": "value shape: GitHub token",
    }
    assert by_name["REGION"]["looks_secret"] is False and by_name["DB_PASSWORD"]["is_secret"] is True
    kv = groups["kv-prod"]
    assert kv.details["type"] == "AzureKeyVault" and kv.details["vault"] == "acme-kv"
    assert {v["name"]: v["enabled"] for v in kv.details["variables"]} == {"api-key": False, "db-password": True}
    assert groups["legacy"].details["pipeline_ids"] == [1] and groups["legacy"].details["all_pipelines"] is False
    assert groups["proj2-settings"].ado_project_name == "proj2"
    pipeline = _resources(cast, kind="pipeline")["web-ci"]
    assert pipeline.details["yaml_filename"] == "azure-pipelines.yml" and pipeline.details["variable_group_ids"] == [
        groups["app-settings"].external_id and int(groups["app-settings"].external_id)
    ]
    connections = _resources(cast, kind="service_connection")
    assert connections["arm-prod"].details["credential_kind"] == "client_secret"
    assert connections["arm-wif"].details["wif_issuer"].startswith("https://vstoken.dev.azure.com/")
    assert connections["other-org"].details["credential_kind"] == "token"

    assert _open_findings(cast) == {
        ("plain_secret_variable", "app-settings", "API_TOKEN"),
        ("plain_secret_variable", "legacy", "ADMIN_PASSWORD"),
        ("open_to_all_pipelines", "app-settings", ""),
        ("open_to_all_pipelines", "signing.pfx", ""),
        ("client_secret_connection", "arm-prod", ""),
        ("legacy_wif_issuer", "arm-wif", ""),
        ("static_credential_connection", "other-org", ""),
        ("duplicated_name", "", "REGION"),
        ("secret_pipeline_variable", "web-ci", "SIGNING_KEY"),
    }
    from estate.selectors.inventory import finding_list

    severities = {(f.kind, f.resource.name if f.resource else ""): f.severity for f in finding_list(cast.organization)}
    assert severities[("open_to_all_pipelines", "app-settings")] == "high"  # holds a secret
    assert severities[("open_to_all_pipelines", "signing.pfx")] == "medium"
    duplicated = finding_list(cast.organization, kind="duplicated_name").get()
    assert sorted(g["name"] for g in duplicated.data["groups"]) == ["app-settings", "legacy", "proj2-settings"]

    # Nothing was written to Azure DevOps, and every read named an api-version.
    assert estate_ado.writes() == []
    assert all(r.query.get("api-version") for r in estate_ado.reads())
    assert all(r.query["api-version"] == ["7.1-preview.1"] for r in estate_ado.reads("pipelinepermissions"))


def test_it_never_stores_a_value(cast: Any, estate_ado: Any, estate_connection: Any, run_scan: Any) -> None:
    from audit.models import AuditEvent
    from estate.models import EstateFinding, EstateResource, EstateScan

    seed_small_estate(estate_ado)
    scan = run_scan(cast, estate_connection)
    assert scan.status == "succeeded"

    stored = json.dumps(
        [
            list(EstateResource.objects.values("name", "details")),
            list(EstateFinding.objects.values("detail", "data", "subject")),
            list(EstateScan.objects.values("progress", "counts", "diff", "error")),
            list(AuditEvent.objects.values("metadata")),
        ],
        default=str,
    )
    for value in (PLAIN_SECRET_VALUE, PLAIN_PASSWORD_VALUE, SECRET_VALUE, PIPELINE_SECRET_VALUE, PLAIN_SETTING_VALUE):
        assert value not in stored
    assert "spn-key-never-on-the-wire" not in stored and "pat-never-on-the-wire" not in stored


def test_it_audits_the_scan_with_counts_only(cast: Any, estate_ado: Any, estate_connection: Any, run_scan: Any) -> None:
    from audit.models import AuditEvent

    seed_small_estate(estate_ado)
    scan = run_scan(cast, estate_connection)
    events = {e.action: e for e in AuditEvent.objects.filter(resource_id=str(scan.public_id))}
    assert set(events) == {"estate.scan_requested", "estate.scan_completed"}
    completed = events["estate.scan_completed"]
    assert completed.actor_type == "system" and completed.organization_id == cast.organization.pk
    assert completed.metadata["counts"] == scan.counts and completed.metadata["diff"]["added"] == 11


def test_the_summary_reads_the_scan(cast: Any, estate_ado: Any, estate_connection: Any, run_scan: Any) -> None:
    from estate.selectors.inventory import estate_summary, resource_list

    seed_small_estate(estate_ado)
    scan = run_scan(cast, estate_connection)
    summary = estate_summary(cast.organization)
    assert summary["last_scan"] == scan
    assert summary["counts"] == {k: v for k, v in scan.counts.items() if k != "findings"}
    assert summary["open_findings"] == scan.counts["findings"] == sum(summary["findings_by_kind"].values())
    assert summary["findings_by_severity"]["high"] == 4
    assert [r.name for r in resource_list(cast.organization, finding="plain_secret_variable")] == [
        "app-settings",
        "legacy",
    ]
    assert [r.name for r in resource_list(cast.organization, project="PROJ2", kind="variable_group")] == [
        "proj2-settings"
    ]
    assert [r.name for r in resource_list(cast.organization, q="SETT")] == ["app-settings", "proj2-settings"]


def test_a_group_written_by_a_strongroom_sync_is_linked(
    cast: Any, estate_ado: Any, estate_connection: Any, run_scan: Any
) -> None:
    from estate.selectors.inventory import finding_list, resource_list
    from syncs.services.syncs import sync_create

    seed_small_estate(estate_ado)
    sync = sync_create(
        scope=cast.scope(cast.alice),
        connection=estate_connection,
        name="to-legacy",
        environment="dev",
        path="/",
        destination={"project": "PROJ1", "group_name": "Legacy"},
        confirm_overwrite=True,
    )
    run_scan(cast, estate_connection)
    legacy = resource_list(cast.organization, kind="variable_group", q="legacy").get()
    assert legacy.managed_by_sync_id == sync.pk
    assert [f.resource_id for f in finding_list(cast.organization, kind="managed_by_sync")] == [legacy.pk]


def test_a_throttled_remote_is_waited_out_and_counted(
    cast: Any, estate_ado: Any, estate_connection: Any, run_scan: Any
) -> None:
    seed_small_estate(estate_ado)
    estate_ado.fail_next(429, count=2, retry_after=0, path_contains="/build/definitions")
    scan = run_scan(cast, estate_connection)
    assert scan.status == "succeeded" and scan.progress["throttled"] == 2
    assert scan.counts["pipelines"] == 1


def test_a_refused_credential_fails_the_scan_with_a_safe_error(cast: Any, estate_ado: Any, run_scan: Any) -> None:
    from audit.models import AuditEvent
    from tests.estate.conftest import make_estate_connection

    connection = make_estate_connection(cast, estate_ado, token="wrong-pat-000")
    scan = run_scan(cast, connection)
    assert scan.status == "failed"
    assert scan.error == "Azure DevOps refused access (401) while trying to list the projects"
    failed = AuditEvent.objects.get(action="estate.scan_failed", resource_id=str(scan.public_id))
    assert failed.metadata["error"] == scan.error and "wrong-pat" not in json.dumps(failed.metadata)


def test_the_command_scans_as_an_org_admin_and_refuses_others(
    cast: Any, estate_ado: Any, estate_connection: Any
) -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    seed_small_estate(estate_ado)
    with pytest.raises(CommandError):
        call_command("estate_scan", organization="acme-org", connection="ado-estate", email=cast.charlie.email)
    out = StringIO()
    call_command("estate_scan", organization="acme-org", connection="ado-estate", email=cast.alice.email, stdout=out)
    assert "succeeded" in out.getvalue() and "plain_secret_variable: 2" in out.getvalue()
    assert PLAIN_SECRET_VALUE not in out.getvalue()
