"""The Infisical Kubernetes operator's request sequence over plain HTTP (``reference/infisical-api.md``
§8): login → project by slug → list with the previous ETag → 304 while nothing changed."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from secrets_app.services.secrets import SecretInput, secret_update
from tests.compat.live import live  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


def test_operator_login_project_by_slug_list_with_etag(live: Any) -> None:  # noqa: F811
    site_url, cast, machine = live
    api = site_url + "/api"
    with requests.Session() as http:
        http.headers["User-Agent"] = "k8-operator/v0.11.5"
        login = http.post(
            f"{api}/v1/auth/universal-auth/login/",
            json={"clientId": machine.client_id, "clientSecret": machine.client_secret},
            timeout=10,
        )
        assert login.status_code == 200, login.text
        http.headers["Authorization"] = "Bearer " + login.json()["accessToken"]
        project = http.get(f"{api}/v2/workspace/acme", timeout=10).json()
        assert project["slug"] == "acme" and project["id"] == str(cast.project.public_id)
        query = {
            "workspaceId": project["id"],
            "workspaceSlug": "",
            "environment": "prod",
            "secretPath": "/backend/api",
            "expandSecretReferences": "true",
            "include_imports": "true",
            "recursive": "false",
        }
        first = http.get(f"{api}/v3/secrets/raw", params=query, timeout=10)
        assert first.status_code == 200 and first.headers["ETag"]
        assert [s["secretKey"] for s in first.json()["secrets"]] == ["DATABASE_URL"]
        repeat = http.get(
            f"{api}/v3/secrets/raw", params=query, headers={"If-None-Match": first.headers["ETag"]}, timeout=10
        )
        assert repeat.status_code == 304 and repeat.content == b""
        secret_update(
            scope=cast.scope(cast.alice),
            environment="prod",
            path="/backend/api",
            key="DATABASE_URL",
            item=SecretInput(key="DATABASE_URL", value="postgres://app@db2.prod:5432/app"),
        )
        changed = http.get(
            f"{api}/v3/secrets/raw", params=query, headers={"If-None-Match": first.headers["ETag"]}, timeout=10
        )
        assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]
        assert changed.json()["secrets"][0]["secretValue"] == "postgres://app@db2.prod:5432/app"
        single = http.get(
            f"{api}/v3/secrets/raw/DATABASE_URL",
            params={**query, "type": "shared"},
            timeout=10,
        )
        assert single.status_code == 200 and single.json()["secret"]["version"] == 2
