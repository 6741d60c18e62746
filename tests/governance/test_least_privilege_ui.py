# ruff: noqa: F811  (the lp_history fixture is imported, then named by the tests)
"""The least-privilege pages: proposals with an Apply button per identity, and one identity's
"granted vs delivered" page (governance:identity_access)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from secrets_app.models import IdentityProjectMembership
from tests.governance.lp_fixtures import VALUES, lp_history  # noqa: F401
from tests.ui.conftest import HX, assert_csp_clean

LIST = "/projects/acme/governance/least-privilege/"


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _identity_url(history) -> str:
    return reverse(
        "governance:identity_access", kwargs={"project": "acme", "identity": history.reader.identity.public_id}
    )


@pytest.mark.django_db
def test_it_lists_proposals_with_an_apply_button_and_applies_one_by_htmx(lp_history):
    alice = _login(lp_history.cast.alice)
    page = alice.get(LIST)
    assert page.status_code == 200
    html = page.content.decode()
    assert "api-reader" in html and "idle-bot" in html
    assert "allow secrets.read_value in prod at /backend/api/**" in html
    assert "remove (no access)" in html
    assert html.count(">Apply</button>") == 2
    for value in VALUES:
        assert value not in html
    assert_csp_clean(page)

    reader = lp_history.reader.identity
    access_url = reverse("governance:least_privilege_apply", args=["acme", reader.public_id])
    row = alice.post(access_url, {"from": "list", "days": "30"}, **HX)
    assert row.status_code == 200
    fragment = row.content.decode()
    assert fragment.lstrip().startswith(f'<tr id="lp-{reader.public_id}">')
    assert "lp-api-reader" in fragment and "least privilege" in fragment and ">Apply</button>" not in fragment
    assert IdentityProjectMembership.objects.get(identity=reader).custom_role.slug == "lp-api-reader"


@pytest.mark.django_db
def test_it_shows_granted_vs_delivered_for_one_identity(lp_history):
    page = _login(lp_history.cast.bob).get(_identity_url(lp_history))
    assert page.status_code == 200
    html = page.content.decode()
    granted = html[html.index('id="granted"') : html.index('id="delivered"')]
    assert "allow secrets.* in every environment at /**" in granted
    delivered = html[html.index('id="delivered"') : html.index('id="proposal"')]
    assert "/backend/api" in delivered and "API_KEY, DB_URL" in delivered
    proposal = html[html.index('id="proposal"') :]
    assert "allow secrets.read in prod at /backend/api/**" in proposal
    assert ">Apply</button>" not in proposal  # bob may not apply
    for value in VALUES:
        assert value not in html


@pytest.mark.django_db
def test_it_refuses_bob_an_apply_post(lp_history):
    reader = lp_history.reader.identity
    response = _login(lp_history.cast.bob).post(
        reverse("governance:least_privilege_apply", args=["acme", reader.public_id]), {"days": "30"}
    )
    assert response.status_code == 403
    assert IdentityProjectMembership.objects.get(identity=reader).builtin_role == "member"


@pytest.mark.django_db
def test_it_answers_404_to_people_outside_the_project(lp_history):
    for who in (lp_history.cast.charlie, lp_history.cast.mallory):
        client = _login(who)
        assert client.get(LIST).status_code == 404
        assert client.get(_identity_url(lp_history)).status_code == 404


@pytest.mark.django_db
def test_it_downloads_the_proposals_as_csv(lp_history):
    client = Client()
    client.force_login(lp_history.cast.alice)
    response = client.get("/projects/acme/governance/least-privilege/", {"days": "30", "format": "csv"})
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == "identity,role,granted,delivered,proposal,proposed_rules,reasons"
    assert any(line.startswith("api-reader,member,") and ",narrow," in line for line in lines)
