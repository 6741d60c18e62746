"""The quarantine in the web UI: the Quarantine page (candidates, one-click quarantine and restore,
leak flags, the policy form), the matrix badge, and the panel's reveal answering 423."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from audit.models import AuditEvent
from governance.models import LeakFlag, Quarantine
from tests.governance.quarantine_fixtures import VALUES, History, assert_no_values, build_history

PAGE = "/projects/acme/governance/quarantine/"
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def history(cast: Any) -> History:
    return build_history(cast)


def _as(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_quarantines_the_checked_candidates_and_restores_with_one_click(history: History) -> None:
    alice = _as(history.cast.alice)

    page = alice.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Quarantine selected" in html and f'value="{history.ids["STALE"]}"' in html
    assert_no_values(html)

    done = alice.post(PAGE, {"secret": [history.ids["STALE"], history.ids["NEVER"]], "reason": "cleanup"}, **HX)

    assert done.status_code == 200
    assert "Quarantined STALE, NEVER." in done.content.decode() or "Quarantined NEVER, STALE." in done.content.decode()
    assert set(Quarantine.objects.values_list("secret__key", "reason")) == {("STALE", "cleanup"), ("NEVER", "cleanup")}
    restored = alice.post(PAGE + "restore/", {"secret": history.ids["STALE"]}, **HX)
    assert "Restored STALE" in restored.content.decode()
    assert history.secret("STALE").quarantined_at is None and history.secret("NEVER").quarantined_at is not None


def test_it_shows_the_badge_hides_the_reveal_and_answers_423_to_a_reveal(history: History) -> None:
    from governance.services.quarantine import secret_quarantine

    secret_quarantine(scope=history.cast.scope(history.cast.alice), secret_id=history.ids["STALE"])
    alice = _as(history.cast.alice)

    matrix = alice.get("/projects/acme/")
    panel = alice.get("/projects/acme/secrets/item/?environment=dev&path=/&key=STALE", **HX)
    reveal = alice.get("/projects/acme/secrets/value/?environment=dev&path=/&key=STALE", **HX)

    assert matrix.status_code == 200 and "quarantined" in matrix.content.decode()
    panel_html = panel.content.decode()
    assert "Quarantined" in panel_html and 'id="quarantine-restore"' in panel_html
    assert "Reveal</button>" not in panel_html
    assert reveal.status_code == 423
    assert "Secret STALE is quarantined since" in reveal.content.decode()
    for response in (matrix, panel, reveal):
        assert VALUES["STALE"] not in response.content.decode()
    assert (
        AuditEvent.objects.filter(action="secret.quarantined_read_refused", actor_label="alice@example.com").count()
        == 1
    )
    # a member sees the badge but no Restore button
    bob_panel = _as(history.cast.bob).get("/projects/acme/secrets/item/?environment=dev&path=/&key=STALE", **HX)
    assert "Quarantined" in bob_panel.content.decode() and 'id="quarantine-restore"' not in bob_panel.content.decode()
    # the panel's Restore is a plain form: back to the Quarantine page with the notice (no re-POST on reload)
    restored = alice.post(PAGE + "restore/", {"secret": history.ids["STALE"]}, follow=True)
    assert restored.redirect_chain == [(PAGE, 302)] and "Restored STALE" in restored.content.decode()


def test_it_flags_a_leak_and_saves_the_policy_from_the_page(history: History) -> None:
    alice = _as(history.cast.alice)

    blank = alice.post("/projects/acme/governance/leaks/", {"secret": history.ids["USED"], "reason": ""}, **HX)
    flagged = alice.post(
        "/projects/acme/governance/leaks/", {"secret": history.ids["USED"], "reason": "in CI log"}, **HX
    )
    policy = alice.post(
        "/projects/acme/governance/policy/", {"quarantine_after_days": "", "stale_after_days": "30"}, **HX
    )

    assert blank.status_code == 400 and "reason: is required" in blank.content.decode()
    assert flagged.status_code == 200 and "Flagged USED as leaked" in flagged.content.decode()
    assert LeakFlag.objects.get().reason == "in CI log"
    assert policy.status_code == 200 and "Nothing unused" not in policy.content.decode()
    assert "No quarantine offered in this project" in policy.content.decode()
    assert AuditEvent.objects.filter(action="governance.policy_updated").count() == 1


def test_it_refuses_charlie_and_other_organizations(history: History) -> None:
    for user in (history.cast.charlie, history.cast.mallory):
        client = _as(user)
        assert client.get(PAGE).status_code == 404
        assert client.post(PAGE + "restore/", {"secret": history.ids["STALE"]}).status_code == 404
    bob = _as(history.cast.bob)
    assert bob.get(PAGE).status_code == 200
    assert bob.post(PAGE, {"secret": [history.ids["STALE"]]}, **HX).status_code == 403
    assert not Quarantine.objects.exists()
