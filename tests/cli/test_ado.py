# ruff: noqa: F811  (the fixtures are imported, then named by the tests)
"""``strongroom ado`` as a subprocess against a live server and the Azure DevOps estate emulator,
as alice (an organization admin): ``discover --wait`` scans (the real task, run after the commit
as a worker would) and ends with a summary, exit 0; ``findings``/``resources`` list what it found;
``import --apply`` copies a plain group's values into Strongroom and ``--values-csv`` enters a
secret Azure DevOps never returns. Errors are one readable line and exit 2; a scan already
running is exit 1 (or, with ``--wait``, followed)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cli.conftest import CliServer
from tests.emulators.azure_devops_estate import EstateEmulator
from tests.estate.conftest import (
    GOOD_PAT,
    PLAIN_SECRET_VALUE,
    PLAIN_SETTING_VALUE,
    SECRET_VALUE,
    make_estate_connection,
    seed_small_estate,
)
from tests.support.celery_worker import eager  # noqa: F401 (fixture)


@pytest.fixture
def estate(cli_server: CliServer, settings: Any, eager: None) -> Any:
    """(server, emulator): the small estate behind the connection ``ado-estate``; alice is an admin."""
    settings.STRONGROOM_SYNC_ALLOWED_HOSTS = ["127.0.0.1"]
    with EstateEmulator(pats=(GOOD_PAT,)) as ado:
        seed_small_estate(ado)
        make_estate_connection(cli_server.cast, ado, token=GOOD_PAT)
        yield cli_server, ado


def _as_alice(server: CliServer) -> tuple[str, ...]:
    return ("--org", "acme-org", f"--token={server.token}")


def _one_error_line(result: Any) -> str:
    err = result.stderr.decode()
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith("strongroom: error: "), err
    return err


def test_discover_wait_scans_and_prints_a_summary(estate: Any) -> None:
    server, _ado = estate

    result = server.run("ado", "discover", *_as_alice(server), "--connection", "ado-estate", "--wait")

    out, err = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == 0, err
    assert "scan succeeded: projects 2/2" in err
    assert "found: 2 projects, 4 variable groups, 1 pipeline, 3 service connections, 1 secure file" in out
    assert "changes since the previous scan:" in out
    assert "open findings:" in out and " high," in out
    for value in (PLAIN_SECRET_VALUE, SECRET_VALUE, PLAIN_SETTING_VALUE):
        assert value not in out + err

    findings = server.run("ado", "findings", *_as_alice(server), "--format", "json")
    resources = server.run("ado", "resources", *_as_alice(server), "--kind", "variable_group")
    csv_out = server.run("ado", "findings", *_as_alice(server), "--format", "csv", "--severity", "high")

    assert findings.returncode == resources.returncode == csv_out.returncode == 0
    kinds = {finding["kind"] for finding in json.loads(findings.stdout)}
    assert {"plain_secret_variable", "client_secret_connection", "open_to_all_pipelines"} <= kinds
    assert "app-settings" in resources.stdout.decode() and "kv-prod" in resources.stdout.decode()
    lines = csv_out.stdout.decode().splitlines()
    assert lines[0].startswith("ID,SEVERITY,KIND") and all(",high," in line for line in lines[1:])


def test_a_running_scan_is_exit_1_or_followed_with_wait(estate: Any) -> None:
    from django.utils import timezone

    from estate.models import EstateScan
    from syncs.models import AppConnection

    server, ado = estate
    connection = AppConnection.objects.get(name="ado-estate")
    running = EstateScan.objects.create(
        organization=server.cast.organization,
        connection=connection,
        org_url=ado.org_url,
        status="running",
        queued_at=timezone.now(),
    )

    refused = server.run("ado", "discover", *_as_alice(server), "--connection", "ado-estate")
    followed = server.run(
        "ado", "discover", *_as_alice(server), "--connection", "ado-estate", "--wait", "--timeout", "0.5"
    )

    assert refused.returncode == 1 and str(running.public_id) in _one_error_line(refused)
    assert followed.returncode == 1
    assert f"already running ({running.public_id}); following it" in followed.stderr.decode()
    assert "is still running after 0.5 s" in followed.stderr.decode()


def test_errors_are_one_readable_line_and_exit_2(estate: Any) -> None:
    server, _ado = estate
    bob = server.cast.bob
    from secrets_app.services.personal_tokens import personal_token_create

    bob_token = personal_token_create(user=bob, name="cli")[1]

    wrong_org = server.run("ado", "discover", "--org", "nope", f"--token={server.token}", "--connection", "x")
    not_admin = server.run("ado", "findings", "--org", "acme-org", f"--token={bob_token}")
    no_connection = server.run("ado", "discover", *_as_alice(server), "--connection", "missing")
    usage = server.run("ado", "discover", *_as_alice(server))
    no_yes = server.run(
        "ado", "import", *_as_alice(server), "--resource", "1", "--project", "acme", "--env", "dev", "--convert-to-sync"
    )

    for result in (wrong_org, not_admin, no_connection, usage, no_yes):
        assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Organization not found" in _one_error_line(wrong_org) and "--org" in wrong_org.stderr.decode()
    assert "organization admins" in _one_error_line(not_admin).lower()
    assert "connection" in _one_error_line(no_connection)
    assert "--connection" in _one_error_line(usage)
    assert "--yes" in _one_error_line(no_yes)


def _scan(server: CliServer) -> None:
    result = server.run("ado", "discover", *_as_alice(server), "--connection", "ado-estate", "--wait")
    assert result.returncode == 0, result.stderr


def _resource_id(server: CliServer, name: str) -> str:
    result = server.run("ado", "resources", *_as_alice(server), "--q", name, "--format", "json")
    return str(next(item["id"] for item in json.loads(result.stdout) if item["name"] == name))


def test_import_apply_copies_a_plain_group_and_values_csv_enters_the_secret(estate: Any, tmp_path: Any) -> None:
    from syncs.models import SecretSync
    from tests.estate.conftest_imports import value_of

    server, _ado = estate
    _scan(server)
    group = _resource_id(server, "app-settings")
    place = ("--project", "acme", "--env", "dev", "--path", "/")

    applied = server.run(
        "ado", "import", *_as_alice(server), "--resource", group, *place, "--key", "API_TOKEN=GITHUB_TOKEN", "--apply"
    )

    out = applied.stdout.decode()
    assert applied.returncode == 1  # DB_PASSWORD is secret: Azure DevOps does not return it
    assert "DB_PASSWORD" in _one_error_line(applied) and "--values-csv" in applied.stderr.decode()
    assert "API_TOKEN" in out and "GITHUB_TOKEN" in out and "applied:" in out
    assert value_of(server.cast, "dev", "/", "GITHUB_TOKEN") == PLAIN_SECRET_VALUE
    assert value_of(server.cast, "dev", "/", "REGION") == PLAIN_SETTING_VALUE
    assert value_of(server.cast, "dev", "/", "DB_PASSWORD") is None

    values = tmp_path / "values.csv"
    values.write_text(f"name,value\nDB_PASSWORD,{SECRET_VALUE}\n")
    completed = server.run(
        "ado", "import", *_as_alice(server), "--resource", group, *place, "--key", "API_TOKEN=GITHUB_TOKEN",
        "--values-csv", str(values), "--show-yaml",
    )  # fmt: skip

    assert completed.returncode == 0, completed.stderr
    assert value_of(server.cast, "dev", "/", "DB_PASSWORD") == SECRET_VALUE
    text = completed.stdout.decode() + completed.stderr.decode() + out + applied.stderr.decode()
    for value in (SECRET_VALUE, PLAIN_SECRET_VALUE, PLAIN_SETTING_VALUE):
        assert value not in text, "a value reached the terminal"
    assert ": complete into acme:dev/" in completed.stdout.decode()
    assert "strongroom" in completed.stdout.decode().split("# the pipeline step", 1)[1]

    converted = server.run(
        "ado", "import", *_as_alice(server), "--resource", group, *place, "--key", "API_TOKEN=GITHUB_TOKEN",
        "--convert-to-sync", "--sync-name", "app-settings-sync", "--yes",
    )  # fmt: skip

    assert converted.returncode == 0, converted.stderr
    assert "converted: the sync app-settings-sync" in converted.stdout.decode()
    assert SecretSync.objects.filter(project=server.cast.project, name="app-settings-sync").exists()
