"""E1: schemathesis against /api/schema/ — every documented operation, driven with generated
requests through the real WSGI application (real PostgreSQL, real Redis), must answer as documented.

Bounded for the PR suite (a few examples per operation and phase); nightly runs raise
``STRONGROOM_SCHEMATHESIS_MAX_EXAMPLES``.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import allow_header_conformance

SHADOWING_ROUTES = {
    "/api/v1/projects/{project}/secrets/bulk/",
    "/api/v1/projects/{project}/environments/reorder/",
}
VALID_IDEMPOTENCY_KEY = re.compile(r"^[!-~]{1,255}$")  # negative cases keep their invalid keys
MAX_EXAMPLES = int(os.environ.get("STRONGROOM_SCHEMATHESIS_MAX_EXAMPLES", "3"))

CONFIG = SchemathesisConfig.from_dict(
    {
        "parameters": {"path.project": "acme", "path.environment": "dev", "path.organization": "acme-org"},
        "generation": {"max-examples": MAX_EXAMPLES},
        "phases": {"stateful": {"enabled": False}},
        "checks": {
            # A schema cannot say which role slugs exist, that a password is not a common one, or
            # that a name is free: a 400 naming the field is a correct answer to schema-valid input.
            "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "401", "403", "404", "409", "429"]},
        },
    }
)
application = get_wsgi_application()
# Loaded through the application itself (the schema view needs no database).
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, config=CONFIG)


@pytest.fixture
def wsgi_in_test_transaction() -> Iterator[None]:
    """Requests run inside the test's transaction, as with Django's test client: the handler must
    not close the connection at the end of each request."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def admin_token(cast: Any, token_for: Any, wsgi_in_test_transaction: None) -> str:
    """alice, organization admin and admin of ``acme``, which holds DB_PASSWORD in every environment."""
    from secrets_app.models import OrganizationMembership, OrgRole
    from secrets_app.services.secrets import SecretInput, secret_create

    OrganizationMembership.objects.filter(user=cast.alice).update(role=OrgRole.ADMIN)
    for env in ("dev", "staging", "prod"):
        secret_create(
            scope=cast.scope(cast.alice), environment=env, path="/", item=SecretInput(key="DB_PASSWORD", value="pw")
        )
    return token_for(cast.alice)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_E1_schemathesis_api_conforms_to_its_schema(case: Any, admin_token: str) -> None:
    headers = {"Authorization": f"Bearer {admin_token}"}
    if case.headers and VALID_IDEMPOTENCY_KEY.match(str(case.headers.get("Idempotency-Key", ""))):
        # As a client does: a fresh key per distinct request (a reused key with another body is a
        # 422 by design, proven in tests/api/test_idempotency.py).
        headers["Idempotency-Key"] = uuid.uuid4().hex
    excluded = []
    if case.operation.path in SHADOWING_ROUTES:
        # These literal routes also reach an environment/secret of that name with the methods
        # documented under {environment}/{key}; OPTIONS rightly advertises those too.
        excluded.append(allow_header_conformance)
    case.call_and_validate(headers=headers, excluded_checks=excluded)
