"""Run-scoped leases: a lease bound to an Azure DevOps run (proven with System.AccessToken against
the ADO emulator, or by the run_id of an ADO-issued pipeline token) ends when the run completes —
through the run-state service hook (payloads in the documented shape, ado-governance.md §2.1) or,
when the hook was lost, through the beat poller. Real PostgreSQL users throughout."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("AZURE_DEVOPS_CACHE_DIR", tempfile.mkdtemp(prefix="ado-cache-"))

import base64  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from audit.models import AuditEvent  # noqa: E402
from dynamic.models import AdoHookEvent, Lease  # noqa: E402
from tests.dynamic.conftest import pg_role_exists  # noqa: E402
from tests.emulators.azure_devops import AzureDevOpsEmulator  # noqa: E402

PAT = "ado-run-pat-0123456789"
ACCOUNT_ID = "6f2d8a4c-1b3e-4c5d-9e7f-0a1b2c3d4e5f"
PROJECT_ID = "11111111-1111-1111-1111-111111111111"  # the emulator's proj1


@pytest.fixture
def ado(settings: Any) -> Iterator[AzureDevOpsEmulator]:
    settings.STRONGROOM_SYNC_ALLOWED_HOSTS = ["127.0.0.1"]
    with AzureDevOpsEmulator(pats=(PAT,)) as emulator:
        yield emulator


@pytest.fixture
def connection(cast: Any, ado: AzureDevOpsEmulator) -> Any:
    from secrets_app.principals import Principal
    from syncs.services.connections import connection_create

    return connection_create(
        principal=Principal.for_user(cast.alice),
        organization=cast.organization,
        kind="azure_devops",
        method="pat",
        name="ado",
        credentials={"token": PAT},
        config={"organization_url": ado.org_url},
    )


@pytest.fixture
def hook(cast: Any, connection: Any) -> Any:
    return run_hook(cast, connection)


def run_hook(cast: Any, connection: Any) -> Any:
    """The run hook, configured by an org admin; ``hook.password`` is the generated password."""
    from dynamic.services.ado_hooks import ado_run_hook_save
    from secrets_app.models import OrganizationMembership, OrgRole
    from secrets_app.principals import Principal

    OrganizationMembership.objects.filter(organization=cast.organization, user=cast.alice).update(role=OrgRole.ADMIN)
    saved, password = ado_run_hook_save(
        principal=Principal.for_user(cast.alice),
        organization=cast.organization,
        connection_id=str(connection.public_id),
        account_id=ACCOUNT_ID,
    )
    saved.password = password
    return saved


def run_state_event(build_id: int, *, state: str = "completed", result: str = "succeeded", **overrides: Any) -> dict:
    """``ms.vss-pipelines.run-state-changed-event`` in the documented shape (§2.1)."""
    created = overrides.pop("created", datetime.datetime.now(datetime.UTC))
    run_url = f"https://dev.azure.com/acme/{PROJECT_ID}/_apis/Pipelines/7/runs/{build_id}"
    body = {
        "id": overrides.pop("event_id", str(uuid.uuid4())),
        "eventType": "ms.vss-pipelines.run-state-changed-event",
        "publisherId": "pipelines",
        "message": {"text": f"Run {build_id} {result}.", "html": "", "markdown": ""},
        "detailedMessage": {"text": f"Run {build_id} {result}."},
        "resource": {
            "run": {
                "_links": {
                    "self": {"href": run_url},
                    "web": {"href": f"https://dev.azure.com/acme/{PROJECT_ID}/_build/results?buildId={build_id}"},
                },
                "pipeline": {"url": "", "id": 7, "revision": 1, "name": "web-ci", "folder": "\\"},
                "state": state,
                "result": result,
                "createdDate": "2026-09-01T10:00:00.000Z",
                "finishedDate": "2026-09-01T10:05:00.000Z",
                "url": run_url,
                "id": build_id,
                "name": str(build_id),
            },
            "pipeline": {"url": "", "id": 7, "revision": 1, "name": "web-ci", "folder": "\\"},
        },
        "resourceVersion": "5.1-preview.1",
        "resourceContainers": {
            "collection": {"id": ACCOUNT_ID},
            "account": {"id": overrides.pop("account_id", ACCOUNT_ID)},
            "project": {"id": overrides.pop("project_id", PROJECT_ID)},
        },
        "createdDate": created.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
    }
    body.update(overrides)
    return body


def post_hook(client: Any, hook: Any, body: dict, *, password: str | None = None) -> Any:
    credentials = base64.b64encode(f"{hook.username}:{password or hook.password}".encode()).decode()
    return client.post(
        f"/api/v1/hooks/azure-devops/{hook.public_id}/run-state",
        data=json.dumps(body),
        content_type="application/json; charset=utf-8",
        HTTP_AUTHORIZATION=f"Basic {credentials}",
    )


def pipeline_login(cast: Any, issuer: Any, build: int) -> tuple[Any, str]:
    """A machine identity (project member) whose JWT auth pins the Azure DevOps issuer, logged in
    with a pipeline OIDC token of *build*: (the identity, its access token)."""
    from secrets_app.identities.jwt_auth import jwt_auth_configure, jwt_auth_login
    from secrets_app.models import IdentityProjectMembership, MachineIdentity
    from secrets_app.principals import Principal
    from tests.emulators.oidc_issuer import ADO_AUDIENCE, vstoken_issuer

    robot = MachineIdentity.objects.create(organization=cast.organization, name="ado-pipeline")
    IdentityProjectMembership.objects.create(project=cast.project, identity=robot, builtin_role="member")
    jwt_auth_configure(
        principal=Principal.for_user(cast.alice),
        identity=robot,
        config_type="static",
        public_keys=[issuer.public_pem("rsa-1")],
        bound_issuer=vstoken_issuer(ACCOUNT_ID),
        bound_audiences=ADO_AUDIENCE,
    )
    pipeline_token = issuer.mint_ado_pipeline(
        organization_id=ACCOUNT_ID, organization="acme", project="proj1", project_id=PROJECT_ID,
        pipeline="web-ci", run_id=build,
    )  # fmt: skip
    return robot, jwt_auth_login(identity_id=str(robot.public_id), jwt=pipeline_token, ip="127.0.0.1").access_token


def lease_for_run(api: Any, cast: Any, secret: Any, ado: AzureDevOpsEmulator, build_id: int, token: str | None = None):
    response = api(cast.alice).post(
        f"/api/v1/projects/acme/dynamic-secrets/{secret.public_id}/leases/",
        {"adoRun": f"acme/proj1/{build_id}", "adoAccessToken": token or ado.job_token("proj1")},
        format="json",
    )
    return response


@pytest.mark.django_db
def test_a_completed_run_hook_revokes_only_that_runs_leases(
    cast: Any, pg_secret: Any, ado: AzureDevOpsEmulator, hook: Any, api: Any
) -> None:
    first, second = ado.add_build(), ado.add_build()
    ending = [lease_for_run(api, cast, pg_secret, ado, first).json() for _ in range(2)]
    staying = lease_for_run(api, cast, pg_secret, ado, second).json()
    users = [body["data"]["DB_USERNAME"] for body in ending]
    assert all(pg_role_exists(user) for user in [*users, staying["data"]["DB_USERNAME"]])
    assert ending[0]["lease"]["adoRun"] == {
        "organization": ado.org_url,
        "projectId": PROJECT_ID,
        "buildId": first,
        "state": "inProgress",
        "boundBy": "access_token",
    }

    answer = post_hook(api(), hook, run_state_event(first))

    assert answer.status_code == 200, answer.content
    assert answer.json() == {"status": "accepted", "leases": 2, "revoked": 2}
    assert not any(pg_role_exists(user) for user in users)
    assert pg_role_exists(staying["data"]["DB_USERNAME"])
    assert Lease.objects.get(public_id=staying["lease"]["id"]).status == "active"
    ended = Lease.objects.filter(public_id__in=[body["lease"]["id"] for body in ending])
    assert {(lease.status, lease.ado_run_state) for lease in ended} == {("revoked", "completed")}
    assert AuditEvent.objects.filter(action="lease.run_ended").count() == 2


@pytest.mark.django_db
def test_a_replayed_hook_is_a_no_op(cast: Any, pg_secret: Any, ado: AzureDevOpsEmulator, hook: Any, api: Any) -> None:
    build = ado.add_build()
    lease_for_run(api, cast, pg_secret, ado, build)
    event = run_state_event(build)
    assert post_hook(api(), hook, event).json()["status"] == "accepted"
    audit_rows = AuditEvent.objects.count()

    replay = post_hook(api(), hook, event)

    assert replay.status_code == 200 and replay.json() == {"status": "replay", "leases": 0, "revoked": 0}
    assert AuditEvent.objects.count() == audit_rows
    assert AdoHookEvent.objects.filter(event_id=event["id"]).count() == 1


@pytest.mark.django_db
def test_a_hook_with_bad_basic_auth_is_refused_and_audited(
    cast: Any, pg_secret: Any, ado: AzureDevOpsEmulator, hook: Any, api: Any
) -> None:
    build = ado.add_build()
    lease = lease_for_run(api, cast, pg_secret, ado, build).json()
    wrong = "not-the-password-" + uuid.uuid4().hex

    refused = post_hook(api(), hook, run_state_event(build), password=wrong)
    bare = api().post(f"/api/v1/hooks/azure-devops/{hook.public_id}/run-state", run_state_event(build), format="json")

    assert refused.status_code == 401 and bare.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"
    assert pg_role_exists(lease["data"]["DB_USERNAME"])
    failures = AuditEvent.objects.filter(action="ado_hook.auth_failed")
    assert [event.outcome for event in failures] == ["deny", "deny"]
    assert {event.metadata["reason"] for event in failures} == {"wrong username or password", "no Basic credentials"}
    everything = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert wrong not in everything and hook.password not in everything
    assert not AdoHookEvent.objects.exists()


@pytest.mark.django_db
def test_a_stale_or_foreign_event_is_refused(
    cast: Any, pg_secret: Any, ado: AzureDevOpsEmulator, hook: Any, api: Any
) -> None:
    build = ado.add_build()
    lease = lease_for_run(api, cast, pg_secret, ado, build).json()
    old = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=11)

    stale = post_hook(api(), hook, run_state_event(build, created=old))
    foreign = post_hook(api(), hook, run_state_event(build, account_id=str(uuid.uuid4())))
    not_ours = post_hook(api(), hook, {**run_state_event(build), "eventType": "build.complete"})

    assert stale.status_code == 400 and "too old" in stale.json()["error"]["message"]
    assert foreign.status_code == 403
    assert not_ours.status_code == 400
    assert pg_role_exists(lease["data"]["DB_USERNAME"])
    reasons = sorted(e.metadata["reason"] for e in AuditEvent.objects.filter(action="ado_hook.event_refused"))
    assert reasons == ["another Azure DevOps organization", "stale event"]


@pytest.mark.django_db
def test_an_explicit_ado_run_needs_a_build_in_progress_and_never_keeps_the_token(
    cast: Any, pg_secret: Any, ado: AzureDevOpsEmulator, connection: Any, api: Any
) -> None:
    from tests.secrets_app.conftest import dump_tables

    running, done = ado.add_build(), ado.add_build(status="completed")
    token = ado.job_token("proj1")
    other_project = ado.add_project("other")
    elsewhere = ado.add_build(project="other")

    accepted = lease_for_run(api, cast, pg_secret, ado, running, token)
    completed = lease_for_run(api, cast, pg_secret, ado, done, token)
    unknown = lease_for_run(api, cast, pg_secret, ado, 999_999, token)
    wrong_token = lease_for_run(api, cast, pg_secret, ado, running, "job.forged")
    wrong_project = api(cast.alice).post(
        f"/api/v1/projects/acme/dynamic-secrets/{pg_secret.public_id}/leases/",
        {"adoRun": f"acme/other/{elsewhere}", "adoAccessToken": token},
        format="json",
    )
    unknown_org = api(cast.alice).post(
        f"/api/v1/projects/acme/dynamic-secrets/{pg_secret.public_id}/leases/",
        {"adoRun": f"contoso/proj1/{running}", "adoAccessToken": token},
        format="json",
    )

    assert accepted.status_code == 201, accepted.content
    assert accepted.json()["lease"]["adoRun"]["buildId"] == running
    assert completed.status_code == 400 and "is completed" in completed.json()["error"]["message"]
    assert unknown.status_code == 400 and "was not found" in unknown.json()["error"]["message"]
    assert wrong_token.status_code == 400 and "did not accept" in wrong_token.json()["error"]["message"]
    assert wrong_project.status_code == 400 and other_project  # the run's token cannot vouch for another project
    assert unknown_org.status_code == 400 and "no Azure DevOps connection" in unknown_org.json()["error"]["message"]
    assert Lease.objects.count() == 1  # nothing issued for a refused run
    # The token went to the connection's organization only, and nowhere into our storage.
    reads = [r for r in ado.build_reads() if r.headers.get("authorization") == f"Bearer {token}"]
    assert {r.path for r in reads} >= {f"/acme/proj1/_apis/build/Builds/{running}"}
    stored = json.dumps(dump_tables(), default=str)
    assert token not in stored
    assert token not in accepted.content.decode() and token not in completed.content.decode()


@pytest.mark.django_db
def test_the_poller_revokes_the_leases_of_a_run_whose_hook_was_lost(
    cast: Any, pg_secret: Any, ado: AzureDevOpsEmulator, connection: Any, api: Any, settings: Any
) -> None:
    from dynamic.services.ado_runs import ado_runs_poll

    settings.STRONGROOM_ADO_RUN_POLL_SECONDS = 0
    builds = [ado.add_build() for _ in range(3)]
    leases = [lease_for_run(api, cast, pg_secret, ado, build).json() for build in builds]
    ado.finish_build(builds[1], result="canceled")  # no hook arrives (subscription on probation)
    before = len(ado.build_reads())

    counts = ado_runs_poll()

    assert counts["requests"] == 1 and counts["completed"] == 1 and counts["revoked"] == 1
    polls = ado.build_reads()[before:]
    assert [r.query.get("buildIds") for r in polls if r.query.get("buildIds")] == [[",".join(map(str, builds))]]
    assert not pg_role_exists(leases[1]["data"]["DB_USERNAME"])
    assert pg_role_exists(leases[0]["data"]["DB_USERNAME"]) and pg_role_exists(leases[2]["data"]["DB_USERNAME"])
    assert Lease.objects.get(public_id=leases[1]["lease"]["id"]).status == "revoked"

    ado.fail_next(429, retry_after=30, path_contains="/build/")
    paused = ado_runs_poll()
    assert paused["paused"] == 1 and ado_runs_poll()["paused"] == 1  # Retry-After honoured: no request


@pytest.mark.django_db
def test_a_pipeline_oidc_token_binds_its_leases_to_its_run_and_an_entra_token_does_not(
    cast: Any, pg_secret: Any, ado: AzureDevOpsEmulator, hook: Any, api: Any
) -> None:
    from secrets_app.identities.jwt_auth import jwt_auth_configure, jwt_auth_login
    from secrets_app.principals import Principal
    from tests.emulators.oidc_issuer import OidcIssuer, entra_issuer

    issuer = OidcIssuer(tls=False)
    try:
        build = ado.add_build()
        robot, access = pipeline_login(cast, issuer, build)

        client = api()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
        bound = client.post(f"/api/v1/projects/acme/dynamic-secrets/{pg_secret.public_id}/leases/", {}, format="json")
        assert bound.status_code == 201, bound.content
        assert bound.json()["lease"]["adoRun"] == {
            "organization": ado.org_url,
            "projectId": PROJECT_ID,
            "buildId": build,
            "state": "inProgress",
            "boundBy": "oidc",
        }

        # The AzureCLI@2 $idToken: issued by Entra, no run id: never binds.
        jwt_auth_configure(
            principal=Principal.for_user(cast.alice),
            identity=robot,
            config_type="static",
            public_keys=[issuer.public_pem("rsa-1")],
            bound_issuer=entra_issuer(ACCOUNT_ID),
        )
        entra = issuer.mint_ado_entra(
            tenant_id=ACCOUNT_ID, organization_id=ACCOUNT_ID, service_connection_id=str(uuid.uuid4()),
            run_id=str(build),
        )  # fmt: skip
        entra_access = jwt_auth_login(identity_id=str(robot.public_id), jwt=entra, ip="127.0.0.1").access_token
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {entra_access}")
        unbound = client.post(f"/api/v1/projects/acme/dynamic-secrets/{pg_secret.public_id}/leases/", {}, format="json")
        assert unbound.status_code == 201 and unbound.json()["lease"]["adoRun"] is None

        assert post_hook(api(), hook, run_state_event(build)).json()["revoked"] == 1
        assert not pg_role_exists(bound.json()["data"]["DB_USERNAME"])
        assert pg_role_exists(unbound.json()["data"]["DB_USERNAME"])
    finally:
        issuer.stop()
