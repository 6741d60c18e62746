"""The governance dashboard API: figures, charts, the risk list (filters, sorting, paging, CSV),
a secret's consumers, and who may see them."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from secrets_app.models import OrgRole
from secrets_app.services.users import user_create
from tests.governance.dashboard_fixtures import VALUES, History, build_history

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(cast: Any) -> History:
    return build_history(cast)


PROJECT = "/api/v1/projects/acme/governance"
ORG = "/api/v1/organizations/acme-org/governance"


def _figure(figures: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return next(f for f in figures if f["key"] == key)


def _rows(response: Any) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    for value in VALUES:
        assert value not in body
    return list(csv.DictReader(io.StringIO(body)))


def test_it_shows_the_project_figures_with_their_weekly_trend(history: History, api: Any) -> None:
    body = api(history.cast.alice).get(f"{PROJECT}/dashboard/").json()
    secrets = _figure(body["counts"], "secrets")
    assert (secrets["value"], secrets["previous"], secrets["delta"]) == (5, 4, 1)
    flags = {f["key"]: f["value"] for f in body["flags"]}
    assert flags == {
        "never_delivered": 2,
        "stale": 1,
        "expiring": 0,
        "expired": 0,
        "rotation_overdue": 1,
        "owner_missing": 1,
        "owner_deactivated": 0,
        "over_shared": 0,
        "same_value": 2,
        "revealed_recently": 1,
        "leaked": 1,
        "quarantined": 0,
    }
    assert _figure(body["flags"], "stale")["delta"] == 1  # 0 a week ago
    assert _figure(body["counts"], "leaked")["previous"] == 0
    [project] = body["projects"]
    assert {e["slug"]: e["secrets"] for e in project["environments"]} == {"dev": 1, "staging": 1, "prod": 3}


def test_it_draws_the_charts_from_known_history(history: History, api: Any) -> None:
    charts = api(history.cast.bob).get(f"{PROJECT}/dashboard/").json()["charts"]
    assert [b["count"] for b in charts["age"]] == [1, 1, 1, 1, 1]  # 10, 45, 100, 200, 400 days
    reads = {s["environment"]: s for s in charts["reads"]["series"]}
    assert reads["prod"]["total"] == 15 and reads["prod"]["values"][-5:] == [3, 3, 3, 3, 3]
    assert reads["staging"]["total"] == 2 and reads["staging"]["values"][-2] == 2
    assert len(charts["reads"]["days"]) == 30
    top = charts["topConsumers"]
    assert [(c["label"], c["events"], c["keys"]) for c in top] == [("ci-deployer", 15, 30), ("bob@example.com", 2, 1)]
    assert top[0]["identityId"] == str(history.identity.public_id)
    assert [(p["stale"]) for p in charts["staleTrend"]] == [0, 1]


def test_it_filters_sorts_and_pages_the_risk_list(history: History, api: Any) -> None:
    client = api(history.cast.bob)

    def keys(query: str) -> list[str]:
        response = client.get(f"{PROJECT}/risks/?{query}")
        assert response.status_code == 200, response.content
        return [f"{r['environment']}:{r['key']}" for r in response.json()["results"]]

    assert keys("flag=never_delivered&sort=key") == ["prod:API_TOKEN", "dev:DEV_ONLY"]
    assert keys("environment=prod&sort=key") == ["prod:API_TOKEN", "prod:CACHE_URL", "prod:DATABASE_URL"]
    assert keys("path=/backend") == ["prod:CACHE_URL"]
    assert keys(f"consumer=identity:{history.identity.public_id}&sort=key") == ["prod:CACHE_URL", "prod:DATABASE_URL"]
    assert keys(f"consumer=user:{history.cast.bob.pk}") == ["prod:CACHE_URL"]
    assert keys("age=gt365") == ["prod:API_TOKEN"]
    assert keys("age=30_90&sort=key") == ["staging:DATABASE_URL"]
    assert keys("sort=-age")[0] == "prod:API_TOKEN"
    assert keys("sort=age")[0] == "prod:DATABASE_URL"
    assert keys("sort=last_delivered")[:2] == ["prod:API_TOKEN", "staging:DATABASE_URL"] or keys("sort=last_delivered")[
        :2
    ] == ["staging:DATABASE_URL", "prod:API_TOKEN"]
    assert keys("sort=-last_delivered")[0] == "prod:CACHE_URL"
    assert keys("sort=-score")[0] == "prod:API_TOKEN"  # three flags
    page = client.get(f"{PROJECT}/risks/?sort=key&limit=2&offset=2").json()
    assert page["count"] == 5 and len(page["results"]) == 2
    assert page["results"][0]["key"] == "DATABASE_URL"


def test_it_refuses_an_unknown_filter_naming_it(history: History, api: Any) -> None:
    response = api(history.cast.bob).get(f"{PROJECT}/risks/?flag=bogus")
    assert response.status_code == 400
    assert "flag" in response.json()["error"]["fields"]
    response = api(history.cast.bob).get(f"{PROJECT}/risks/?consumer=robot")
    assert response.status_code == 400
    assert "consumer" in response.json()["error"]["fields"]


def test_it_exports_the_risk_list_as_csv(history: History, api: Any) -> None:
    client = api(history.cast.bob)
    response = client.get(f"{PROJECT}/risks/?format=csv&flag=same_value&sort=key")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = _rows(response)
    assert [(r["environment"], r["key"], r["same_value_in"]) for r in rows] == [
        ("staging", "DATABASE_URL", "prod"),  # environments in their order: dev, staging, prod
        ("prod", "DATABASE_URL", "staging"),
    ]
    assert rows[1]["flags"] == "stale;same_value"
    by_accept = client.get(f"{PROJECT}/risks/", HTTP_ACCEPT="text/csv")
    assert len(_rows(by_accept)) == 5


def test_it_lists_who_a_secret_was_delivered_to(history: History, api: Any) -> None:
    secret = history.secrets["prod:CACHE_URL"]
    body = api(history.cast.bob).get(f"{PROJECT}/secrets/{secret.pk}/consumers/").json()
    assert body["key"] == "CACHE_URL" and body["path"] == "/backend"
    assert body["risk"]["flags"] == ["leaked"]
    delivered = [(d["consumer"], d["deliveries"], d["lastSourceIp"], d["lastPipeline"]) for d in body["deliveredTo"]]
    assert delivered == [
        ("bob@example.com", 2, "192.0.2.5", ""),
        ("ci-deployer", 15, "10.0.0.7", "acme-ado/proj-1/42#1001"),
    ]
    assert body["deliveredTo"][1]["identityId"] == str(history.identity.public_id)
    rows = _rows(api(history.cast.bob).get(f"{PROJECT}/secrets/{secret.pk}/consumers/?format=csv"))
    assert [r["consumer"] for r in rows] == ["bob@example.com", "ci-deployer"]
    assert rows[1]["last_user_agent"] == "strongroom-cli/1.0"


def test_it_answers_top_consumers(history: History, api: Any) -> None:
    body = api(history.cast.bob).get(f"{PROJECT}/top-consumers/?days=1").json()
    assert [(c["label"], c["events"]) for c in body["results"]] == [("ci-deployer", 3)]
    rows = _rows(api(history.cast.bob).get(f"{PROJECT}/top-consumers/?format=csv"))
    assert [(r["consumer"], r["read_events"], r["keys"]) for r in rows] == [
        ("ci-deployer", "15", "30"),
        ("bob@example.com", "2", "1"),
    ]


def test_it_hides_a_project_from_outsiders_and_refuses_a_viewer(history: History, api: Any) -> None:
    secret = history.secrets["prod:CACHE_URL"]
    for path in ("dashboard/", "risks/", "top-consumers/", f"secrets/{secret.pk}/consumers/"):
        assert api(history.cast.charlie).get(f"{PROJECT}/{path}").status_code == 404
        assert api(history.cast.mallory).get(f"{PROJECT}/{path}").status_code == 404
        assert api(history.cast.dave).get(f"{PROJECT}/{path}").status_code == 403
    # another project's secret id is not found through this project
    assert (
        api(history.cast.mallory).get(f"/api/v1/projects/evil/governance/secrets/{secret.pk}/consumers/").status_code
        == 404
    )


def test_it_shows_the_organization_only_what_each_person_may_read(history: History, api: Any) -> None:
    olivia = user_create(
        email="olivia@example.com",
        password="x-Very-long-passw0rd!",
        organization=history.cast.organization,
        org_role=OrgRole.ADMIN,
    )
    admin = api(olivia).get(f"{ORG}/dashboard/").json()
    assert _figure(admin["counts"], "secrets")["value"] == 5
    assert _figure(admin["counts"], "secrets")["delta"] == 1  # the organization's own snapshots
    assert [p["slug"] for p in admin["projects"]] == ["acme"]
    assert api(olivia).get(f"{ORG}/risks/").json()["count"] == 5
    assert api(history.cast.bob).get(f"{ORG}/risks/").json()["count"] == 5  # governance.read in acme
    # dave (viewer) and charlie (no access) belong to the organization but read no project's governance
    for user in (history.cast.dave, history.cast.charlie):
        body = api(user).get(f"{ORG}/dashboard/").json()
        assert _figure(body["counts"], "secrets")["value"] == 0 and body["projects"] == []
        assert api(user).get(f"{ORG}/risks/").json()["count"] == 0
    # another organization's admin: not found at all
    for path in ("dashboard/", "risks/", "top-consumers/"):
        assert api(history.cast.mallory).get(f"{ORG}/{path}").status_code == 404
    mallory_own = api(history.cast.mallory).get("/api/v1/organizations/evil-org/governance/risks/").json()
    assert mallory_own["count"] == 0


def test_it_never_reads_the_audit_log_and_keeps_a_fixed_number_of_queries(
    history: History, api: Any, django_assert_max_num_queries: Any
) -> None:
    client = api(history.cast.alice)
    client.get(f"{PROJECT}/dashboard/")  # warm the token and access caches
    with django_assert_max_num_queries(30) as captured:
        assert client.get(f"{PROJECT}/dashboard/").status_code == 200
    assert not any("audit_auditevent" in q["sql"] for q in captured.captured_queries)
