"""The dashboard's numbers from the real engine: secrets written and read through the API over
simulated days (a pipeline identity, a person listing and revealing), ``manage.py governance_refresh``
a week ago and now, then the API and the pages show exactly what happened."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client

from tests.identities.universal_support import bearer, login, make_robot

pytestmark = pytest.mark.django_db

# After the real clock (the cast is written at real time, and the delivery cursor never passes an
# event younger than the refresh's horizon), at noon so "N days ago" stays on its day.
NOW = datetime.datetime.now(datetime.UTC).replace(hour=12, minute=0, second=0, microsecond=0) + datetime.timedelta(
    days=1
)
D0 = NOW - datetime.timedelta(days=100)  # four secrets written
WEEK_AGO = NOW - datetime.timedelta(days=7)  # the refresh whose snapshot the trend compares with
VALUES = {"DB_URL": "postgres://db-value-7d1e", "API_KEY": "api-key-value-88f0", "OLD": "old-value-3c2a"}


@dataclass
class History:
    cast: Any
    ci: Any
    ids: dict[str, int]


def _refresh(at: datetime.datetime) -> None:
    with time_machine.travel(at, tick=False), open("/dev/null", "w") as sink:
        call_command("governance_refresh", stdout=sink)


@pytest.fixture
def history(cast: Any, token_for: Any, settings: Any) -> History:
    """prod: DB_URL, API_KEY (day 0), NEW_KEY (2 days ago); dev: DB_URL (same value as prod), OLD.
    ci (identity) lists prod 5 days ago and 3 days ago; bob lists prod yesterday and reveals dev
    DB_URL. Refreshed a week ago (4 secrets, nothing delivered) and now."""
    from secrets_app.models import Secret
    from secrets_app.services.secrets import SecretInput, secret_create

    settings.STRONGROOM_AUDIT_SEAL_DELAY_SECONDS = 0
    alice = cast.scope(cast.alice)
    with time_machine.travel(D0, tick=False):
        ci = make_robot(cast, role="member")
        for env, key in (("prod", "DB_URL"), ("prod", "API_KEY"), ("dev", "DB_URL"), ("dev", "OLD")):
            secret_create(scope=alice, environment=env, path="/", item=SecretInput(key=key, value=VALUES[key]))
    _refresh(WEEK_AGO)
    for days in (5, 3):
        with time_machine.travel(NOW - datetime.timedelta(days=days), tick=False):
            token = login(ci, ip="10.0.0.7").json()["accessToken"]
            response = bearer(token).get(
                "/api/v1/projects/acme/secrets/?environment=prod&include_values=true",
                REMOTE_ADDR="10.0.0.7",
                HTTP_USER_AGENT="strongroom-cli/1.0",
            )
            assert response.status_code == 200, response.content
    with time_machine.travel(NOW - datetime.timedelta(days=2), tick=False):
        secret_create(scope=alice, environment="prod", path="/", item=SecretInput(key="NEW_KEY", value="n-1"))
    with time_machine.travel(NOW - datetime.timedelta(days=1), tick=False):
        bob = Client()
        bob.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token_for(cast.bob)}"
        assert bob.get("/api/v1/projects/acme/secrets/?environment=prod&include_values=true").status_code == 200
        assert bob.get("/api/v1/projects/acme/secrets/DB_URL/?environment=dev").status_code == 200
    _refresh(NOW)
    ids = {f"{e}:{k}": pk for e, k, pk in Secret.objects.values_list("environment__slug", "key", "pk")}
    return History(cast, ci, ids)


def _figures(items: list[dict[str, Any]]) -> dict[str, tuple[int, int | None]]:
    return {f["key"]: (f["value"], f["delta"]) for f in items}


def test_it_shows_what_happened_in_the_figures_and_charts(history: History, api: Any) -> None:
    with time_machine.travel(NOW, tick=False):
        body = api(history.cast.bob).get("/api/v1/projects/acme/governance/dashboard/").json()
    counts = _figures(body["counts"])
    assert counts["secrets"] == (5, 1)  # NEW_KEY since last week
    assert counts["identities"] == (1, 0) and counts["people"][0] == 4  # ci; alice, bob, dave, erin
    flags = _figures(body["flags"])
    assert flags["never_delivered"] == (1, -3)  # only dev OLD now; all four a week ago
    assert flags["same_value"][0] == 2  # DB_URL in prod and dev
    assert flags["revealed_recently"][0] == 1  # bob's single read of dev DB_URL
    assert flags["stale"][0] == 0 and flags["leaked"][0] == 0
    charts = body["charts"]
    assert [b["count"] for b in charts["age"]] == [1, 0, 4, 0, 0]  # NEW_KEY; the four from day 0
    reads = {s["environment"]: s for s in charts["reads"]["series"]}
    assert reads["prod"]["values"][-6:] == [1, 0, 1, 0, 1, 0]  # ci, ci, bob (days -5, -3, -1)
    assert reads["dev"]["total"] == 1
    top = [(c["kind"], c["events"], c["keys"]) for c in charts["topConsumers"]]
    assert top == [("identity", 2, 4), ("user", 2, 4)]  # ci: 2 lists of 2 keys; bob: 3 keys + 1 reveal
    assert [(p["day"], p["neverDelivered"]) for p in charts["staleTrend"]] == [
        (str(WEEK_AGO.date()), 4),
        (str(NOW.date()), 1),
    ]


def test_it_lists_the_secrets_and_consumers_behind_the_numbers(history: History, api: Any) -> None:
    client = api(history.cast.bob)
    with time_machine.travel(NOW, tick=False):
        never = client.get("/api/v1/projects/acme/governance/risks/?flag=never_delivered").json()
        consumers = client.get(
            f"/api/v1/projects/acme/governance/secrets/{history.ids['prod:DB_URL']}/consumers/"
        ).json()
        by_ci = client.get(
            f"/api/v1/projects/acme/governance/risks/?consumer=identity:{history.ci.identity.public_id}&sort=key"
        ).json()
        page = Client()
        page.force_login(history.cast.bob)
        html = page.get("/projects/acme/governance/").content.decode()
    assert [(r["environment"], r["key"]) for r in never["results"]] == [("dev", "OLD")]
    assert [(d["consumerKind"], d["deliveries"]) for d in consumers["deliveredTo"]] == [("user", 1), ("identity", 2)]
    ci = consumers["deliveredTo"][1]
    assert (ci["lastSourceIp"], ci["lastUserAgent"]) == ("10.0.0.7", "strongroom-cli/1.0")
    assert [r["key"] for r in by_ci["results"]] == ["API_KEY", "DB_URL"]
    tile = re.search(
        r'data-figure="secrets">\s*<span class="gov-label">[^<]*</span>\s*<span class="gov-value">(\d+)', html
    )
    assert tile and tile.group(1) == "5"
    for value in VALUES.values():
        assert value not in html
