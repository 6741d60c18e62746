"""The governance dashboard pages: the home page after signing in, the project's Governance tab,
the lists behind the numbers (filters, sorting, CSV) and a secret's "delivered to" page."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from django.test import Client

from secrets_app.models import OrgRole
from secrets_app.services.users import user_create
from tests.conftest import PASSWORD
from tests.governance.dashboard_fixtures import VALUES, History, build_history

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(cast: Any) -> History:
    return build_history(cast)


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _page(client: Client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    body = response.content.decode()
    for value in VALUES:
        assert value not in body
    return body


def _tile(body: str, key: str) -> tuple[str, str, str]:
    """(href, value, trend text) of the figure tile *key*."""
    found = re.search(
        rf'<a class="gov-tile[^"]*" href="([^"]+)" data-figure="{key}">\s*<span class="gov-label">[^<]*</span>\s*'
        rf'<span class="gov-value">(\d+)</span>\s*<span class="gov-delta[^"]*">([^<]*)</span>',
        body,
    )
    assert found, key
    return found.group(1), found.group(2), found.group(3)


def _table(body: str, name: str) -> list[list[str]]:
    """The text of each body row of the table marked ``data-table``/``data-chart`` *name*."""
    found = re.search(rf'<table[^>]*data-(?:table|chart)="{name}"[^>]*>(.*?)</table>', body, re.S)
    assert found, name
    tbody = re.search(r"<tbody>(.*?)</tbody>", found.group(1), re.S)
    assert tbody
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", tbody.group(1), re.S)
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)]
        for r in rows
    ]


def test_it_lands_on_the_dashboard_after_signing_in(history: History) -> None:
    client = Client()
    response = client.post("/login/", {"email": "bob@example.com", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    body = _page(client, "/")
    assert "Acme dashboard" in body
    href, value, trend = _tile(body, "secrets")
    assert (href, value, trend) == ("/org/acme-org/governance/risks/", "5", "▲ 1 vs 7 days ago")
    assert 'href="/projects/"' in body  # the projects list stays one click away


def test_it_links_every_number_to_the_list_behind_it(history: History) -> None:
    client = _client(history.cast.bob)
    body = _page(client, "/projects/acme/governance/")
    assert _tile(body, "leaked")[:2] == ("/projects/acme/governance/risks/?flag=leaked", "1")
    assert _tile(body, "syncs_failing")[0] == "/projects/acme/syncs/"
    assert _tile(body, "pending_approvals")[0] == "/projects/acme/approvals/changes/"
    flags = dict(re.findall(r'<a href="([^"]+)" data-flag="(\w+)">', body))
    assert set(flags.values()) >= {"never_delivered", "stale", "same_value", "leaked"}
    # each flag's number is the number of rows its list shows (the flags set in the history, and a zero)
    for url, flag in flags.items():
        if flag not in ("never_delivered", "same_value", "leaked", "expired"):
            continue
        shown = re.search(rf'data-flag="{flag}"><span>[^<]*</span><span class="gov-n[^"]*">(\d+)', body)
        assert shown
        listed = _page(client, url.replace("&amp;", "&"))
        assert re.search(r"<span data-count>(\d+)</span>", listed).group(1) == shown.group(1), flag  # type: ignore[union-attr]
    envs = {row[0]: row[1] for row in _table(body, "environments")}
    assert envs == {"dev": "1", "staging": "1", "prod": "3"}
    prod = _page(client, "/projects/acme/governance/risks/?environment=prod")
    assert re.search(r"<span data-count>(\d+)</span>", prod).group(1) == "3"  # type: ignore[union-attr]


def test_it_gives_each_chart_a_text_alternative_with_the_numbers(history: History) -> None:
    body = _page(_client(history.cast.bob), "/projects/acme/governance/")
    # four charts, each named by its title and desc; the age chart's bars are links, so it is a group
    assert body.count('<svg class="chart"') == 4 and body.count('role="img"') == 3 and body.count('role="group"') == 1
    assert [row[1] for row in _table(body, "age")] == ["1", "1", "1", "1", "1"]
    oldest = "/projects/acme/governance/risks/?age=gt365&amp;sort=-age"
    assert body.count(f'href="{oldest}"') == 2  # the bar and its table cell open the list
    listed = _page(_client(history.cast.bob), oldest.replace("&amp;", "&"))
    assert re.findall(r'data-secret="([^"]+)"', listed) == ["prod:/:API_TOKEN"]
    reads = _table(body, "reads")
    assert len(reads) == 5 and reads[0][1:] == ["3", "0"] and reads[1][1:] == ["3", "2"]  # prod, staging
    assert [row[0:4] for row in _table(body, "top-consumers")] == [
        ["ci-deployer · granted vs delivered", "machine identity", "15", "30"],
        ["bob@example.com", "person", "2", "1"],
    ]
    access = f"/projects/acme/governance/identities/{history.identity.public_id}/"
    assert f'href="{access}"' in body  # the identity's granted-vs-delivered page
    assert [row[1:] for row in _table(body, "stale-trend")] == [["0", "2"], ["1", "2"]]
    assert '<title id="chart-age-title">' in body and "&lt; 30 days: 1" in body


def test_it_filters_sorts_and_exports_the_risk_list(history: History) -> None:
    client = _client(history.cast.bob)
    listed = _page(client, "/projects/acme/governance/risks/?sort=-age")
    keys = re.findall(r'data-secret="([^"]+)"', listed)
    assert keys[0] == "prod:/:API_TOKEN" and keys[-1] == "prod:/:DATABASE_URL"
    by_path = re.findall(r'data-secret="([^"]+)"', _page(client, "/projects/acme/governance/risks/?path=/backend"))
    assert by_path == ["prod:/backend:CACHE_URL"]
    bad = _page(client, "/projects/acme/governance/risks/?flag=nonsense")
    assert "flag must be one of" in bad
    response = client.get("/projects/acme/governance/risks/?flag=never_delivered&sort=key&format=csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["environment"], r["key"], r["flags"]) for r in rows] == [
        ("prod", "API_TOKEN", "never_delivered;rotation_overdue;owner_missing"),
        ("dev", "DEV_ONLY", "never_delivered"),
    ]


def test_it_shows_who_a_secret_was_delivered_to(history: History) -> None:
    secret = history.secrets["prod:CACHE_URL"]
    client = _client(history.cast.bob)
    body = _page(client, f"/projects/acme/governance/secrets/{secret.pk}/")
    assert "Delivered to" in body and "used by" not in body.lower()
    rows = _table(body, "deliveries")
    assert [r[0] for r in rows] == ["bob@example.comperson", "ci-deployermachine identity"]
    assert rows[1][3:] == ["15", "10.0.0.7", "strongroom-cli/1.0", "acme-ado/proj-1/42#1001"]
    assert "Leaked" in body
    assert f'href="/projects/acme/governance/identities/{history.identity.public_id}/"' in body
    exported = client.get(f"/projects/acme/governance/secrets/{secret.pk}/?format=csv")
    assert b"ci-deployer" in b"".join(exported.streaming_content)


def test_it_hides_the_pages_from_people_without_governance_read(history: History) -> None:
    secret = history.secrets["prod:CACHE_URL"]
    urls = [
        "/projects/acme/governance/",
        "/projects/acme/governance/risks/",
        f"/projects/acme/governance/secrets/{secret.pk}/",
    ]
    for url in urls:
        _page(_client(history.cast.charlie), url, 404)
        _page(_client(history.cast.mallory), url, 404)
        _page(_client(history.cast.dave), url, 403)
    _page(_client(history.cast.mallory), "/org/acme-org/governance/", 404)
    _page(_client(history.cast.mallory), "/org/acme-org/governance/risks/", 404)
    charlie_home = _page(_client(history.cast.charlie), "/")
    assert _tile(charlie_home, "secrets")[1] == "0" and "DATABASE_URL" not in charlie_home
    mallory_home = _page(_client(history.cast.mallory), "/")
    assert "Evil dashboard" in mallory_home and "acme" not in mallory_home.lower().replace("acme-org", "")


def test_it_shows_an_org_admin_every_project_with_links_per_project(history: History) -> None:
    olivia = user_create(
        email="olivia@example.com", password=PASSWORD, organization=history.cast.organization, org_role=OrgRole.ADMIN
    )
    body = _page(_client(olivia), "/org/acme-org/governance/")
    [row] = _table(body, "projects")
    assert row[0].startswith("Acme app") and row[2:4] == ["5", "5"]
    assert 'href="/projects/acme/governance/risks/?environment=prod"' in body


def test_it_renders_the_home_page_with_a_fixed_number_of_queries(
    history: History, django_assert_max_num_queries: Any
) -> None:
    client = _client(history.cast.alice)
    client.get("/")
    with django_assert_max_num_queries(40) as captured:
        assert client.get("/").status_code == 200
    assert not any("audit_auditevent" in q["sql"] for q in captured.captured_queries)


def test_it_swaps_only_the_results_when_htmx_filters(history: History) -> None:
    response = _client(history.cast.bob).get("/projects/acme/governance/risks/?environment=dev", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="gov-results">') and "<html" not in body
    assert re.findall(r'data-secret="([^"]+)"', body) == ["dev:/:DEV_ONLY"]
