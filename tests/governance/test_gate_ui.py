# ruff: noqa: F811  (the fixtures are imported, then named by the tests)
"""The organization's "Pipeline gates" pages: an admin creates a gate and sees its Basic credentials
and the check to paste (once), then its decisions with their reasons; everyone else is refused."""

from __future__ import annotations

import re

from django.test import Client

from governance.models import PipelineGate
from tests.governance.gate_fixtures import PROJECT_ID, GateWorld, ado, call_gate, world  # noqa: F401

PAGE = "/org/acme-org/governance/pipeline-gates/"


def _signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


def test_it_creates_a_gate_and_shows_the_check_to_paste_once(world: GateWorld) -> None:
    alice = _signed_in(world.cast.alice)
    form = {
        "name": "staging deploy",
        "ado_organization": "acme",
        "ado_project_id": PROJECT_ID,
        "ado_definition_id": "7",
        "project": "acme",
        "environment": "staging",
        "paths": "/backend",
        "identity": str(world.identity.public_id),
        "mode": "api_response",
        "require_rotation_current": "on",
        "require_no_leaks": "on",
    }

    created = alice.post(PAGE, form)

    assert created.status_code == 200, created.content
    html = created.content.decode()
    gate = PipelineGate.objects.get(name="staging deploy")
    password = re.search(r'id="gate-password">([^<]+)</code>', html)  # in the one-time dialog
    assert password is not None and "shown once" in html
    assert f"/api/v1/governance/ado-gates/{gate.public_id}/check" in html
    assert "eq(root[&#x27;status&#x27;], &#x27;pass&#x27;)" in html and "$(build.BuildId)" in html
    assert gate.require_no_leaks and not gate.require_no_quarantined
    assert password.group(1) not in alice.get(PAGE).content.decode()  # shown on that page only
    assert created["Cache-Control"] == "no-store"


def test_it_lists_the_decisions_of_a_gate_with_their_reasons(world: GateWorld) -> None:
    from governance.models import LeakFlag
    from tests.governance.gate_fixtures import secret_at

    secret = secret_at(world.cast, "API_KEY")
    LeakFlag.objects.create(secret=secret, project=world.cast.project, reason="r", flagged_version=secret.version)
    build_id, token = world.run()
    call_gate(Client(), world, build_id, token)

    html = _signed_in(world.cast.alice).get(f"{PAGE}{world.gate.public_id}/").content.decode()

    assert str(build_id) in html and "badge danger" in html
    assert "API_KEY (/backend): flagged as leaked on" in html
    assert token not in html


def test_it_refuses_the_pages_to_people_who_do_not_administer_the_organization(world: GateWorld) -> None:
    cast = world.cast
    for user, status in ((cast.bob, 403), (cast.charlie, 403), (cast.mallory, 404)):
        assert _signed_in(user).get(PAGE).status_code == status
        assert _signed_in(user).get(f"{PAGE}{world.gate.public_id}/").status_code == status
        assert _signed_in(user).post(f"{PAGE}{world.gate.public_id}/", {"action": "delete"}).status_code == status
    assert PipelineGate.objects.filter(pk=world.gate.pk).exists()
    assert Client().get(PAGE).status_code == 302  # to the sign-in page
