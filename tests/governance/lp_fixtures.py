"""A known history for least-privilege proposals: two identities with the member role in acme;
``api-reader`` reads prod /backend/api over the real API, ``idle-bot`` reads nothing. Deliveries
come from the audit log through the real engine (``deliveries_refresh``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from secrets_app.services.folders import folder_ensure
from secrets_app.services.secrets import SecretInput, secret_create
from tests.compat.conftest import Machine, login, make_machine

API_KEY_VALUE = "lp-api-key-value-4f1c"
DB_VALUE = "lp-db-url-value-77ae"
ROOT_VALUE = "lp-root-token-value-9b20"
VALUES = (API_KEY_VALUE, DB_VALUE, ROOT_VALUE)


@dataclass
class LpHistory:
    cast: Any
    reader: Machine
    idle: Machine
    reader_token: str
    idle_token: str

    def as_identity(self, token: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client


def read_prod_api(history: LpHistory) -> Any:
    return history.as_identity(history.reader_token).get(
        "/api/v1/projects/acme/secrets/",
        {"environment": "prod", "path": "/backend/api", "include_values": "true"},
    )


@pytest.fixture
def lp_history(cast: Any, client: Any, settings: Any) -> LpHistory:
    from governance.services.deliveries import deliveries_refresh

    settings.STRONGROOM_AUDIT_SEAL_DELAY_SECONDS = 0
    scope = cast.scope(cast.alice)
    for env in ("staging", "prod"):
        folder_ensure(scope=scope, environment=env, path="/backend/api")
        secret_create(
            scope=scope, environment=env, path="/backend/api", item=SecretInput(key="API_KEY", value=API_KEY_VALUE)
        )
        secret_create(scope=scope, environment=env, path="/backend/api", item=SecretInput(key="DB_URL", value=DB_VALUE))
        secret_create(scope=scope, environment=env, path="/", item=SecretInput(key="ROOT_TOKEN", value=ROOT_VALUE))
    reader = make_machine(cast.project, "api-reader", "member")
    idle = make_machine(cast.project, "idle-bot", "member")
    history = LpHistory(cast, reader, idle, login(client, reader), login(client, idle))
    response = read_prod_api(history)
    assert response.status_code == 200, response.content
    while deliveries_refresh():
        pass
    return history
