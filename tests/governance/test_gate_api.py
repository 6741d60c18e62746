# ruff: noqa: F811  (the fixtures are imported, then named by the tests)
"""Pipeline gates over REST: organization admins configure them (the Basic password shown once, only
its keyed hash stored); members, outsiders and other organizations are refused; the decisions list;
the script-step evaluation for the gate's own identity; all in the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from django.test import Client

from audit.models import AuditEvent
from governance.models import PipelineGate
from tests.governance.gate_fixtures import PROJECT_ID, GateWorld, ado, call_gate, world  # noqa: F401

BASE = "/api/v1/organizations/acme-org/governance/pipeline-gates/"
CREATE = {
    "name": "staging deploy",
    "adoOrganization": "acme",
    "adoProjectId": PROJECT_ID,
    "adoDefinitionId": 7,
    "project": "acme",
    "environment": "staging",
    "paths": ["/backend", "/shared/**"],
    "identity": "deploy-bot",
    "mode": "callback",
}


def test_it_creates_a_gate_and_shows_its_password_once(world: GateWorld, api: Any) -> None:
    alice = api(world.cast.alice)

    created = alice.post(BASE, CREATE, format="json")

    assert created.status_code == 201, created.content
    assert created["Cache-Control"] == "no-store"
    body = created.json()
    password, gate = body["password"], body["gate"]
    assert len(password) >= 40 and body["username"] == gate["username"]
    stored = PipelineGate.objects.get(public_id=gate["id"])
    assert password not in stored.password_hash and len(stored.password_hash) == 64
    config = gate["checkConfiguration"]
    assert config["urlSuffix"] == f"/api/v1/governance/ado-gates/{gate['id']}/check"
    assert config["headers"]["BuildId"] == "$(build.BuildId)"
    assert config["headers"]["AuthToken"] == "$(system.AccessToken)"
    assert config["body"] == {"buildId": "$(build.BuildId)", "stageAttempt": "$(Checks.StageAttempt)"}
    assert config["waitForCompletion"] == "true"
    listed = alice.get(BASE).json()["gates"]
    assert {g["name"] for g in listed} == {"prod deploy", "staging deploy"}
    assert password not in str(listed)
    assert password not in str(list(AuditEvent.objects.values()))
    assert AuditEvent.objects.filter(action="pipeline_gate.created", resource_id=gate["id"]).exists()


def test_it_names_the_field_of_an_invalid_gate(world: GateWorld, api: Any) -> None:
    alice = api(world.cast.alice)
    for change, field in (
        ({"environment": "nope"}, "environment"),
        ({"identity": "nobody"}, "identity"),
        ({"paths": ["/../etc"]}, "paths"),
        ({"adoDefinitionId": None}, "adoDefinitionId"),
    ):
        response = alice.post(BASE, CREATE | change, format="json")
        assert response.status_code == 400, response.content
        assert field in response.json()["error"]["fields"], response.content


def test_it_updates_resets_the_password_and_deletes(world: GateWorld, api: Any) -> None:
    alice = api(world.cast.alice)
    url = f"{BASE}{world.gate.public_id}/"

    changed = alice.patch(url, {"requireNoLeaks": False, "resetPassword": True}, format="json")

    assert changed.status_code == 200, changed.content
    assert changed.json()["gate"]["requireNoLeaks"] is False
    new_password = changed.json()["password"]
    build_id, token = world.run()
    assert call_gate(Client(), world, build_id, token).status_code == 401  # the old password stops working
    world.password = new_password
    assert call_gate(Client(), world, build_id, token).json()["status"] == "pass"
    decisions = alice.get(url + "decisions/").json()["decisions"]
    assert [(d["buildId"], d["status"]) for d in decisions] == [(build_id, "pass")]
    assert alice.delete(url).status_code == 204
    assert call_gate(Client(), world, build_id, token).status_code == 401


def test_it_refuses_members_outsiders_and_other_organizations(world: GateWorld, api: Any) -> None:
    cast = world.cast
    url = f"{BASE}{world.gate.public_id}/"
    calls = [("get", BASE, None), ("post", BASE, CREATE), ("get", url, None), ("patch", url, {"enabled": False})]
    calls += [("delete", url, None), ("get", url + "decisions/", None)]
    for method, path, body in calls:
        for user, status in ((cast.bob, 403), (cast.charlie, 403), (cast.mallory, 404)):
            response = getattr(api(user), method)(path, body, format="json")
            assert response.status_code == status, (method, path, user, response.content)
        assert getattr(api(), method)(path, body, format="json").status_code == 401
    # mallory administers her own organization: acme's gate is not there.
    other = f"/api/v1/organizations/evil-org/governance/pipeline-gates/{world.gate.public_id}/"
    assert api(cast.mallory).get(other).status_code == 404
    assert PipelineGate.objects.get(pk=world.gate.pk).enabled


def test_it_refuses_strongroom_tokens_at_the_check_endpoint(world: GateWorld, api: Any) -> None:
    path = f"/api/v1/governance/ado-gates/{world.gate.public_id}/check"
    for client in (api(), api(world.cast.alice), api(world.cast.charlie)):
        assert client.post(path, {"buildId": "1"}, format="json").status_code == 401


def test_it_evaluates_for_the_gates_own_identity_only(world: GateWorld, api: Any) -> None:
    from secrets_app.identities.services import client_secret_create_as, universal_auth_configure_as
    from tests.compat.conftest import SYSTEM

    config, _ = universal_auth_configure_as(actor=SYSTEM, identity=world.identity, changes={})
    _row, secret = client_secret_create_as(actor=SYSTEM, identity=world.identity, description="tests")
    login = Client().post(
        "/api/v1/auth/universal-auth/login",
        {"clientId": str(config.client_id), "clientSecret": secret},
        content_type="application/json",
    )
    token = login.json()["accessToken"]
    path = f"/api/v1/governance/pipeline-gates/{world.gate.public_id}/evaluate"

    own = Client().post(path, {}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
    charlie = api(world.cast.charlie).post(path, {}, format="json")
    mallory = api(world.cast.mallory).post(path, {}, format="json")

    assert own.status_code == 200 and own.json()["status"] == "pass", own.content
    assert charlie.status_code == 404 and mallory.status_code == 404
    event = AuditEvent.objects.filter(action="gate.evaluated").latest("id")
    assert event.metadata["mode"] == "script" and event.actor_type == "identity"


def test_it_lists_the_gate_routes_in_the_openapi_schema(db: None) -> None:
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for route in (
        "/api/v1/organizations/{organization}/governance/pipeline-gates/",
        "/api/v1/organizations/{organization}/governance/pipeline-gates/{gate}/",
        "/api/v1/organizations/{organization}/governance/pipeline-gates/{gate}/decisions/",
        "/api/v1/governance/ado-gates/{gate}/check",
        "/api/v1/governance/pipeline-gates/{gate}/evaluate",
    ):
        assert route in schema, route
