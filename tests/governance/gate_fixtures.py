"""The pipeline gate's test world: the Azure DevOps emulator (builds, plan events), an Azure DevOps
connection of acme-org pointing at it, a machine identity the pipeline reads with, secrets under
``/backend`` in staging and prod, and a gate on prod (parity from staging, definition 7). The
harness plays Azure DevOps: ``check_headers`` are the Invoke REST API check's default headers
(ado-governance.md §1.2) plus ``BuildId``, and ``basic`` the Generic service connection's auth.

Import the fixtures where a test module names them (``from tests.governance.gate_fixtures import …``).
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("AZURE_DEVOPS_CACHE_DIR", tempfile.mkdtemp(prefix="ado-cache-"))

import base64  # noqa: E402
import json  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from tests.emulators.azure_devops import AzureDevOpsEmulator  # noqa: E402

PAT = "gate-connection-pat-0123456789"
PROJECT_ID = "11111111-1111-1111-1111-111111111111"  # the emulator's proj1
DEFINITION_ID = 7


@dataclass
class GateWorld:
    cast: Any
    ado: AzureDevOpsEmulator
    gate: Any
    username: str
    password: str
    identity: Any

    def basic(self, password: str | None = None, username: str | None = None) -> str:
        raw = f"{username or self.username}:{password or self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def run(self, **build: Any) -> tuple[int, str]:
        """A pipeline run in progress and its job token (System.AccessToken): (build id, token)."""
        return self.ado.add_build(**build), self.ado.job_token()


def check_headers(world: GateWorld, build_id: int | None, token: str, **overrides: str) -> dict[str, str]:
    """The check's headers, exactly as Azure DevOps sends them (macros expanded)."""
    headers = {
        "Content-Type": "application/json",
        "PlanUrl": world.ado.org_url + "/",
        "ProjectId": PROJECT_ID,
        "HubName": "checks",
        "PlanId": str(uuid.uuid4()),
        "JobId": str(uuid.uuid4()),
        "TimelineId": str(uuid.uuid4()),
        "TaskInstanceId": str(uuid.uuid4()),
        "AuthToken": token,
        "Authorization": world.basic(),
    }
    if build_id is not None:
        headers["BuildId"] = str(build_id)
    headers.update(overrides)
    return headers


def call_gate(
    client: Any,
    world: GateWorld,
    build_id: int | None,
    token: str,
    *,
    attempt: int = 1,
    headers: dict[str, str] | None = None,
    **overrides: str,
) -> Any:
    """POST the check through the Django test client (headers as META, like a real request)."""
    sent = headers or check_headers(world, build_id, token, **overrides)
    meta = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in sent.items() if name != "Content-Type"}
    body = {"buildId": str(build_id or ""), "stageAttempt": str(attempt)}
    return client.post(
        f"/api/v1/governance/ado-gates/{world.gate.public_id}/check",
        data=json.dumps(body),
        content_type="application/json",
        **meta,
    )


@pytest.fixture
def ado(settings: Any) -> Iterator[AzureDevOpsEmulator]:
    settings.STRONGROOM_SYNC_ALLOWED_HOSTS = ["127.0.0.1"]
    with AzureDevOpsEmulator(pats=(PAT,)) as emulator:
        yield emulator


def build_world(cast: Any, ado: AzureDevOpsEmulator, *, mode: str = "api_response") -> GateWorld:
    from governance.gate.services import gate_create
    from secrets_app.models import IdentityProjectMembership, MachineIdentity, OrganizationMembership, OrgRole
    from secrets_app.principals import Principal
    from secrets_app.services.folders import folder_create
    from secrets_app.services.secrets import SecretInput, secret_create
    from syncs.services.connections import connection_create

    OrganizationMembership.objects.filter(organization=cast.organization, user=cast.alice).update(role=OrgRole.ADMIN)
    alice = Principal.for_user(cast.alice)
    connection_create(
        principal=alice,
        organization=cast.organization,
        kind="azure_devops",
        method="pat",
        name="ado",
        credentials={"token": PAT},
        config={"organization_url": ado.org_url},
    )
    identity = MachineIdentity.objects.create(organization=cast.organization, name="deploy-bot")
    IdentityProjectMembership.objects.create(project=cast.project, identity=identity, builtin_role="member")
    scope = cast.scope(cast.alice)
    for env in ("staging", "prod"):
        folder_create(scope=scope, environment=env, path="/", name="backend")
        for key in ("DB_PASSWORD", "API_KEY"):
            secret_create(
                scope=scope, environment=env, path="/backend", item=SecretInput(key=key, value=f"{env}-{key}-value")
            )
    gate, credentials = gate_create(
        principal=alice,
        organization=cast.organization,
        project="acme",
        environment="prod",
        identity="deploy-bot",
        parity_from="staging",
        name="prod deploy",
        ado_organization="acme",
        ado_project_id=PROJECT_ID,
        ado_definition_id=DEFINITION_ID,
        paths=["/backend"],
        mode=mode,
    )
    return GateWorld(cast, ado, gate, credentials.username, credentials.password, identity)


@pytest.fixture
def world(cast: Any, ado: AzureDevOpsEmulator) -> GateWorld:
    return build_world(cast, ado)


def secret_at(cast: Any, key: str, environment: str = "prod", path: str = "/backend") -> Any:
    from secrets_app.models import Secret

    return Secret.objects.get(
        project=cast.project, environment__slug=environment, folder__path=path, key=key, deleted_at__isnull=True
    )
