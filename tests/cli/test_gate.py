# ruff: noqa: F811  (the fixtures are imported, then named by the tests)
"""``strongroom gate`` as a subprocess against a live server, logged in as the pipeline's machine
identity: exit 0 when the gate passes, 1 with each reason on a line of its own when it fails (as
``##vso[task.logissue …]`` lines in Azure Pipelines), 2 with one readable line for usage and
connection errors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cli.conftest import CliServer
from tests.governance.gate_fixtures import ado  # noqa: F401 (fixture)


@pytest.fixture
def gated(cli_server: CliServer) -> tuple[CliServer, str, str]:
    """(server, gate id, the machine identity's access token)."""
    from governance.gate.services import gate_create
    from secrets_app.models import OrganizationMembership, OrgRole
    from secrets_app.principals import Principal

    cast = cli_server.cast
    OrganizationMembership.objects.filter(organization=cast.organization, user=cast.alice).update(role=OrgRole.ADMIN)
    gate, _credentials = gate_create(
        principal=Principal.for_user(cast.alice),
        organization=cast.organization,
        project="acme",
        environment="prod",
        identity=cli_server.machine.identity.name,
        parity_from="staging",
        name="prod deploy",
        ado_organization="acme",
        ado_project_id="11111111-1111-1111-1111-111111111111",
        ado_definition_id=7,
        paths=["/backend"],
    )
    login = cli_server.run(
        "login",
        "--method=universal-auth",
        f"--client-id={cli_server.machine.client_id}",
        f"--client-secret={cli_server.machine.client_secret}",
        "--plain",
        "--silent",
    )
    assert login.returncode == 0, login.stderr
    return cli_server, str(gate.public_id), login.stdout.decode().strip()


def _leak(server: CliServer) -> None:
    from governance.models import LeakFlag
    from secrets_app.models import Secret

    secret = Secret.objects.get(project=server.cast.project, environment__slug="prod", key="DATABASE_URL")
    LeakFlag.objects.create(secret=secret, project=server.cast.project, reason="r", flagged_version=secret.version)


def test_it_exits_0_when_the_gate_passes(gated: Any) -> None:
    server, gate, token = gated

    result = server.run("gate", f"--gate={gate}", f"--token={token}")

    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == "pass: 1 secret checked in prod: policy holds\n"


def test_it_answers_the_exact_request_of_the_azure_devops_check_over_http(gated: Any, ado: Any) -> None:
    """The same gate, asked by the Invoke REST API check over a real socket, with the header names
    spelled as the InvokeRESTAPI task sends them (ado-governance.md §1.2)."""
    import base64

    import requests

    from governance.gate.services import gate_update
    from secrets_app.principals import Principal
    from syncs.services.connections import connection_create
    from tests.governance.gate_fixtures import PAT, GateWorld, check_headers

    server, gate_id, _token = gated
    cast = server.cast
    alice = Principal.for_user(cast.alice)
    connection_create(
        principal=alice, organization=cast.organization, kind="azure_devops", method="pat", name="ado",
        credentials={"token": PAT}, config={"organization_url": ado.org_url},
    )  # fmt: skip
    gate, credentials = gate_update(
        principal=alice, organization=cast.organization, gate_id=gate_id, reset_password=True
    )
    assert credentials is not None
    world = GateWorld(cast, ado, gate, credentials.username, credentials.password, gate.identity)
    build_id, job_token = world.run()

    response = requests.post(
        f"{server.url}/api/v1/governance/ado-gates/{gate_id}/check",
        data=f'{{"buildId": "{build_id}", "stageAttempt": "1"}}',
        headers=check_headers(world, build_id, job_token),
        timeout=10,
    )

    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    assert response.json()["status"] == "pass", response.text
    assert set(response.json()) == {"status", "reason", "checkedAt", "findings"}
    wrong = base64.b64encode(f"{credentials.username}:nope".encode()).decode()
    refused = requests.post(
        f"{server.url}/api/v1/governance/ado-gates/{gate_id}/check",
        headers=check_headers(world, build_id, job_token, Authorization=f"Basic {wrong}"),
        timeout=10,
    )
    assert refused.status_code == 401


def test_it_exits_1_with_one_reason_per_line_when_the_gate_fails(gated: Any) -> None:
    server, gate, token = gated
    _leak(server)

    result = server.run("gate", f"--token={token}", env={"STRONGROOM_GATE_ID": gate})
    in_pipeline = server.run("gate", f"--gate={gate}", f"--token={token}", env={"TF_BUILD": "True"})

    assert result.returncode == 1
    lines = result.stdout.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("DATABASE_URL (/backend/api): flagged as leaked on ")
    assert result.stderr.decode() == "strongroom: the gate failed (1 reason)\n"
    assert in_pipeline.returncode == 1
    assert in_pipeline.stdout.decode().startswith("##vso[task.logissue type=error]DATABASE_URL (/backend/api):")


def test_it_exits_2_with_one_line_for_usage_and_connection_errors(gated: Any) -> None:
    server, gate, token = gated

    missing = server.run("gate", f"--token={token}")
    unknown = server.run("gate", "--gate=00000000-0000-4000-8000-000000000000", f"--token={token}")
    not_mine = server.run("gate", f"--gate={gate}", f"--token={server.token}")  # alice: an org admin may ask
    unreachable = server.run("gate", f"--gate={gate}", f"--token={token}", "--domain=http://127.0.0.1:9")
    bad_flag = server.run("gate", "--no-such-flag")

    for result in (missing, unknown, unreachable, bad_flag):
        assert result.returncode == 2, result.stderr
        assert result.stderr.decode().count("\n") == 1 and result.stdout == b""
    assert "no gate: pass --gate" in missing.stderr.decode()
    assert "not found" in unknown.stderr.decode().lower()
    assert "cannot reach http://127.0.0.1:9" in unreachable.stderr.decode()
    assert not_mine.returncode == 0, not_mine.stderr
    assert token not in (missing.stderr + unknown.stderr + unreachable.stderr).decode()
