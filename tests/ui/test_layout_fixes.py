"""Issue 17 layout fixes at markup level: the identity page shows only configured login methods expanded (the
others are one "Add …" button each, opened again when their form comes back with errors), and the
access-token card offers "Revoke all" only when there is a live token."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.governance.gate_fixtures import ado, world  # noqa: F401 (fixtures)
from tests.identities.universal_support import login as machine_login
from tests.identities.universal_support import make_org_admin, make_robot
from tests.ui.conftest import HX, assert_csp_clean

PAGE = "/org/acme-org/identities/"


def _details(html: str, section: str) -> str:
    """The opening <details …> tag of a login method's form inside the section with that id."""
    body = html.split(f'id="{section}"', 1)[1]
    match = re.search(r"<details[^>]*>", body)
    assert match, f"no <details> in #{section}"
    return match.group(0)


@pytest.mark.django_db
def test_unconfigured_methods_are_one_add_button_and_configured_ones_are_expanded(login: Any, cast: Any) -> None:
    robot = make_robot(cast)
    ui = login(make_org_admin(cast))
    detail = f"{PAGE}{robot.identity.public_id}/"
    page = ui.get(detail)
    html = page.content.decode()
    assert_csp_clean(page)
    for section, name in (("identity-jwt", "JWT"), ("identity-oidc", "OIDC"), ("identity-kubernetes", "Kubernetes")):
        tag = _details(html, section)
        assert " open" not in tag, f"{name} is not configured yet is expanded: {tag}"
        assert f"Add {name} auth</summary>" in html
        assert f"Configure {name} auth" in html  # every field is still on the page, inside the closed <details>
    for field in ("jwks_url", "oidc_discovery_url", "kubernetes_host", "clear_ca_cert", "token_reviewer_jwt"):
        assert f'name="{field}"' in html

    # A form sent back with an error opens again, so the error is seen.
    refused = ui.post(f"{detail}kubernetes-auth/", {"access_token_ttl": 600}, **HX)
    assert refused.status_code == 422
    assert " open" in _details(refused.content.decode(), "identity-kubernetes")
    assert " open" not in _details(refused.content.decode(), "identity-jwt")

    saved = ui.post(
        f"{detail}oidc-auth/",
        {
            "access_token_ttl": 600,
            "access_token_max_ttl": 3600,
            "access_token_num_uses_limit": 0,
            "oidc_discovery_url": "https://token.actions.githubusercontent.com",
            "bound_issuer": "https://token.actions.githubusercontent.com",
        },
        **HX,
    )
    assert saved.status_code == 200, saved.content.decode()[:400]
    html = ui.get(detail).content.decode()
    assert " open" in _details(html, "identity-oidc") and "Edit OIDC auth</summary>" in html
    assert " open" not in _details(html, "identity-jwt")


@pytest.mark.django_db
def test_revoke_all_tokens_is_offered_only_when_a_token_is_live(login: Any, cast: Any) -> None:
    robot = make_robot(cast)
    ui = login(make_org_admin(cast))
    detail = f"{PAGE}{robot.identity.public_id}/"
    html = ui.get(detail).content.decode()
    card = html.split('id="identity-tokens"', 1)[1]
    assert "Revoke all tokens" not in card and "No live token" in card
    assert "Delete identity" in card

    assert machine_login(robot).status_code == 200
    card = ui.get(detail).content.decode().split('id="identity-tokens"', 1)[1]
    assert "Revoke all tokens" in card and "1 live token." in card


GATES = "/org/acme-org/governance/pipeline-gates/"


def _gate_password_once(html: str) -> str:
    """The gate password: inside the one-time <dialog>, and nowhere else on the page."""
    dialog = re.search(r'<dialog class="one-time-dialog" id="gate-password-dialog".*?</dialog>', html, re.S)
    assert dialog, "no one-time dialog for the gate password"
    password = re.search(r'id="gate-password">([^<]+)</code>', dialog.group(0))
    assert password
    value = password.group(1)
    assert len(value) >= 20 and html.count(value) == 1, "the password must appear once, in the dialog"
    assert "js/one_time.js" in html
    return value


def test_the_gate_password_is_shown_once_in_the_one_time_dialog(world: Any) -> None:  # noqa: F811
    from django.test import Client

    from governance.models import PipelineGate
    from tests.governance.gate_fixtures import PROJECT_ID

    alice = Client()
    alice.force_login(world.cast.alice)
    form = {
        "name": "layout gate",
        "ado_organization": "acme",
        "ado_project_id": PROJECT_ID,
        "ado_definition_id": "7",
        "project": "acme",
        "environment": "staging",
        "paths": "/backend",
        "identity": str(world.identity.public_id),
        "mode": "api_response",
    }
    created = alice.post(GATES, form)  # the plain form post answers the whole page
    assert created.status_code == 200, created.content[:400]
    first = _gate_password_once(created.content.decode())
    assert_csp_clean_fragment(created.content.decode())

    gate = PipelineGate.objects.get(name="layout gate")
    page = alice.get(f"{GATES}{gate.public_id}/")
    assert "gate-password" not in page.content.decode() and first not in page.content.decode()
    reset = alice.post(f"{GATES}{gate.public_id}/", {"action": "reset-password"}, HTTP_HX_REQUEST="true")
    assert reset.status_code == 200
    second = _gate_password_once(reset.content.decode() + page.content.decode())
    assert second != first


def assert_csp_clean_fragment(html: str) -> None:
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html, re.I) and not re.search(r"\sstyle\s*=", html, re.I)
