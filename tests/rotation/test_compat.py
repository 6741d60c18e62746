"""Infisical's Secret Rotation v2 routes (``/compat/infisical/api/v2/secret-rotations``) against real
targets (the password-checking private PostgreSQL cluster and the machine's MariaDB), called with
machine identity access tokens from the compat login and people's API tokens: Infisical's shapes,
list / get / by name / rotate; a member reads but may not rotate (403), another project's or another
organization's caller gets 404 and changes nothing; rotate while a run holds the rotation is a 400
saying so; a queued rotate is completed by a real run; no password in any answer.

PYTEST_DONT_REWRITE: these assertions handle real passwords, so a failure reports the line, never the
values pytest's rewriting would print.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.compat.conftest import BASE, login, make_machine
from tests.rotation.conftest import RotationTarget, define_rotation, owned_values
from tests.rotation.conftest import login as db_login

pytestmark = pytest.mark.django_db
ROT = f"{BASE}/api/v2/secret-rotations"


class Calls:
    """A Django test client that keeps every answer's body, for the sweep for passwords at the end."""

    def __init__(self) -> None:
        self.client = Client()
        self.bodies: list[str] = []

    def get(self, url: str, token: str | None) -> Any:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        response = self.client.get(url, **headers)
        self.bodies.append(response.content.decode())
        return response

    def post(self, url: str, token: str | None) -> Any:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        response = self.client.post(url, "", content_type="application/json", **headers)
        self.bodies.append(response.content.decode())
        return response

    def leaked(self, secrets: list[str]) -> bool:
        text = "\n".join(self.bodies)
        return any(secret and secret in text for secret in secrets)


def _error(response: Any, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.status_code
    body = response.json()
    assert (body["statusCode"], body["error"]) == (status, error) and body["reqId"].startswith("req-")
    return body


def _token(project: Any, name: str, role: str) -> str:
    return login(Client(), make_machine(project, name, role))


def _passwords(*targets: RotationTarget) -> list[str]:
    return [secret for target in targets for secret in (target.db.password, *target.passwords.values())]


@pytest.fixture
def two_rotations(cast: Any, allow_local: None, pg_rotation_target: RotationTarget, mysql_rotation_target: RotationTarget) -> Any:  # fmt: skip
    pg = define_rotation(cast, pg_rotation_target, name="pg-app", description="app database")
    mysql = define_rotation(
        cast,
        mysql_rotation_target,
        name="mysql-app",
        mapping={"username": "MYSQL_USERNAME", "password": "MYSQL_PASSWORD"},
    )
    return pg, mysql


def test_it_lists_gets_and_finds_rotations_by_name_in_infisicals_shape(
    cast: Any, two_rotations: Any, pg_rotation_target: RotationTarget, mysql_rotation_target: RotationTarget
) -> None:
    pg, mysql = two_rotations
    calls, token = Calls(), _token(cast.project, "rot-admin", "admin")
    project_id = str(cast.project.public_id)

    everything = calls.get(f"{ROT}?projectId={project_id}", token)
    assert everything.status_code == 200
    assert sorted((item["name"], item["type"]) for item in everything.json()["secretRotations"]) == [
        ("mysql-app", "mysql-credentials"),
        ("pg-app", "postgres-credentials"),
    ]
    typed = calls.get(f"{ROT}/postgres-credentials?projectId=acme", token).json()["secretRotations"]
    assert [item["id"] for item in typed] == [str(pg.public_id)]

    got = calls.get(f"{ROT}/postgres-credentials/{pg.public_id}", token)
    assert got.status_code == 200 and got["ETag"]
    shape = got.json()["secretRotation"]
    assert {key: shape[key] for key in ("id", "name", "description", "type", "projectId", "activeIndex")} == {
        "id": str(pg.public_id),
        "name": "pg-app",
        "description": "app database",
        "type": "postgres-credentials",
        "projectId": project_id,
        "activeIndex": 0,
    }
    assert shape["environment"]["slug"] == "dev" and set(shape["environment"]) == {"slug", "name", "id"}
    assert shape["folder"]["path"] == "/" and shape["folder"]["id"] == shape["folderId"]
    assert shape["parameters"]["username1"] == pg_rotation_target.users[0]
    assert shape["parameters"]["username2"] == pg_rotation_target.users[1]
    assert shape["secretsMapping"] == {"username": "DB_USERNAME", "password": "DB_PASSWORD"}
    connection = shape["connection"]
    assert (connection["app"], connection["id"], connection["host"], connection["username"]) == (
        "postgres",
        shape["connectionId"],
        "127.0.0.1",
        pg_rotation_target.db.username,
    )
    assert "password" not in connection
    assert (shape["isAutoRotationEnabled"], shape["rotationInterval"], shape["rotateAtUtc"]) == (
        True,
        30,
        {"hours": 0, "minutes": 0},
    )
    assert (shape["rotationStatus"], shape["lastRotatedAt"], shape["lastRotationMessage"]) == ("pending", None, None)
    assert shape["nextRotationAt"] and shape["createdAt"].endswith("Z")

    by_name = calls.get(
        f"{ROT}/mysql-credentials/rotation-name/mysql-app?projectId={project_id}&environment=dev&secretPath=/", token
    )
    assert by_name.status_code == 200 and by_name.json()["secretRotation"]["id"] == str(mysql.public_id)
    assert by_name.json()["secretRotation"]["connection"]["app"] == "mysql"
    assert by_name.json()["secretRotation"]["secretsMapping"]["password"] == "MYSQL_PASSWORD"

    # the type in the URL must be the rotation's; unknown types and names are 404s; a missing project 422
    _error(calls.get(f"{ROT}/mysql-credentials/{pg.public_id}", token), 404, "NotFound")
    _error(calls.get(f"{ROT}/mssql-credentials?projectId=acme", token), 404, "NotFound")
    _error(
        calls.get(
            f"{ROT}/postgres-credentials/rotation-name/mysql-app?projectId=acme&environment=dev&secretPath=/", token
        ),
        404,
        "NotFound",
    )
    _error(calls.get(f"{ROT}/postgres-credentials/{'0' * 8}-0000-4000-8000-{'0' * 12}", token), 404, "NotFound")
    missing = _error(calls.get(f"{ROT}/postgres-credentials", token), 422, "ValidationFailure")
    assert missing["message"][0]["path"] == ["projectId"]
    assert not calls.leaked(_passwords(pg_rotation_target, mysql_rotation_target))


def test_rotate_queues_a_run_that_a_real_run_completes_and_a_held_rotation_says_so(
    cast: Any, allow_local: None, pg_rotation_target: RotationTarget, django_capture_on_commit_callbacks: Any
) -> None:
    from django.utils import timezone

    from audit.models import AuditEvent
    from rotation.models import Rotation
    from rotation.services.engine import _claim, rotation_run

    target = pg_rotation_target
    rotation = define_rotation(cast, target)
    calls, token = Calls(), _token(cast.project, "rot-admin", "admin")
    url = f"{ROT}/postgres-credentials/{rotation.public_id}"

    with django_capture_on_commit_callbacks() as queued:
        rotated = calls.post(f"{url}/rotate-secrets", token)
    assert rotated.status_code == 200 and rotated.json()["secretRotation"]["id"] == str(rotation.public_id)
    assert rotated.json()["secretRotation"]["rotationStatus"] == "queued"  # not the outcome of an earlier run
    assert len(queued) == 1  # one run queued (the worker's task), nothing rotated inside the request
    assert AuditEvent.objects.filter(action="rotation.rotate_requested", resource_id=str(rotation.public_id)).exists()

    assert rotation_run(rotation_id=rotation.pk, trigger="manual").outcome == "success"  # the queued run
    after = calls.get(url, token).json()["secretRotation"]
    assert (after["rotationStatus"], after["activeIndex"], after["lastRotationMessage"]) == ("success", 0, None)
    assert after["lastRotatedAt"] and after["lastRotationAttemptedAt"]
    values = owned_values(cast)
    assert values["DB_USERNAME"] == target.users[0] and db_login(target, target.users[0], values["DB_PASSWORD"])

    _claim(rotation.pk, timezone.now())  # a run holds it now
    assert calls.get(url, token).json()["secretRotation"]["rotationStatus"] == "running"
    with django_capture_on_commit_callbacks() as refused_runs:
        held = calls.post(f"{url}/rotate-secrets", token)
    assert "already running" in _error(held, 400, "BadRequest")["message"] and refused_runs == []
    _error(calls.post(f"{ROT}/mysql-credentials/{rotation.public_id}/rotate-secrets", token), 404, "NotFound")
    assert Rotation.objects.get(pk=rotation.pk).active_index == 0
    assert not calls.leaked([*_passwords(target), values["DB_PASSWORD"]])


def test_members_read_but_may_not_rotate_and_other_projects_and_organizations_get_404(
    cast: Any, token_for: Any, allow_local: None, pg_rotation_target: RotationTarget,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    from rotation.models import Rotation
    from secrets_app.principals import Principal
    from secrets_app.services.projects import project_create

    rotation = define_rotation(cast, pg_rotation_target)
    calls = Calls()
    item = f"{ROT}/postgres-credentials/{rotation.public_id}"
    by_name = f"{ROT}/postgres-credentials/rotation-name/db?projectId=acme&environment=dev&secretPath=/"
    listing = f"{ROT}?projectId={cast.project.public_id}"

    member = _token(cast.project, "rot-member", "member")
    assert calls.get(listing, member).json()["secretRotations"][0]["id"] == str(rotation.public_id)
    assert calls.get(item, member).status_code == 200 and calls.get(by_name, member).status_code == 200
    with django_capture_on_commit_callbacks() as queued:
        refused = _error(calls.post(f"{item}/rotate-secrets", member), 403, "PermissionDenied")
    assert refused["details"] and queued == []

    other_project = project_create(
        principal=Principal.for_user(cast.alice), organization=cast.organization, slug="other", name="Other"
    )
    outsiders = {
        "identity of another project": _token(other_project, "other-admin", "admin"),
        "identity of another organization": _token(cast.other_project, "evil-admin", "admin"),
        "charlie (organization, no project)": token_for(cast.charlie),
        "mallory (another organization)": token_for(cast.mallory),
    }
    for who, token in outsiders.items():
        for url in (listing, f"{ROT}/postgres-credentials?projectId=acme", item, by_name):
            assert calls.get(url, token).status_code == 404, who
        with django_capture_on_commit_callbacks() as queued:
            _error(calls.post(f"{item}/rotate-secrets", token), 404, "NotFound")
        assert queued == [], who
    assert calls.get(item, token_for(cast.alice)).status_code == 200  # a person's API token works too

    _error(calls.get(listing, None), 401, "UnauthorizedError")
    _error(calls.post(f"{item}/rotate-secrets", None), 401, "UnauthorizedError")
    assert Rotation.objects.get(pk=rotation.pk).status == "new"
    assert not calls.leaked(_passwords(pg_rotation_target))


def _stored_rotation(cast: Any, *, name: str, kind: str, config: dict[str, Any], usernames: list[str],
                     mapping: dict[str, str], credentials: dict[str, str]) -> Any:  # fmt: skip
    """A rotation row as rotation_create stores it, without the live check against the provider's
    target (the routes here only read it and queue runs; tests/rotation/test_aws_iam.py and
    test_azure_client_secret.py run those kinds against their emulators)."""
    from rotation.models import Rotation
    from rotation.sealing import seal_root
    from secrets_app.models import Folder

    folder = Folder.objects.get(project=cast.project, environment__slug="dev", path="/")
    rotation = Rotation(
        project=cast.project, environment=folder.environment, folder=folder, name=name, kind=kind, config=config,
        usernames=usernames, secrets_mapping=mapping, interval_days=7, rotate_at_hour=2, rotate_at_minute=15,
    )  # fmt: skip
    rotation.credentials_ciphertext = seal_root(rotation, credentials)
    rotation.save()
    return rotation


def test_aws_iam_key_rotations_answer_as_aws_iam_user_secret(
    cast: Any, django_capture_on_commit_callbacks: Any
) -> None:
    root = {"accessKey": "AKIAROOTCANARY000001", "secretAccessKey": "root-secret-canary-0123456789abcdef"}
    rotation = _stored_rotation(
        cast, name="ci-deployer", kind="aws_iam_access_key", usernames=["ci-deployer"], credentials=root,
        config={"region": "eu-west-1", "endpointUrl": "https://iam.example.test"},
        mapping={"key_id": "AWS_ACCESS_KEY_ID", "secret": "AWS_SECRET_ACCESS_KEY"},
    )  # fmt: skip
    calls, token = Calls(), _token(cast.project, "rot-admin", "admin")

    listed = calls.get(f"{ROT}/aws-iam-user-secret?projectId=acme", token).json()["secretRotations"]
    assert [item["id"] for item in listed] == [str(rotation.public_id)]
    shape = calls.get(f"{ROT}/aws-iam-user-secret/{rotation.public_id}", token).json()["secretRotation"]
    assert (shape["type"], shape["parameters"], shape["secretsMapping"]) == (
        "aws-iam-user-secret",
        {"userName": "ci-deployer", "region": "eu-west-1"},
        {"accessKeyId": "AWS_ACCESS_KEY_ID", "secretAccessKey": "AWS_SECRET_ACCESS_KEY"},
    )
    assert shape["connection"]["app"] == "aws" and shape["connection"]["endpointUrl"] == "https://iam.example.test"
    assert (shape["rotationInterval"], shape["rotateAtUtc"]) == (7, {"hours": 2, "minutes": 15})
    assert calls.get(f"{ROT}?projectId=acme", token).json()["secretRotations"][0]["type"] == "aws-iam-user-secret"
    _error(calls.get(f"{ROT}/postgres-credentials/{rotation.public_id}", token), 404, "NotFound")
    with django_capture_on_commit_callbacks() as queued:
        assert calls.post(f"{ROT}/aws-iam-user-secret/{rotation.public_id}/rotate-secrets", token).status_code == 200
    assert len(queued) == 1
    assert not calls.leaked(list(root.values()))


def test_entra_client_secret_rotations_answer_as_azure_client_secret(cast: Any) -> None:
    root = {"adminClientSecret": "admin-secret-canary-0123456789abcdef"}
    object_id, client_id = "11111111-2222-4333-8444-555555555555", "66666666-7777-4888-9999-000000000000"
    rotation = _stored_rotation(
        cast, name="web-app", kind="azure_client_secret", usernames=[object_id], credentials=root,
        config={"tenantId": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "objectId": object_id, "clientId": client_id,
                "adminClientId": "99999999-8888-4777-8666-555555555555"},
        mapping={"client_id": "AZURE_CLIENT_ID", "client_secret": "AZURE_CLIENT_SECRET"},
    )  # fmt: skip
    calls, token = Calls(), _token(cast.project, "rot-member", "member")

    shape = calls.get(
        f"{ROT}/azure-client-secret/rotation-name/web-app?projectId=acme&environment=dev&secretPath=/", token
    ).json()["secretRotation"]
    assert (shape["id"], shape["type"], shape["parameters"], shape["secretsMapping"]) == (
        str(rotation.public_id),
        "azure-client-secret",
        {"objectId": object_id, "clientId": client_id},
        {"clientId": "AZURE_CLIENT_ID", "clientSecret": "AZURE_CLIENT_SECRET"},
    )
    assert shape["connection"]["app"] == "azure-client-secrets" and "adminClientSecret" not in shape["connection"]
    assert [item["name"] for item in calls.get(f"{ROT}/azure-client-secret?projectId=acme", token).json()["secretRotations"]] == ["web-app"]  # fmt: skip
    _error(calls.post(f"{ROT}/azure-client-secret/{rotation.public_id}/rotate-secrets", token), 403, "PermissionDenied")
    assert not calls.leaked(list(root.values()))
