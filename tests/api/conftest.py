"""API test helpers: the cast's project ``acme`` with a few secrets, and URL builders."""

from __future__ import annotations

from typing import Any

import pytest

PROJECT = "/api/v1/projects/acme"


def url(suffix: str = "") -> str:
    """A project-scoped URL: ``url("secrets/")`` → ``/api/v1/projects/acme/secrets/``."""
    return f"{PROJECT}/{suffix}"


@pytest.fixture
def seeded(cast: Any) -> Any:
    """``acme`` with DB_PASSWORD in dev, staging and prod (root), and dev:/backend holding API_KEY."""
    from secrets_app.services.folders import folder_create
    from secrets_app.services.secrets import SecretInput, secret_create

    scope = cast.scope(cast.alice)
    for env in ("dev", "staging", "prod"):
        secret_create(
            scope=scope, environment=env, path="/", item=SecretInput(key="DB_PASSWORD", value=f"{env}-password")
        )
    folder_create(scope=scope, environment="dev", path="/", name="backend")
    secret_create(scope=scope, environment="dev", path="/backend", item=SecretInput(key="API_KEY", value="backend-key"))
    return cast


def error_of(response: Any) -> dict[str, Any]:
    """The error body, after checking it has the one shape every API error has."""
    body = response.json()
    assert set(body) == {"error", "requestId"}, body
    assert body["requestId"].startswith("req-")
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]
