"""Estate test fixtures (shared; other estate tests use them read-only).

- ``estate_ado``: an ``EstateEmulator`` (fresh port per test) accepting ``GOOD_PAT``;
- ``estate_connection``: an Azure DevOps connection of the cast's organization to it (PAT);
- ``run_scan(cast, connection)``: asks for a scan as alice (an organization admin) and runs it
  through the real Celery task, eagerly, after the commit (as a worker would); returns the scan;
- ``seed_small_estate(ado)``: a small, known estate (see its docstring) whose values tests look for.

``AZURE_DEVOPS_CACHE_DIR`` is set at import, before anything imports ``azure.devops``.
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("AZURE_DEVOPS_CACHE_DIR", tempfile.mkdtemp(prefix="ado-cache-"))

from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from tests.emulators.azure_devops_estate import EstateEmulator  # noqa: E402

GOOD_PAT = "good-pat-estate-0123456789"
# Values seeded into Azure DevOps that no Strongroom row may ever hold.
PLAIN_SECRET_VALUE = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
PLAIN_PASSWORD_VALUE = "Hunter2-but-longer-and-plain"
SECRET_VALUE = "the-real-db-password-42"
PIPELINE_SECRET_VALUE = "pipeline-signing-key-0042"
PLAIN_SETTING_VALUE = "eu-west-region-setting"


@pytest.fixture(autouse=True)
def _estate_settings(settings: Any) -> None:
    settings.STRONGROOM_SYNC_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.STRONGROOM_ESTATE_CONCURRENCY = 3
    settings.STRONGROOM_ESTATE_PAGE_SIZE = 2  # every list pages, even in a small estate
    settings.STRONGROOM_ESTATE_MAX_RETRY_WAIT = 1


@pytest.fixture
def estate_ado() -> Iterator[EstateEmulator]:
    with EstateEmulator(pats=(GOOD_PAT,)) as emulator:
        yield emulator


def make_estate_connection(cast: Any, ado: EstateEmulator, *, token: str = GOOD_PAT, name: str = "ado-estate") -> Any:
    from secrets_app.models import OrganizationMembership, OrgRole
    from secrets_app.principals import Principal
    from syncs.services.connections import connection_create

    OrganizationMembership.objects.filter(organization=cast.organization, user=cast.alice).update(role=OrgRole.ADMIN)
    return connection_create(
        principal=Principal.for_user(cast.alice),
        organization=cast.organization,
        kind="azure_devops",
        method="pat",
        name=name,
        credentials={"token": token},
        config={"organization_url": ado.org_url},
    )


@pytest.fixture
def estate_connection(cast: Any, estate_ado: EstateEmulator) -> Any:
    return make_estate_connection(cast, estate_ado)


@pytest.fixture
def run_scan(django_capture_on_commit_callbacks: Any) -> Any:
    """run_scan(cast, connection) -> the scan, after its task ran (eagerly, through Celery)."""
    from config.celery import app

    def run(cast: Any, connection: Any) -> Any:
        from estate.services.scans import scan_request
        from secrets_app.principals import Principal

        previous = app.conf.task_always_eager
        app.conf.task_always_eager = True
        try:
            with django_capture_on_commit_callbacks(execute=True):
                scan = scan_request(
                    principal=Principal.for_user(cast.alice),
                    organization=cast.organization,
                    connection_ref=str(connection.public_id),
                )
        finally:
            app.conf.task_always_eager = previous
        scan.refresh_from_db()
        return scan

    return run


@dataclass
class SmallEstate:
    app_group: int  # plain group: DB_PASSWORD secret, API_TOKEN plain ghp_…, REGION plain, open to all pipelines
    legacy_group: int  # plain group: ADMIN_PASSWORD plain, REGION plain
    kv_group: int  # Key Vault group: db-password, api-key (one disabled)
    third_group: int  # in proj2: REGION plain (the third REGION → duplicated_name)
    pipeline: int  # SIGNING_KEY secret, BUILD_FLAVOR plain
    spn_endpoint: str  # azurerm ServicePrincipal spnKey
    wif_endpoint: str  # azurerm WIF on the vstoken issuer
    pat_endpoint: str  # azdoapi Token
    secure_file: str  # open to all pipelines
    proj2: str  # project id


def seed_small_estate(ado: EstateEmulator) -> SmallEstate:
    """proj1 and proj2 (ids stable), three plain groups, a Key Vault group, a pipeline, three service
    connections, a secure file: one instance of every finding but managed_by_sync."""
    proj2 = ado.add_project("proj2", "22222222-2222-2222-2222-222222222222")
    app_group = ado.seed_group(
        "app-settings",
        {
            "DB_PASSWORD": (SECRET_VALUE, True),
            "API_TOKEN": (PLAIN_SECRET_VALUE, False),
            "REGION": (PLAIN_SETTING_VALUE, False),
        },
    )
    ado.authorize_pipelines("variablegroup", app_group, all_pipelines=True)
    legacy_group = ado.seed_group(
        "legacy", {"ADMIN_PASSWORD": (PLAIN_PASSWORD_VALUE, False), "REGION": (PLAIN_SETTING_VALUE, False)}
    )
    spn = ado.add_service_endpoint(
        "arm-prod",
        type="azurerm",
        scheme="ServicePrincipal",
        parameters={
            "serviceprincipalid": "00000000-0000-0000-0000-0000000000aa",
            "tenantid": "00000000-0000-0000-0000-0000000000bb",
            "authenticationType": "spnKey",
            "serviceprincipalkey": "spn-key-never-on-the-wire",
        },
    )
    kv_group = ado.seed_keyvault_group(
        "kv-prod",
        vault="acme-kv",
        service_endpoint_id=spn,
        secrets={"db-password": {"expires": "2027-01-01T00:00:00Z"}, "api-key": {"enabled": False}},
    )
    third_group = ado.seed_group("proj2-settings", {"REGION": (PLAIN_SETTING_VALUE, False)}, project="proj2")
    pipeline = ado.add_definition(
        "web-ci",
        variables={"SIGNING_KEY": (PIPELINE_SECRET_VALUE, True), "BUILD_FLAVOR": ("release", False)},
        variable_group_ids=[app_group],
    )
    ado.authorize_pipelines("variablegroup", legacy_group, pipeline_ids=[pipeline])
    wif = ado.add_service_endpoint(
        "arm-wif",
        type="azurerm",
        scheme="WorkloadIdentityFederation",
        parameters={
            "serviceprincipalid": "00000000-0000-0000-0000-0000000000cc",
            "tenantid": "00000000-0000-0000-0000-0000000000bb",
            "workloadIdentityFederationIssuer": "https://vstoken.dev.azure.com/00000000-0000-0000-0000-0000000000dd",
            "workloadIdentityFederationSubject": "sc://acme/proj1/arm-wif",
        },
    )
    pat = ado.add_service_endpoint(
        "other-org", type="azdoapi", scheme="Token", parameters={"apitoken": "pat-never-on-the-wire"}, project="proj2"
    )
    secure_file = ado.add_secure_file("signing.pfx")
    ado.authorize_pipelines("securefile", secure_file, all_pipelines=True)
    return SmallEstate(app_group, legacy_group, kv_group, third_group, pipeline, spn, wif, pat, secure_file, proj2)
