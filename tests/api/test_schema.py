"""The OpenAPI schema lists every route we serve, and the docs page works under our CSP (no CDN)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from django.contrib.staticfiles import finders
from drf_spectacular.validation import validate_schema

from tests.api.test_access_matrix import _v1_routes


def _openapi_path(pattern: str) -> str:
    return "/api/v1/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", pattern)


# The served schema, fetched once per test process (a few seconds of generation each time).
_SERVED: dict[str, dict[str, Any]] = {}


@pytest.fixture
def schema(db: None, api: Any) -> dict[str, Any]:
    if "json" not in _SERVED:
        response = api().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
        assert response.status_code == 200
        _SERVED["json"] = json.loads(response.content)
    return _SERVED["json"]


def test_it_serves_valid_yaml_and_json(db: None, api: Any, schema: dict[str, Any]) -> None:
    # libyaml's safe loader when present: the same result, a fifth of the time for ~750 kB.
    as_yaml = yaml.load(api().get("/api/schema/").content, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506

    assert as_yaml["openapi"].startswith("3.") and as_yaml["paths"] == schema["paths"]
    assert schema["info"]["title"] == "Strongroom API"
    validate_schema(schema)  # against the OpenAPI 3 JSON schema; raises when invalid


def test_it_documents_every_route_and_method(schema: dict[str, Any]) -> None:
    shadowed = {  # literal routes that also reach an environment/secret bearing their name: not documented twice
        ("get", "projects/<str:project>/secrets/bulk/"),
        ("patch", "projects/<str:project>/secrets/bulk/"),
        ("delete", "projects/<str:project>/secrets/bulk/"),
        ("patch", "projects/<str:project>/environments/reorder/"),
        ("delete", "projects/<str:project>/environments/reorder/"),
    }
    expected = {(method, _openapi_path(pattern)) for method, pattern in _v1_routes() - shadowed}
    # Connections and syncs live in the syncs app (config/urls.py includes them under /api/v1/).
    from tests.syncs.routes import sync_api_routes

    expected |= {(method, _openapi_path(pattern)) for method, pattern in sync_api_routes()}
    # Approval policies and change requests live in the approvals app (config/urls.py too).
    from tests.approvals.routes import approval_api_routes

    expected |= {(method, _openapi_path(pattern)) for method, pattern in approval_api_routes()}
    # Notification channels and deliveries live in the notifications app (config/urls.py too).
    from tests.notifications.routes import notification_api_routes

    expected |= {(method, _openapi_path(pattern)) for method, pattern in notification_api_routes()}
    # Audit streams live in the audit.streams app (config/urls.py too).
    from tests.audit.streams.management.routes import audit_stream_api_routes

    expected |= {(method, _openapi_path(pattern)) for method, pattern in audit_stream_api_routes()}
    # Dynamic secrets, leases and the target allowlist live in the dynamic app (config/urls.py too).
    from tests.dynamic.routes import dynamic_api_routes

    expected |= {(method, _openapi_path(pattern)) for method, pattern in dynamic_api_routes()}
    from tests.dynamic.routes import ado_run_api_routes

    expected |= {(method, _openapi_path(pattern)) for method, pattern in ado_run_api_routes()}
    # Rotations live in the rotation app (config/urls.py too).
    from tests.rotation.routes import rotation_api_routes

    expected |= {(method, _openapi_path(pattern)) for method, pattern in rotation_api_routes()}
    # Governance (dashboard, parity, least privilege, quarantine, leak flags, pipeline gate).
    from tests.governance.routes import governance_api_routes

    expected |= {(method, _openapi_path(pattern)) for method, pattern in governance_api_routes()}
    # The Azure DevOps estate (scans, inventory, findings, imports) lives in the estate app.
    from tests.estate.routes import estate_api_routes

    expected |= {(method, _openapi_path(pattern)) for method, pattern in estate_api_routes()}

    documented = {
        (method, path)
        for path, operations in schema["paths"].items()
        if path.startswith("/api/v1/")
        for method in operations
    }

    assert documented == expected


# POSTs whose answer holds a credential (a token, a generated password): never stored for replay.
CREDENTIAL_RESPONSES = {
    "/api/v1/tokens/",
    "/api/v1/organizations/{organization}/people/",
    "/api/v1/organizations/{organization}/scim-tokens/",
    "/api/v1/identities/{identity}/universal-auth/client-secrets/",
    "/api/v1/auth/universal-auth/login",
    "/api/v1/auth/token/renew",
    "/api/v1/auth/token/revoke",
    "/api/v1/auth/jwt-auth/login",
    "/api/v1/auth/oidc-auth/login",
    "/api/v1/auth/kubernetes-auth/login",
    "/api/v1/projects/{project}/dynamic-secrets/{secret}/leases/",
    "/api/v1/organizations/{organization}/ado-run-hooks/",
    "/api/v1/organizations/{organization}/governance/pipeline-gates/",
}
# POSTs from outside systems that are idempotent by their own event id (a replay is a no-op).
# Called by Azure DevOps, which sends no Idempotency-Key: a repeat is answered from the stored
# event (the hook) or the stored decision of (BuildId, StageAttempt) (the pipeline gate's check).
EVENT_RECEIVERS = {"/api/v1/hooks/azure-devops/{hook}/run-state", "/api/v1/governance/ado-gates/{gate}/check"}
# POSTs that evaluate and store nothing (a repeat is a fresh answer, never a second change).
EVALUATIONS = {"/api/v1/governance/pipeline-gates/{gate}/evaluate"}


def test_it_documents_request_bodies_responses_errors_and_parameters(schema: dict[str, Any]) -> None:
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert "401" in operation["responses"], where
            assert any(code.startswith("2") for code in operation["responses"]), where
            if method in ("post", "patch"):
                assert "requestBody" in operation, where
            if method == "post" and path not in CREDENTIAL_RESPONSES | EVENT_RECEIVERS | EVALUATIONS:
                assert "Idempotency-Key" in [p["name"] for p in operation.get("parameters", [])], where
            for name in re.findall(r"{(\w+)}", path):
                assert name in [p["name"] for p in operation["parameters"] if p["in"] == "path"], where
    listing = schema["paths"]["/api/v1/projects/{project}/secrets/"]["get"]
    assert {"environment", "path", "include_values", "expand", "include_imports", "recursive", "tags"} <= {
        p["name"] for p in listing["parameters"]
    }
    assert schema["components"]["securitySchemes"]["personalToken"]["scheme"] == "bearer"
    assert set(schema["components"]["schemas"]["Error"]["properties"]) == {"error", "requestId"}


def test_it_serves_swagger_ui_without_any_external_url(db: None, api: Any) -> None:
    page = api().get("/api/docs/")
    script_url = re.search(r'<script src="(/api/docs/\?script=[^"]*)"', page.content.decode()).group(1)  # type: ignore[union-attr]
    script = api().get(script_url.replace("&amp;", "&"))

    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in page["Content-Security-Policy"]
    html = page.content.decode()
    assert not re.search(r"""(src|href)=["'](https?:)?//""", html), html
    assert "<script>" not in html  # no inline script: CSP would block it
    assert script.status_code == 200 and "javascript" in script["Content-Type"]
    assert "/api/schema/" in script.content.decode()
    assert not re.search(r"https?://", script.content.decode())
    for asset in re.findall(r'(?:src|href)="/static/([^"]+)"', html):
        assert finders.find(asset), asset
