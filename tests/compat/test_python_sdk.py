"""The official Python SDK (``infisicalsdk`` from PyPI), unmodified, against a live server."""

from __future__ import annotations

from typing import Any

import pytest

from tests.compat.live import live  # noqa: F401 (fixture)

infisical_sdk = pytest.importorskip("infisical_sdk")

pytestmark = pytest.mark.slow


def test_python_sdk_universal_auth_secrets_folders_imports(live: Any) -> None:  # noqa: F811
    site_url, cast, machine = live
    with infisical_sdk.InfisicalSDKClient(host=site_url, cache_ttl=None) as client:
        _exercise(client, cast, machine)  # closed after: no keep-alive connection outlives the server


def _exercise(client: Any, cast: Any, machine: Any) -> None:
    project_id = str(cast.project.public_id)
    login = client.auth.universal_auth.login(client_id=machine.client_id, client_secret=machine.client_secret)
    assert login.tokenType == "Bearer" and login.expiresIn == 3600

    # list: references expanded on the server, imports in their own section
    listed = client.secrets.list_secrets(environment_slug="dev", secret_path="/", project_id=project_id)
    values = {secret.secretKey: secret.secretValue for secret in listed.secrets}
    assert values == {"HOST": "dev.internal", "URL": "https://dev.internal/x"}
    assert [(i.secretPath, i.environment) for i in listed.imports] == [("/common", "dev")]
    # the SDK keeps imported secrets as dicts
    assert [(s["secretKey"], s["secretValue"]) for s in listed.imports[0].secrets] == [("COMMON", "c0mmon")]
    by_slug = client.secrets.list_secrets(
        environment_slug="dev", secret_path="/", project_slug="acme", include_imports=False
    )
    assert by_slug.imports == [] and len(by_slug.secrets) == 2

    # get (the Azure DevOps guide's secret), create, update, delete
    secret = client.secrets.get_secret_by_name(
        secret_name="DATABASE_URL", environment_slug="prod", secret_path="/backend/api", project_id=project_id
    )
    assert secret.secretValue == "postgres://app@db.prod:5432/app" and secret.workspace == project_id
    created = client.secrets.create_secret_by_name(
        secret_name="API_KEY",
        project_id=project_id,
        secret_path="/",
        environment_slug="dev",
        secret_value="first",
        secret_comment="from the python sdk",
    )
    assert created.secretKey == "API_KEY" and created.version == 1 and created.secretComment == "from the python sdk"
    updated = client.secrets.update_secret_by_name(
        current_secret_name="API_KEY",
        project_id=project_id,
        secret_path="/",
        environment_slug="dev",
        secret_value="second",
        new_secret_name="API_TOKEN",
    )
    assert updated.secretKey == "API_TOKEN" and updated.version == 2
    fetched = client.secrets.get_secret_by_name(
        secret_name="API_TOKEN", project_id=project_id, environment_slug="dev", secret_path="/"
    )
    assert fetched.secretValue == "second"
    deleted = client.secrets.delete_secret_by_name(
        secret_name="API_TOKEN", project_id=project_id, environment_slug="dev", secret_path="/"
    )
    assert deleted.secretKey == "API_TOKEN"
    with pytest.raises(Exception) as missing:
        client.secrets.get_secret_by_name(
            secret_name="API_TOKEN", project_id=project_id, environment_slug="dev", secret_path="/"
        )
    assert getattr(missing.value, "status_code", None) == 404

    # folders (v2 routes; the SDK sends recursive=False capitalised)
    folder = client.folders.create_folder(name="payments", environment_slug="dev", project_id=project_id, path="/")
    assert folder.path == "/payments" and folder.envId
    names = [
        f.name for f in client.folders.list_folders(project_id=project_id, environment_slug="dev", path="/").folders
    ]
    assert names == ["common", "payments"]
    assert (
        len(
            client.folders.list_folders(
                project_id=project_id, environment_slug="prod", path="/", recursive=True
            ).folders
        )
        == 2
    )
    one = client.folders.get_folder_by_id(folder.id)
    assert one.path == "/payments" and one.environment.envSlug == "dev" and one.projectId == project_id
    renamed = client.folders.update_folder(
        folder_id=folder.id, name="billing", environment_slug="dev", project_id=project_id, path="/"
    )
    assert renamed.path == "/billing"
    gone = client.folders.delete_folder(
        folder_id_or_name=folder.id, environment_slug="dev", project_id=project_id, path="/"
    )
    assert gone.name == "billing"
    names = [
        f.name for f in client.folders.list_folders(project_id=project_id, environment_slug="dev", path="/").folders
    ]
    assert names == ["common"]
