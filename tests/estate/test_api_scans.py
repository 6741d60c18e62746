"""The estate API (scans, summary, inventory, findings) over real HTTP routes, the real database and
the Azure DevOps estate emulator: an organization admin starts a scan (202), a second one while it
is queued is refused (409), the scan runs (the real task, eagerly after the commit, as a worker
would) and the lists show what it found, filtered, paged and as CSV. Members who are not admins
get 403 (audited), everyone else 404."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.conftest import error_of
from tests.emulators.azure_devops_estate import EstateEmulator
from tests.support.celery_worker import eager  # noqa: F401 (fixture)

PAT = "estate-pat-0123456789"
LOOKS_SECRET = "ghp_" + "0123456789abcdef" * 2 + "abcd"
BASE = "/api/v1/organizations/acme-org/estate/"


@pytest.fixture
def ado(settings: Any) -> Iterator[EstateEmulator]:
    settings.STRONGROOM_SYNC_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.STRONGROOM_ESTATE_RETRIES = 0
    with EstateEmulator(pats=(PAT,)) as emulator:
        group = emulator.seed_group(
            "app-config",
            {"LOG_LEVEL": ("info", False), "API_TOKEN": (LOOKS_SECRET, False), "DB_PASSWORD": ("hunter2-db", True)},
        )
        emulator.authorize_pipelines("variablegroup", group, all_pipelines=True)
        emulator.seed_group("=cmd|' /C calc'!A0", {"HOST": ("db.internal", False)})
        emulator.add_definition("web-deploy", variables={"SIGNING_KEY": ("sign-me", True)}, variable_group_ids=[group])
        emulator.add_service_endpoint(
            "arm-prod",
            type="azurerm",
            scheme="ServicePrincipal",
            parameters={"serviceprincipalid": "sp", "tenantid": "t", "serviceprincipalkey": "never-on-the-wire"},
        )
        emulator.add_secure_file("signing.pfx")
        yield emulator


@pytest.fixture
def world(cast: Any, ado: EstateEmulator) -> Any:
    """alice is an organization admin with an Azure DevOps connection ``ado`` to the emulator."""
    from secrets_app.principals import Principal
    from syncs.services.connections import connection_create
    from tests.identities.universal_support import make_org_admin

    make_org_admin(cast)
    cast.connection = connection_create(
        principal=Principal.for_user(cast.alice),
        organization=cast.organization,
        kind="azure_devops",
        method="pat",
        name="ado",
        credentials={"token": PAT},
        config={"organization_url": ado.org_url},
    )
    return cast


def _scan(client: Any, django_capture_on_commit_callbacks: Any, **body: Any) -> Any:
    """POST a scan and run what the commit queued (the task, eagerly)."""
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(BASE + "scans/", {"connection": "ado", **body}, format="json")


@pytest.fixture
def scanned(world: Any, api: Any, eager: None, django_capture_on_commit_callbacks: Any) -> Any:  # noqa: F811
    response = _scan(api(world.alice), django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.content
    world.scan_id = response.json()["id"]
    return world


def test_it_starts_a_scan_with_202_and_refuses_a_second_one_while_it_is_queued(world: Any, api: Any) -> None:
    from audit.models import AuditEvent

    alice = api(world.alice)

    first = alice.post(BASE + "scans/", {"connection": "ado"}, format="json")
    second = alice.post(BASE + "scans/", {"connection": str(world.connection.public_id)}, format="json")

    assert first.status_code == 202, first.content
    scan = first.json()
    assert (scan["status"], scan["trigger"], scan["connection"]["name"]) == ("queued", "api", "ado")
    assert scan["requestedBy"] == "alice@example.com" and scan["finishedAt"] is None
    assert second.status_code == 409 and scan["id"] in error_of(second)["message"]
    listed = alice.get(BASE + "scans/").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == scan["id"]
    assert AuditEvent.objects.filter(action="estate.scan_requested", resource_id=scan["id"]).count() == 1


def test_it_names_the_field_of_a_bad_start_request(world: Any, api: Any) -> None:
    alice = api(world.alice)

    missing = alice.post(BASE + "scans/", {}, format="json")
    unknown = alice.post(BASE + "scans/", {"connection": "nope"}, format="json")
    trigger = alice.post(BASE + "scans/", {"connection": "ado", "trigger": "retry"}, format="json")
    extra = alice.post(BASE + "scans/", {"connection": "ado", "organizationUrl": "http://x"}, format="json")

    for response in (missing, unknown, trigger, extra):
        assert response.status_code == 400, response.content
    assert set(error_of(missing)["fields"]) == {"connection"}
    assert set(error_of(unknown)["fields"]) == {"connection"}
    assert set(error_of(trigger)["fields"]) == {"trigger"}
    assert "organizationUrl" in error_of(extra)["fields"]


def test_it_cancels_a_queued_scan_once(world: Any, api: Any) -> None:
    alice = api(world.alice)
    scan = alice.post(BASE + "scans/", {"connection": world.connection.pk}, format="json").json()

    cancelled = alice.post(f"{BASE}scans/{scan['id']}/cancel/", {}, format="json")
    again = alice.post(f"{BASE}scans/{scan['id']}/cancel/", {}, format="json")
    restarted = alice.post(BASE + "scans/", {"connection": "ado", "trigger": "cli"}, format="json")

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["finishedAt"] is not None
    assert again.status_code == 409 and error_of(again)["code"] == "conflict"
    assert restarted.status_code == 202 and restarted.json()["trigger"] == "cli"
    assert alice.get(f"{BASE}scans/00000000-0000-4000-8000-000000000000/").status_code == 404


def test_a_scan_shows_the_estate_in_the_summary_resources_and_findings(scanned: Any, api: Any) -> None:
    alice = api(scanned.alice)

    scan = alice.get(f"{BASE}scans/{scanned.scan_id}/").json()
    summary = alice.get(BASE + "summary/").json()
    resources = alice.get(BASE + "resources/").json()
    findings = alice.get(BASE + "findings/").json()

    assert scan["status"] == "succeeded", scan
    assert scan["progress"]["projectsDone"] == scan["progress"]["projectsTotal"] == 1
    assert scan["counts"]["variableGroups"] == 2 and scan["counts"]["pipelines"] == 1
    assert scan["diff"]["added"] >= 6 and scan["startedAt"] and scan["finishedAt"]
    assert summary["lastScan"]["id"] == scanned.scan_id
    assert summary["counts"]["variableGroups"] == 2 and summary["counts"]["serviceConnections"] == 1
    assert summary["counts"]["secureFiles"] == 1 and summary["counts"]["projects"] == 1
    assert summary["openFindings"] == findings["count"] == sum(summary["findingsBySeverity"].values())
    names = {(r["kind"], r["name"]) for r in resources["results"]}
    assert {("variable_group", "app-config"), ("pipeline", "web-deploy"), ("service_connection", "arm-prod")} <= names
    assert ("secure_file", "signing.pfx") in names
    kinds = {f["kind"] for f in findings["results"]}
    assert {"plain_secret_variable", "open_to_all_pipelines", "client_secret_connection"} <= kinds
    plain = next(f for f in findings["results"] if f["kind"] == "plain_secret_variable")
    assert plain["subject"] == "API_TOKEN" and plain["resource"]["name"] == "app-config"
    everything = str([scan, summary, resources, findings])
    for value in (LOOKS_SECRET, "hunter2-db", "sign-me", "never-on-the-wire"):
        assert value not in everything, "a value reached the estate API"


def test_a_resource_shows_its_details_and_open_findings(scanned: Any, api: Any) -> None:
    alice = api(scanned.alice)
    group = alice.get(BASE + "resources/", {"kind": "variable_group", "q": "APP-"}).json()["results"]

    detail = alice.get(f"{BASE}resources/{group[0]['id']}/").json()

    assert [g["name"] for g in group] == ["app-config"]
    variables = {v["name"]: v for v in detail["details"]["variables"]}
    assert variables["DB_PASSWORD"]["isSecret"] is True and variables["API_TOKEN"]["looksSecret"] is True
    assert variables["LOG_LEVEL"]["isSecret"] is False and variables["LOG_LEVEL"]["looksSecret"] is False
    assert detail["secretCount"] == 1 and detail["variableCount"] == 3
    assert {f["kind"] for f in detail["findings"]} >= {"plain_secret_variable", "open_to_all_pipelines"}
    assert all(f["resource"]["id"] == group[0]["id"] for f in detail["findings"])
    assert alice.get(f"{BASE}resources/999999/").status_code == 404


def test_it_filters_and_pages_the_lists(scanned: Any, api: Any) -> None:
    alice = api(scanned.alice)

    groups = alice.get(BASE + "resources/", {"kind": "variable_group"}).json()
    in_proj1 = alice.get(BASE + "resources/", {"project": "PROJ1", "limit": 2}).json()
    with_plain = alice.get(BASE + "resources/", {"finding": "plain_secret_variable"}).json()
    high = alice.get(BASE + "findings/", {"severity": "high"}).json()
    open_all = alice.get(BASE + "findings/", {"kind": "open_to_all_pipelines"}).json()
    resource_id = with_plain["results"][0]["id"]
    of_resource = alice.get(BASE + "findings/", {"resource": resource_id}).json()

    assert groups["count"] == 2 and {r["kind"] for r in groups["results"]} == {"variable_group"}
    assert in_proj1["count"] >= 5 and len(in_proj1["results"]) == 2 and in_proj1["next"]
    assert [r["name"] for r in with_plain["results"]] == ["app-config"]
    assert high["results"] and {f["severity"] for f in high["results"]} == {"high"}
    assert open_all["results"] and {f["kind"] for f in open_all["results"]} == {"open_to_all_pipelines"}
    assert of_resource["results"] and {f["resource"]["id"] for f in of_resource["results"]} == {resource_id}
    for bad in ({"kind": "nope"}, {"includeRemoved": "maybe"}, {"limit": "0"}, {"project": ""}):
        response = alice.get(BASE + "resources/", bad)
        assert response.status_code == 400 and set(error_of(response)["fields"]) == set(bad), bad
    response = alice.get(BASE + "findings/", {"severity": "severe"})
    assert response.status_code == 400 and set(error_of(response)["fields"]) == {"severity"}


def test_it_downloads_the_lists_as_csv_with_formulas_neutralised(scanned: Any, api: Any) -> None:
    alice = api(scanned.alice)

    resources = alice.get(BASE + "resources/", {"format": "csv"})
    findings = alice.get(BASE + "findings/", HTTP_ACCEPT="text/csv")

    assert resources.status_code == 200 and resources["Content-Type"].startswith("text/csv")
    assert "attachment" in resources["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(resources.streaming_content).decode())))
    assert {"app-config", "web-deploy", "arm-prod"} <= {row["name"] for row in rows}
    hostile = next(row for row in rows if "calc" in row["name"])
    assert hostile["name"].startswith("'=")  # a spreadsheet shows it, never runs it
    finding_rows = list(csv.DictReader(io.StringIO(b"".join(findings.streaming_content).decode())))
    assert {"plain_secret_variable", "client_secret_connection"} <= {row["kind"] for row in finding_rows}
    assert LOOKS_SECRET not in str(rows + finding_rows)


ROUTES = [
    ("get", "scans/", None),
    ("post", "scans/", {"connection": "ado"}),
    ("get", "scans/00000000-0000-4000-8000-000000000000/", None),
    ("post", "scans/00000000-0000-4000-8000-000000000000/cancel/", {}),
    ("get", "summary/", None),
    ("get", "resources/", None),
    ("get", "resources/1/", None),
    ("get", "findings/", None),
]


@pytest.mark.parametrize(("method", "suffix", "body"), ROUTES, ids=[f"{m} {s}" for m, s, _ in ROUTES])
def test_it_refuses_members_with_403_audited_and_everyone_else_with_404(
    world: Any, api: Any, method: str, suffix: str, body: Any
) -> None:
    from rest_framework.test import APIClient

    from audit.models import AuditEvent
    from estate.models import EstateScan
    from tests.compat.conftest import login, make_machine

    def call(client: Any) -> Any:
        url = BASE + suffix
        return getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)

    machine = APIClient()
    token = login(machine, make_machine(world.project, "robot", "admin"))
    machine.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    before = AuditEvent.objects.filter(action="permission.denied").count()

    bob, mallory, robot, anonymous = call(api(world.bob)), call(api(world.mallory)), call(machine), call(api())

    assert bob.status_code == 403 and error_of(bob)["code"] == "permission_denied"
    denied = AuditEvent.objects.filter(action="permission.denied").order_by("-id")
    assert denied.count() == before + 1 and denied[0].actor_label == "bob@example.com"
    for refused in (mallory, robot):
        assert refused.status_code == 404 and error_of(refused)["code"] == "not_found", refused.content
    assert anonymous.status_code == 401
    assert not EstateScan.objects.exists()


def test_it_refuses_an_offset_past_any_list_with_400(world: Any, api: Any) -> None:
    alice = api(world.alice)

    for suffix in ("scans/", "resources/", "findings/"):
        response = alice.get(BASE + suffix, {"offset": str(2**70)})
        assert response.status_code == 400 and set(error_of(response)["fields"]) == {"offset"}, suffix
