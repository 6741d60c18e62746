# ruff: noqa: F811  (the fixtures are imported, then named by the tests)
"""The "Azure DevOps estate" page: an organization admin sees what the scans found, filters it,
follows the findings, and starts a scan whose status card polls until the scan ends (HTTP 286);
nobody else sees any of it."""

from __future__ import annotations

import re

from audit.models import AuditEvent
from estate.models import EstateScan, ScanStatus
from tests.estate.ui_fixtures import PLAIN_VALUE, EstateWorld, ado_connection, estate, signed_in  # noqa: F401

PAGE = "/org/acme-org/estate/"
HTMX = {"HTTP_HX_REQUEST": "true"}


def _names(html: str) -> list[str]:
    return re.findall(r'class="row-link" href="[^"]+">([^<]+)</a>', html)


def test_it_lists_the_resources_and_the_findings_of_the_last_scan(estate: EstateWorld) -> None:
    response = signed_in(estate.cast.alice).get(PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    assert _names(html) == ["web-deploy", "Payments", "Web", "azure-prod", "payments-kv", "web-prod"]
    assert 'data-figure="variable_groups"' in html and "Succeeded" in html
    assert "3 open" in html  # the findings badge
    assert 'data-finding="plain_secret_variable"' in html and "Secret stored as a plain variable" in html
    assert f'href="{PAGE}?severity=high" data-severity="high"' in html and 'data-severity="medium"' in html
    assert "API_TOKEN" in html  # the finding names the variable; never its value
    assert PLAIN_VALUE not in html
    assert "private" in response["Cache-Control"]


def test_it_filters_the_rows_with_an_htmx_partial(estate: EstateWorld) -> None:
    alice = signed_in(estate.cast.alice)

    by_kind = alice.get(PAGE, {"kind": "variable_group"}, **HTMX).content.decode()
    by_project = alice.get(PAGE, {"project": "Payments"}, **HTMX).content.decode()
    by_finding = alice.get(PAGE, {"finding": "client_secret_connection"}, **HTMX).content.decode()
    by_search = alice.get(PAGE, {"q": "deploy"}, **HTMX).content.decode()
    by_severity = alice.get(PAGE, {"severity": "medium"}, **HTMX).content.decode()

    assert by_kind.strip().startswith('<div id="rows"') and "<html" not in by_kind
    assert sorted(_names(by_kind)) == ["payments-kv", "web-prod"]
    assert sorted(_names(by_project)) == ["Payments", "payments-kv"]
    assert _names(by_finding) == ["azure-prod"]
    assert "with the finding “Service connection on a client secret" in by_finding
    assert _names(by_search) == ["web-deploy"]
    assert _names(by_severity) == ["azure-prod", "web-prod"] and "with a medium finding" in by_severity


def test_it_shows_removed_resources_only_when_asked(estate: EstateWorld) -> None:
    from django.utils import timezone

    estate.pipeline.removed_at = timezone.now()
    estate.pipeline.save(update_fields=["removed_at"])
    alice = signed_in(estate.cast.alice)

    assert "web-deploy" not in _names(alice.get(PAGE, **HTMX).content.decode())
    shown = alice.get(PAGE, {"removed": "on"}, **HTMX).content.decode()
    assert "web-deploy" in _names(shown) and "removed</span>" in shown


def test_a_bad_filter_is_named_and_the_others_still_apply(estate: EstateWorld) -> None:
    html = signed_in(estate.cast.alice).get(PAGE, {"kind": "nonsense", "q": "web"}, **HTMX).content.decode()

    assert "Some filters were ignored: kind:" in html
    assert set(_names(html)) == {"Web", "web-deploy", "web-prod"}


def test_it_says_what_to_do_before_the_first_scan(cast: object) -> None:
    from tests.estate.ui_fixtures import make_admin

    make_admin(cast, cast.alice)  # type: ignore[attr-defined]
    alice = signed_in(cast.alice)  # type: ignore[attr-defined]

    no_connection = alice.get(PAGE).content.decode()
    ado_connection(cast)
    not_scanned = alice.get(PAGE).content.decode()

    assert 'id="no-connection"' in no_connection and "Connect Azure DevOps first" in no_connection
    assert 'id="scan-now"' not in no_connection
    assert 'id="never-scanned"' in not_scanned and 'id="scan-now"' in not_scanned
    assert "Findings appear after the first scan." in not_scanned


def test_it_refuses_the_estate_to_everyone_but_organization_admins(estate: EstateWorld) -> None:
    cast = estate.cast
    urls = [PAGE, f"{PAGE}scans/{estate.scan.public_id}/"]
    for user, status in ((cast.bob, 403), (cast.charlie, 403), (cast.mallory, 404)):
        for url in urls:
            assert signed_in(user).get(url).status_code == status, (user.email, url)
        assert signed_in(user).post(f"{PAGE}scans/", {"connection": "ado"}).status_code == status
    assert EstateScan.objects.count() == 1
    assert AuditEvent.objects.filter(action="permission.denied", resource_type="estate").exists()
    assert signed_in(cast.alice).get(f"{PAGE}scans/00000000-0000-0000-0000-000000000000/").status_code == 404
    anonymous = signed_in(cast.alice)
    anonymous.logout()
    assert anonymous.get(PAGE).status_code == 302


def test_scan_now_queues_a_scan_and_the_card_polls_until_it_ends(estate: EstateWorld) -> None:
    alice = signed_in(estate.cast.alice)

    started = alice.post(f"{PAGE}scans/", {"connection": str(estate.connection.public_id)}, **HTMX)

    assert started.status_code == 200, started.content
    scan = EstateScan.objects.get(status=ScanStatus.QUEUED)
    assert scan.requested_by == estate.cast.alice and scan.trigger == "manual"
    assert AuditEvent.objects.filter(action="estate.scan_requested", resource_id=str(scan.public_id)).count() == 1
    card = started.content.decode()
    status_url = f"{PAGE}scans/{scan.public_id}/"
    assert f'hx-get="{status_url}"' in card and 'hx-trigger="every 2s"' in card

    scan.status = ScanStatus.RUNNING
    scan.progress = {"phase": "groups", "projects_total": 4, "projects_done": 1, "requests": 9, "throttled": 2}
    scan.save()
    running = alice.get(status_url, **HTMX)
    assert running.status_code == 200
    assert 'value="1"' in running.content.decode() and "1 of 4 projects" in running.content.decode()
    assert "throttled 2×" in running.content.decode()

    EstateScan.objects.filter(pk=scan.pk).update(status=ScanStatus.SUCCEEDED)
    ended = alice.get(status_url, **HTMX)
    assert ended.status_code == 286  # htmx stops polling
    assert ended["HX-Trigger"] == "estate-scan-ended"
    html = ended.content.decode()
    assert "every 2s" not in html and 'id="est-summary" class="est-summary" hx-swap-oob="true"' in html


def test_asking_again_while_a_scan_runs_answers_409_naming_it(estate: EstateWorld) -> None:
    alice = signed_in(estate.cast.alice)
    first = alice.post(f"{PAGE}scans/", {"connection": "ado"}, **HTMX)
    again = alice.post(f"{PAGE}scans/", {"connection": "ado"}, **HTMX)

    assert first.status_code == 200 and again.status_code == 409
    assert "already queued" in again.content.decode()
    assert EstateScan.objects.filter(status=ScanStatus.QUEUED).count() == 1


def test_a_scan_without_a_connection_names_the_field(estate: EstateWorld) -> None:
    alice = signed_in(estate.cast.alice)

    missing = alice.post(f"{PAGE}scans/", {}, **HTMX)
    unknown = alice.post(f"{PAGE}scans/", {"connection": "nope"}, **HTMX)

    assert missing.status_code == 400 and "Choose an Azure DevOps connection" in missing.content.decode()
    assert unknown.status_code == 400 and "connection" in unknown.content.decode()
    assert EstateScan.objects.count() == 1


def test_a_plain_form_post_goes_back_to_the_page(estate: EstateWorld) -> None:
    response = signed_in(estate.cast.alice).post(f"{PAGE}scans/", {"connection": "ado"})

    assert response.status_code == 302 and response["Location"] == PAGE


def test_the_dashboard_has_an_estate_card_for_admins_only(estate: EstateWorld) -> None:
    cast = estate.cast
    dashboard = "/org/acme-org/governance/"

    html = signed_in(cast.alice).get(dashboard).content.decode()
    people = signed_in(cast.alice).get("/org/acme-org/people/").content.decode()
    bob = signed_in(cast.bob).get(dashboard)

    card = re.search(r'<section class="card gov-section" aria-labelledby="gov-estate-title".*?</section>', html, re.S)
    assert card is not None
    assert 'data-estate="variable_groups"><span class="gov-label">Variable groups</span><span class="gov-value">2<' in (
        card.group(0)
    )
    assert 'data-estate="open_findings"' in card.group(0) and ">3<" in card.group(0)
    assert 'data-severity="high">1 high' in card.group(0) and 'data-severity="medium">2 medium' in card.group(0)
    assert f'href="{PAGE}"' in card.group(0)
    assert f'<a href="{PAGE}" data-org-nav="estate">Azure DevOps estate</a>' in people
    assert bob.status_code == 200 and "gov-estate-title" not in bob.content.decode()
