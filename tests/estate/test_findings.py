"""Findings and the in-memory judgement of plain values, as pure functions (no database, no HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from estate.models import EstateResource
from estate.services.classify import credential_kind, is_legacy_issuer, looks_secret
from estate.services.findings import findings_compute

JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("ANYTHING", "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "value shape: GitHub token"),
        ("AWS_ID", "AKIAIOSFODNN7EXAMPLE", "value shape: AWS access key"),
        ("SESSION", JWT, "value shape: JWT"),
        ("CERT", "-----BEGIN RSA PRIVATE KEY-----\nMIIE...", "value shape: private key"),
        (
            "DB",
            "Server=tcp:db;Database=app;User ID=app;Password=hunter2;",
            "value shape: connection string with a password",
        ),
        (
            "STORAGE",
            "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abcdEFGH1234ijkl==",
            "value shape: storage connection string",
        ),
        ("BROKER", "amqp://app:hunter2@rabbit:5672/", "value shape: URL with a password"),
        # Shapes only detect-secrets' detectors know (no pattern of ours).
        (
            "MAILER",
            "SG." + "abcdefghijklmnopqrstuv." + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            "value shape: SendGrid API Key",
        ),
        ("LLM", "sk-proj-" + "abcdefghijklmnopqrstT3BlbkFJabcdefghijklmnopqrst", "value shape: OpenAI Token"),
        ("DB_PASSWORD", "hunter2", "name"),
        ("smtp.pwd", "letmein", "name"),
        ("ConnectionString", "whatever-it-is", "name"),
        ("BLOB", "q9X2mK7pL4vN8rT1wZ5yB3cF6hJ0sD2g", "value shape: high entropy"),
    ],
)
def test_values_that_look_like_secrets(name: str, value: str, reason: str) -> None:
    assert looks_secret(name, value) == (True, reason)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REGION", "westeurope"),
        ("DB_PASSWORD", ""),  # empty: nothing to protect
        ("PASSWORD_MIN_LENGTH", "12"),
        ("TOKEN_URL", "https://login.example.com/oauth2/token"),
        ("API_TOKEN", "$(secretFromKeyVault)"),
        ("USE_SECRET", "true"),
        ("TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
        ("BUILD_PATH", "/home/vsts/work/1/s/src/app/bin/release"),
        ("GREETING", "Hello, this is a long sentence with spaces in it"),
        ("COMMIT", "0000000000000000000000000000000000000000"),
    ],
)
def test_settings_do_not_look_like_secrets(name: str, value: str) -> None:
    assert looks_secret(name, value) == (False, "")


def test_the_reason_never_carries_the_value() -> None:
    for value in ("hunter2", JWT, "AKIAIOSFODNN7EXAMPLE"):
        assert value not in looks_secret("password", value)[1]


def test_service_connection_credentials_are_classified() -> None:
    assert credential_kind("azurerm", "ServicePrincipal", {"authenticationType": "spnKey"}) == "client_secret"
    assert credential_kind("azurerm", "ServicePrincipal", {"authenticationType": "spnCertificate"}) == "certificate"
    assert credential_kind("azurerm", "WorkloadIdentityFederation", {}) == "federated"
    assert credential_kind("azurerm", "ManagedServiceIdentity", {}) == "managed_identity"
    assert credential_kind("generic", "UsernamePassword", {}) == "password"
    assert credential_kind("github", "Token", {}) == "token"
    assert credential_kind("github", "InstallationToken", {}) == "other"
    assert is_legacy_issuer("https://vstoken.dev.azure.com/abc") and is_legacy_issuer("https://vstoken.azure.com/abc")
    assert not is_legacy_issuer("https://login.microsoftonline.com/tenant/v2.0")


def _row(
    pk: int, kind: str, name: str, *, project: str = "p1", secret_count: int = 0, **details: Any
) -> EstateResource:
    return EstateResource(
        pk=pk,
        kind=kind,
        name=name,
        ado_project_id=project,
        ado_project_name=project.upper(),
        external_id=str(pk),
        secret_count=secret_count,
        details=details,
    )


def _var(name: str, *, secret: bool = False, looks: bool = False) -> dict[str, Any]:
    return {"name": name, "is_secret": secret, "looks_secret": looks, "reason": "name" if looks else ""}


def test_findings_over_resources() -> None:
    rows = [
        _row(1, "variable_group", "a", variables=[_var("X"), _var("PWD", looks=True)], all_pipelines=True),
        _row(
            2, "variable_group", "b", secret_count=1, variables=[_var("x"), _var("S", secret=True)], all_pipelines=True
        ),
        _row(3, "variable_group", "c", project="p2", variables=[_var("X")]),
        _row(4, "pipeline", "ci", variables=[_var("KEY", secret=True), _var("TOKEN", looks=True)]),
        _row(5, "service_connection", "spn", type="azurerm", credential_kind="certificate", all_pipelines=False),
        _row(
            6,
            "service_connection",
            "wif",
            type="azurerm",
            credential_kind="federated",
            wif_issuer="https://vstoken.dev.azure.com/x",
        ),
        _row(
            7,
            "service_connection",
            "wif-new",
            type="azurerm",
            credential_kind="federated",
            wif_issuer="https://login.microsoftonline.com/t/v2.0",
        ),
        _row(
            8,
            "service_connection",
            "docker",
            type="dockerregistry",
            credential_kind="password",
            scheme="UsernamePassword",
            all_pipelines=True,
        ),
        _row(9, "secure_file", "cert.pfx", all_pipelines=True),
        _row(10, "project", "p1"),
    ]
    specs = findings_compute(rows)
    found = {(s.kind, s.resource.name if s.resource else "", s.subject, s.severity) for s in specs}
    assert found == {
        ("plain_secret_variable", "a", "PWD", "high"),
        ("plain_secret_variable", "ci", "TOKEN", "high"),
        ("open_to_all_pipelines", "a", "", "medium"),  # no secret in it
        ("open_to_all_pipelines", "b", "", "high"),
        ("open_to_all_pipelines", "docker", "", "medium"),
        ("open_to_all_pipelines", "cert.pfx", "", "medium"),
        ("secret_pipeline_variable", "ci", "KEY", "medium"),
        ("client_secret_connection", "spn", "", "high"),
        ("legacy_wif_issuer", "wif", "", "medium"),
        ("static_credential_connection", "docker", "", "medium"),
        ("duplicated_name", "", "X", "low"),  # X, x, X: names are case-insensitive in ADO
    }
    keys = [s.key for s in specs]
    assert len(keys) == len(set(keys))
    duplicated = next(s for s in specs if s.kind == "duplicated_name")
    assert duplicated.data["count"] == 3 and [g["name"] for g in duplicated.data["groups"]] == ["a", "b", "c"]
    assert findings_compute(rows) and [s.key for s in findings_compute(rows)] == keys  # stable keys
