# ruff: noqa: F811  (the history fixture is imported, then named by the tests)
"""The parity page: project → Governance → Parity."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from tests.governance.parity_fixtures import ALL_VALUES, history  # noqa: F401
from tests.ui.conftest import HX, assert_csp_clean

URL = "/projects/acme/governance/parity/"


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_it_offers_the_environments_without_comparing_until_asked(history):
    response = _login(history.alice).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="staging" selected' in html and 'value="prod" selected' in html
    assert "Pick two environments" in html
    assert not AuditEvent.objects.filter(action="environment.parity_checked").exists()
    assert_csp_clean(response)


@pytest.mark.django_db
def test_it_shows_missing_extra_and_same_value_tables_as_a_fragment(history):
    response = _login(history.bob).get(URL, {"from": "staging", "to": "prod", "path": "/", "recursive": "true"}, **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="parity-result">')
    assert "parity does not hold" in html
    missing = html[html.index('id="parity-missing"') : html.index('id="parity-extra"')]
    assert "NEW_FLAG" in missing and "CACHE" in missing and "LEGACY" not in missing
    extra = html[html.index('id="parity-extra"') : html.index('id="parity-same-value"')]
    assert "LEGACY" in extra
    same = html[html.index('id="parity-same-value"') :]
    assert "API_TOKEN" in same and "API_KEY" in same and "DATABASE_URL" not in same
    for value in ALL_VALUES:
        assert value not in html
    assert AuditEvent.objects.filter(action="environment.parity_checked", actor_label="bob@example.com").count() == 1


@pytest.mark.django_db
def test_it_says_why_it_cannot_compare_an_environment_the_caller_may_not_see(history):
    response = _login(history.erin).get(URL, {"from": "dev", "to": "prod"})
    assert response.status_code == 200
    assert "Cannot compare" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["charlie", "mallory"])
def test_it_answers_404_to_people_outside_the_project(history, who):
    response = _login(getattr(history, who)).get(URL, {"from": "staging", "to": "prod"})
    assert response.status_code == 404


@pytest.mark.django_db
def test_it_downloads_the_comparison_as_csv(history):
    response = _login(history.alice).get(
        URL, {"from": "staging", "to": "prod", "path": "/", "recursive": "true", "format": "csv"}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == "finding,path,key,detail" and 'missing,/,NEW_FLAG,"in staging, not in prod"' in lines
    assert len(lines) == 6
