"""The estate pages' test world: acme-org with alice as an organization admin, an Azure DevOps
connection, one completed scan and what it found (two projects, a plain group with a secret-looking
plain variable, a Key Vault group, a pipeline, a service connection on a client secret), seeded as
rows so the pages can be read without running a scan. ``PLAIN_VALUE`` is a value Azure DevOps held
in plain text: it is never stored, so no page may show it.

Import the fixtures where a test module names them (``from tests.estate.ui_fixtures import …``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

PLAIN_VALUE = "Sup3r-plain-p4ssw0rd-in-ado"
ORG_URL = "https://dev.azure.com/acme"


@dataclass
class EstateWorld:
    cast: Any
    connection: Any
    scan: Any
    group: Any
    kv_group: Any
    pipeline: Any
    endpoint: Any
    project: Any


def signed_in(user: Any) -> Any:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def ado_connection(cast: Any, *, name: str = "ado", org_url: str = ORG_URL) -> Any:
    from syncs.models import AppConnection, ConnectionKind

    return AppConnection.objects.create(
        organization=cast.organization,
        kind=ConnectionKind.AZURE_DEVOPS,
        method="pat",
        name=name,
        config={"organization_url": org_url},
        credentials_ciphertext=b"",  # never opened by the pages
    )


def make_admin(cast: Any, user: Any) -> None:
    from secrets_app.models import OrganizationMembership, OrgRole

    OrganizationMembership.objects.filter(organization=cast.organization, user=user).update(role=OrgRole.ADMIN)


def build_estate(cast: Any) -> EstateWorld:
    from django.utils import timezone

    from estate.models import EstateFinding, EstateResource, EstateScan, ResourceKind

    make_admin(cast, cast.alice)
    connection = ado_connection(cast)
    now = timezone.now()
    scan = EstateScan.objects.create(
        organization=cast.organization,
        connection=connection,
        org_url=ORG_URL,
        status="succeeded",
        queued_at=now - timedelta(minutes=5),
        started_at=now - timedelta(minutes=5),
        finished_at=now - timedelta(minutes=4),
        progress={"phase": "findings", "projects_total": 2, "projects_done": 2, "requests": 14, "throttled": 0},
        counts={"projects": 2, "variable_groups": 2, "pipelines": 1, "service_connections": 1},
        diff={"added": 6, "changed": 0, "removed": 0},
    )

    def resource(kind: str, name: str, external_id: str, project: str = "Web", **fields: Any) -> Any:
        return EstateResource.objects.create(
            organization=cast.organization,
            connection=connection,
            kind=kind,
            ado_project_id=f"id-{project.lower()}" if project else "",
            ado_project_name=project,
            external_id=external_id,
            name=name,
            first_seen_scan=scan,
            last_seen_scan=scan,
            first_seen_at=now,
            last_seen_at=now,
            changed_at=now,
            **fields,
        )

    project = resource(ResourceKind.PROJECT, "Web", "id-web", details={"state": "wellFormed", "visibility": "private"})
    resource(ResourceKind.PROJECT, "Payments", "id-payments", project="Payments")
    pipeline = resource(
        ResourceKind.PIPELINE,
        "web-deploy",
        "7",
        details={
            "path": "\\",
            "process_type": 2,
            "yaml_filename": "azure-pipelines.yml",
            "repository": {"name": "web", "type": "TfsGit", "default_branch": "refs/heads/main"},
            "variables": [{"name": "BUILD_FLAVOR", "is_secret": False, "looks_secret": False, "reason": ""}],
            "variable_group_ids": ["11"],
        },
        variable_count=1,
    )
    group = resource(
        ResourceKind.VARIABLE_GROUP,
        "web-prod",
        "11",
        details={
            "type": "Vsts",
            "description": "production settings",
            "all_pipelines": True,
            "pipeline_ids": ["7"],
            "modified_by": "Dana Ops",
            "variables": [
                {"name": "DB_PASSWORD", "is_secret": True, "looks_secret": True, "reason": ""},
                {
                    "name": "API_TOKEN",
                    "is_secret": False,
                    "looks_secret": True,
                    "reason": "name and value look like a token",
                },
                {"name": "LOG_LEVEL", "is_secret": False, "looks_secret": False, "reason": ""},
            ],
        },
        variable_count=3,
        secret_count=1,
    )
    kv_group = resource(
        ResourceKind.VARIABLE_GROUP,
        "payments-kv",
        "12",
        project="Payments",
        details={
            "type": "AzureKeyVault",
            "vault": "payments-vault",
            "service_endpoint_id": "ep-1",
            "all_pipelines": False,
            "pipeline_ids": [],
            "variables": [{"name": "STRIPE-KEY", "is_secret": True, "looks_secret": True, "reason": ""}],
        },
        variable_count=1,
        secret_count=1,
    )
    endpoint = resource(
        ResourceKind.SERVICE_CONNECTION,
        "azure-prod",
        "ep-1",
        details={
            "type": "azurerm",
            "scheme": "ServicePrincipal",
            "credential_kind": "client_secret",
            "all_pipelines": False,
        },
    )

    def finding(kind: str, severity: str, target: Any, subject: str = "", detail: str = "") -> Any:
        return EstateFinding.objects.create(
            organization=cast.organization,
            connection=connection,
            resource=target,
            kind=kind,
            severity=severity,
            subject=subject,
            key=f"{kind}:{target.pk}:{subject}",
            detail=detail,
            first_seen_at=now,
            last_seen_at=now,
        )

    finding(
        "plain_secret_variable", "high", group, "API_TOKEN", "API_TOKEN looks like a secret but is stored in plain text"
    )
    finding("open_to_all_pipelines", "medium", group, "", "Every pipeline of Web can read web-prod")
    finding("client_secret_connection", "medium", endpoint, "", "azure-prod authenticates with a client secret")
    return EstateWorld(cast, connection, scan, group, kv_group, pipeline, endpoint, project)


@pytest.fixture
def estate(cast: Any) -> EstateWorld:
    return build_estate(cast)
