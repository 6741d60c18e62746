# ruff: noqa: F811  (the fixtures are imported, then named by the tests)
"""The pipeline gate in ApiResponse mode, called the way an Azure DevOps Invoke REST API check calls
it (ado-governance.md §1.2), the run proven against the ADO emulator with the job's AuthToken."""

from __future__ import annotations

import datetime
import json
import logging
import random
import uuid
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from governance.models import GateDecision
from tests.governance.gate_fixtures import (  # noqa: F401 (fixtures)
    PROJECT_ID,
    GateWorld,
    ado,
    call_gate,
    check_headers,
    secret_at,
    world,
)


def _ask(world: GateWorld, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
    build_id, token = world.run()
    response = call_gate(Client(), world, build_id, token, **kwargs)
    return response, response.json()


def _everything_stored() -> str:
    """Every decision and audit row, as text (to look for a token in)."""
    rows = [json.dumps(list(GateDecision.objects.values()), default=str)]
    rows += [json.dumps(list(AuditEvent.objects.values()), default=str)]
    return "\n".join(rows)


def test_it_passes_a_proven_run_and_keeps_the_job_token_nowhere(world: GateWorld, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    build_id, token = world.run()

    response = call_gate(Client(), world, build_id, token)

    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == "pass", answer
    assert answer["reason"] == "2 secrets checked in prod: policy holds"
    assert answer["findings"] == [] and answer["checkedAt"].endswith("Z")
    # The run was proven with the job's own token, against the connection's organization URL.
    reads = world.ado.build_reads()
    assert [r.path.lower() for r in reads if r.method == "GET"][
        -1
    ] == f"/acme/{PROJECT_ID}/_apis/build/builds/{build_id}"
    decision = GateDecision.objects.get(gate=world.gate, build_id=build_id, stage_attempt=1)
    assert decision.status == "pass" and decision.mode == "api_response"
    event = AuditEvent.objects.filter(action="gate.evaluated").latest("id")
    assert event.outcome == "allow"
    assert event.metadata["build_id"] == build_id and event.metadata["stage_attempt"] == 1
    assert event.metadata["reason_codes"] == []
    assert token not in _everything_stored()
    assert token not in caplog.text and token not in response.content.decode()


def test_it_fails_naming_a_secret_overdue_for_rotation(world: GateWorld) -> None:
    from secrets_app.models import Secret, SecretVersion

    secret = secret_at(world.cast, "DB_PASSWORD")
    changed = timezone.now() - datetime.timedelta(days=45)
    SecretVersion.objects.filter(secret=secret).update(created_at=changed)
    Secret.objects.filter(pk=secret.pk).update(rotation_interval_days=30)
    due = (changed + datetime.timedelta(days=30)).strftime("%Y-%m-%d")

    response, answer = _ask(world)

    assert response.status_code == 200 and answer["status"] == "fail"
    message = f"DB_PASSWORD (/backend): rotation overdue since {due} (policy: every 30 days)"
    assert answer["findings"] == [
        {"code": "rotation_overdue", "key": "DB_PASSWORD", "path": "/backend", "message": message}
    ]
    assert message in answer["reason"]
    event = AuditEvent.objects.filter(action="gate.evaluated").latest("id")
    assert event.outcome == "deny" and event.metadata["reason_codes"] == ["rotation_overdue"]


def test_it_fails_naming_a_secret_flagged_as_leaked(world: GateWorld) -> None:
    from governance.models import LeakFlag

    secret = secret_at(world.cast, "API_KEY")
    LeakFlag.objects.create(
        secret=secret, project=world.cast.project, reason="pasted in a ticket", flagged_version=secret.version
    )

    _, answer = _ask(world)

    assert answer["status"] == "fail"
    assert [f["code"] for f in answer["findings"]] == ["leaked"]
    assert answer["findings"][0]["message"].startswith("API_KEY (/backend): flagged as leaked on ")


def test_it_fails_naming_a_quarantined_secret(world: GateWorld) -> None:
    from secrets_app.models import Secret

    Secret.objects.filter(pk=secret_at(world.cast, "API_KEY").pk).update(quarantined_at=timezone.now())

    _, answer = _ask(world)

    assert answer["status"] == "fail"
    assert answer["findings"][0]["code"] == "quarantined"
    assert answer["findings"][0]["message"].startswith("API_KEY (/backend): quarantined since ")


def test_it_fails_when_a_key_of_the_parity_environment_is_missing(world: GateWorld) -> None:
    from secrets_app.services.secrets import SecretInput, secret_create

    scope = world.cast.scope(world.cast.alice)
    secret_create(scope=scope, environment="staging", path="/backend", item=SecretInput(key="NEW_FLAG", value="on"))

    _, answer = _ask(world)

    assert answer["status"] == "fail"
    assert answer["findings"] == [
        {
            "code": "parity_missing",
            "key": "NEW_FLAG",
            "path": "/backend",
            "message": "NEW_FLAG (/backend): missing in prod (present in staging)",
        }
    ]


def test_it_fails_while_a_lease_under_the_paths_is_irrevocable(world: GateWorld) -> None:
    from dynamic.models import Lease, LeaseStatus

    cast = world.cast
    Lease.objects.create(
        project=cast.project,
        organization_id_snapshot=cast.organization.pk,
        project_id_snapshot=cast.project.pk,
        environment_slug="prod",
        path="/backend",
        dynamic_secret_name="app-db",
        dynamic_secret_public_id=uuid.uuid4(),
        provider="postgresql",
        credentials_ciphertext=b"-",
        username="v_app_db_1",
        status=LeaseStatus.IRREVOCABLE,
        expire_at=timezone.now(),
    )

    _, answer = _ask(world)

    assert answer["status"] == "fail"
    assert answer["findings"][0]["code"] == "lease_irrevocable"
    assert answer["findings"][0]["message"].startswith("app-db (/backend): 1 lease of this dynamic secret could not")


def test_it_ignores_what_the_pipeline_does_not_read(world: GateWorld) -> None:
    """A leaked secret outside the gate's paths, or in another environment, is not the pipeline's."""
    from governance.models import LeakFlag
    from secrets_app.services.secrets import SecretInput, secret_create

    scope = world.cast.scope(world.cast.alice)
    elsewhere = secret_create(scope=scope, environment="prod", path="/", item=SecretInput(key="OTHER", value="x"))
    staging = secret_at(world.cast, "API_KEY", environment="staging")
    for secret in (elsewhere, staging):
        LeakFlag.objects.create(secret=secret, project=world.cast.project, reason="r", flagged_version=secret.version)

    _, answer = _ask(world)

    assert answer["status"] == "pass", answer


def test_it_refuses_wrong_basic_credentials_with_401_and_audits_it(world: GateWorld) -> None:
    build_id, token = world.run()
    for authorization in (world.basic(password="wrong-password"), world.basic(username="someone"), "Bearer x", ""):
        response = call_gate(Client(), world, build_id, token, Authorization=authorization)
        assert response.status_code == 401, response.content
        assert response.json()["error"]["code"] == "unauthorized"
    assert AuditEvent.objects.filter(action="gate.auth_failed", outcome="deny").count() == 4
    assert not GateDecision.objects.exists()
    assert world.ado.build_reads() == []  # nothing was asked of Azure DevOps
    assert token not in _everything_stored()


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        ({"status": "completed"}, "is completed, not in progress"),
        ({"definition_id": 99}, "is a run of pipeline definition 99, not 7"),
    ],
)
def test_it_fails_a_run_it_cannot_prove(world: GateWorld, build: dict[str, Any], expected: str) -> None:
    build_id, token = world.run(**build)

    answer = call_gate(Client(), world, build_id, token).json()

    assert answer["status"] == "fail"
    assert answer["findings"][0]["code"] == "run_not_proven"
    assert expected in answer["reason"]


def test_it_fails_a_build_id_of_another_project_or_an_unknown_token(world: GateWorld) -> None:
    other = world.ado.add_project("proj2")
    foreign = world.ado.add_build(project="proj2")
    foreign_token = world.ado.job_token("proj2")
    build_id, _token = world.run()

    in_other_project = call_gate(Client(), world, foreign, foreign_token, ProjectId=other).json()
    forged_id = call_gate(Client(), world, foreign, world.ado.job_token()).json()
    stranger = call_gate(Client(), world, build_id, "not-a-job-token").json()

    assert "not the gate's" in in_other_project["reason"]
    assert "was not found" in forged_id["reason"]
    assert "did not accept the job's AuthToken" in stranger["reason"]
    assert all(a["status"] == "fail" for a in (in_other_project, forged_id, stranger))


def test_it_needs_a_build_id_and_a_known_plan_url(world: GateWorld) -> None:
    _, token = world.run()
    headers = check_headers(world, None, token)
    no_build = call_gate(Client(), world, None, token, headers=headers)
    elsewhere = call_gate(Client(), world, 5, token, PlanUrl="https://dev.azure.com/someone-else/")

    assert no_build.status_code == 200 and no_build.json()["status"] == "fail"
    assert "BuildId is required" in no_build.json()["reason"]
    assert elsewhere.json()["status"] == "fail"
    assert "PlanUrl is not the organization URL of an Azure DevOps connection" in elsewhere.json()["reason"]
    assert not GateDecision.objects.exists()


def test_it_answers_the_stored_decision_for_the_same_attempt_and_evaluates_a_new_one(world: GateWorld) -> None:
    from governance.models import LeakFlag

    build_id, token = world.run()
    first = call_gate(Client(), world, build_id, token).json()
    secret = secret_at(world.cast, "DB_PASSWORD")
    LeakFlag.objects.create(secret=secret, project=world.cast.project, reason="r", flagged_version=secret.version)

    again = call_gate(Client(), world, build_id, world.ado.job_token()).json()
    retried = call_gate(Client(), world, build_id, world.ado.job_token(), attempt=2).json()

    assert first["status"] == again["status"] == "pass"
    assert again["reason"] == first["reason"]
    assert retried["status"] == "fail" and retried["findings"][0]["key"] == "DB_PASSWORD"
    assert GateDecision.objects.filter(gate=world.gate, build_id=build_id).count() == 2
    repeat = AuditEvent.objects.filter(action="gate.evaluated", metadata__stage_attempt=1).order_by("id")
    assert [e.metadata["repeat"] for e in repeat] == [False, True]


def test_it_proves_again_after_a_run_it_could_not_prove(world: GateWorld) -> None:
    build_id, token = world.run()
    refused = call_gate(Client(), world, build_id, "not-a-job-token").json()
    proven = call_gate(Client(), world, build_id, token).json()

    assert refused["status"] == "fail" and proven["status"] == "pass"
    assert GateDecision.objects.get(gate=world.gate, build_id=build_id).status == "pass"


def test_it_is_refused_to_a_disabled_or_deleted_gate(world: GateWorld) -> None:
    from governance.models import PipelineGate

    PipelineGate.objects.filter(pk=world.gate.pk).update(enabled=False)
    build_id, token = world.run()
    assert call_gate(Client(), world, build_id, token).status_code == 401
    world.gate.delete()
    assert call_gate(Client(), world, build_id, token).status_code == 401


def test_it_fails_naming_a_secret_whose_rotation_failed(world: GateWorld) -> None:
    from rotation.models import Rotation, RotationStatus
    from secrets_app.models import Folder

    folder = Folder.objects.get(environment__project=world.cast.project, environment__slug="prod", path="/backend")
    Rotation.objects.create(
        project=world.cast.project, environment=folder.environment, folder=folder, name="app-db",
        kind="postgresql", usernames=["a", "b"], secrets_mapping={"username": "DB_USER", "password": "DB_PASSWORD"},
        status=RotationStatus.FAILED, last_attempted_at=timezone.now(),
    )  # fmt: skip

    _, answer = _ask(world)

    assert [(f["code"], f["key"]) for f in answer["findings"]] == [("rotation_failed", "DB_PASSWORD")]
    assert "rotation 'app-db' failed (last attempt " in answer["reason"]


def test_it_checks_only_the_secrets_the_gates_identity_may_read(world: GateWorld) -> None:
    """The identity reads staging only: prod's leaked secret is not this pipeline's to read, and a
    gate whose pipeline reads nothing fails (a misconfigured gate must not pass silently)."""
    from governance.models import LeakFlag
    from secrets_app.models import IdentityProjectMembership
    from secrets_app.services.members import role_create

    role = role_create(
        scope=world.cast.scope(world.cast.alice),
        slug="staging-reader",
        name="Staging reader",
        rules=[{"effect": "allow", "action": "secrets.*", "environments": ["staging"]}],
    )
    IdentityProjectMembership.objects.filter(identity=world.identity).update(builtin_role="", custom_role=role)
    secret = secret_at(world.cast, "API_KEY")
    LeakFlag.objects.create(secret=secret, project=world.cast.project, reason="r", flagged_version=secret.version)

    _, answer = _ask(world)

    assert answer["status"] == "fail"
    assert answer["reason"] == (
        f"the gate's identity {world.identity.name} may read no secret under /backend in prod: "
        "check the gate's identity, environment and paths"
    )
    assert [finding["code"] for finding in answer["findings"]] == ["nothing_readable"]


def test_it_limits_calls_per_gate_and_client(world: GateWorld, settings: Any) -> None:
    settings.STRONGROOM_GATE_RATE_PER_MINUTE = 2
    build_id, token = world.run()
    answers = [
        call_gate(Client(), world, build_id, token, Authorization=world.basic(password="guess")) for _ in range(3)
    ]

    assert [a.status_code for a in answers] == [401, 401, 429]
    assert int(answers[2]["Retry-After"]) >= 1
    assert AuditEvent.objects.filter(action="gate.auth_failed").count() == 2


def test_it_counts_made_up_gate_ids_in_one_bucket_per_client(world: GateWorld, settings: Any) -> None:
    """Spraying ids that are not gates (any text) is limited like asking one gate."""
    settings.STRONGROOM_GATE_RATE_PER_MINUTE = 2
    # A client address of its own: other tests' calls with unknown ids count in 127.0.0.1's bucket.
    client_ip = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    paths = ["not-a-gate", "\u00e9\u0004x", "00000000-0000-4000-8000-00000000000"]
    answers = [
        Client(REMOTE_ADDR=client_ip).post(
            f"/api/v1/governance/ado-gates/{path}/check", data="{}", content_type="application/json"
        )
        for path in paths
    ]

    assert [a.status_code for a in answers] == [401, 401, 429]
