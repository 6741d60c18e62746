"""The parity tests' known history: staging, prod and dev with missing, extra and same-value keys."""

from __future__ import annotations

from typing import Any

import pytest

from secrets_app.services.folders import folder_ensure
from secrets_app.services.secrets import SecretInput, secret_create

STAGING_DB = "postgres://staging-db-value-7f3a"
PROD_DB = "postgres://prod-db-value-91bc"
SHARED_TOKEN = "shared-token-value-5d2e"
ALL_VALUES = [STAGING_DB, PROD_DB, SHARED_TOKEN, "dev-only-value-c1", "prod-extra-value-3b", "api-key-same-9e"]


@pytest.fixture
def history(cast: Any) -> Any:
    """staging → prod at /: DATABASE_URL differs; API_TOKEN same value; NEW_FLAG only in staging
    (missing in prod); LEGACY only in prod (extra). /backend/api: API_KEY same in both, CACHE only
    in staging. dev: a dev-only key (never part of staging → prod)."""
    scope = cast.scope(cast.alice)

    def put(env: str, path: str, key: str, value: str) -> None:
        secret_create(scope=scope, environment=env, path=path, item=SecretInput(key=key, value=value))

    put("staging", "/", "DATABASE_URL", STAGING_DB)
    put("prod", "/", "DATABASE_URL", PROD_DB)
    put("staging", "/", "API_TOKEN", SHARED_TOKEN)
    put("prod", "/", "API_TOKEN", SHARED_TOKEN)
    put("staging", "/", "NEW_FLAG", "on")
    put("prod", "/", "LEGACY", "prod-extra-value-3b")
    put("dev", "/", "DEV_ONLY", "dev-only-value-c1")
    for env in ("staging", "prod"):
        folder_ensure(scope=scope, environment=env, path="/backend/api")
        put(env, "/backend/api", "API_KEY", "api-key-same-9e")
    put("staging", "/backend/api", "CACHE", "redis://cache")
    return cast
