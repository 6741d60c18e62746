"""The audit viewer names resources, opens events, and applies filters as they change."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from tests.browser.conftest import _chromium, browser  # noqa: F401 (fixtures: tests/ui does not see tests/browser)
from tests.ui.conftest import ALL_VALUES, HX, assert_no_values

PAGE = "/projects/acme/audit/"
ORG_PAGE = "/org/acme-org/audit/"


@pytest.fixture
def olivia(seeded: Any) -> Any:
    from secrets_app.models import OrgRole
    from secrets_app.services.users import user_create

    return user_create(
        email="olivia@example.com", password="x" * 16, organization=seeded.organization, org_role=OrgRole.ADMIN
    )


def _rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1]
    return re.findall(r"<tr>(.*?)</tr>", body, re.S)


def _row_of(html: str, action: str, *needles: str) -> str:
    for row in _rows(html):
        if f">{action}<" in row and all(needle in row for needle in needles):
            return row
    raise AssertionError(f"no {action} row with {needles}")


def _resource_cell(row: str) -> str:
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cells[-2])).strip()


@pytest.mark.django_db
def test_a_secret_and_a_member_are_named(login, seeded):
    html = login(seeded.alice).get(PAGE).content.decode()
    secret = _resource_cell(_row_of(html, "secret.created", "DATABASE_URL", ">prod<"))
    assert "DATABASE_URL" in secret and "prod:/" in secret and "deleted" not in secret
    member = _resource_cell(_row_of(html, "member.added", "bob@example.com"))
    assert member.startswith("member") and "bob@example.com" in member
    assert not re.search(r"member \d+", member)
    assert_no_values(html)


@pytest.mark.django_db
def test_an_identity_is_named_on_the_organization_log(login, seeded, olivia):
    from secrets_app.identities.services import identity_create
    from secrets_app.principals import Principal

    identity = identity_create(principal=Principal.for_user(olivia), organization=seeded.organization, name="ci-bot")
    html = login(olivia).get(ORG_PAGE).content.decode()
    cell = _resource_cell(_row_of(html, "identity.created"))
    assert "ci-bot" in cell and str(identity.public_id) not in cell and "deleted" not in cell


@pytest.mark.django_db
def test_a_deleted_secret_shows_its_key_and_deleted(login, seeded):
    from secrets_app.services.secrets import secret_delete

    secret_delete(scope=seeded.scope(seeded.alice), environment="dev", path="/", key="DEV_ONLY")
    html = login(seeded.alice).get(PAGE).content.decode()
    created = _resource_cell(_row_of(html, "secret.created", "DEV_ONLY"))
    assert "DEV_ONLY" in created and "dev:/" in created and "deleted" in created
    # the same key still alive in another environment is not marked deleted
    assert "deleted" not in _resource_cell(_row_of(html, "secret.created", "DATABASE_URL", ">dev<"))


def _bulk(seeded: Any, count: int, start: int = 0) -> None:
    """*count* events naming distinct members, identities and secrets (each kind resolvable)."""
    from audit.services import audit_record
    from secrets_app.identities.services import identity_create_as

    actor = seeded.scope(seeded.alice).audit_actor()
    kinds = ("secret", "member", "identity")
    for index in range(start, start + count):
        kind = kinds[index % 3]
        if kind == "identity":
            ident = identity_create_as(actor=actor, organization=seeded.organization, name=f"bot-{index}")
            resource_id = str(ident.public_id)
        else:
            resource_id = "DATABASE_URL" if kind == "secret" else str(seeded.bob.pk)
        audit_record(
            action="bulk.tested",
            actor=actor,
            organization_id=seeded.organization.pk,
            project_id=seeded.project.pk,
            environment="dev",
            path="/",
            resource_type=kind,
            resource_id=resource_id,
        )


def _queries_for(client: Any) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        html = client.get(PAGE, {"action": "bulk.tested"}, **HX).content.decode()
    return len(captured.captured_queries), html


@pytest.mark.django_db
def test_the_query_count_does_not_grow_with_rows(login, seeded):
    client = login(seeded.alice)
    _bulk(seeded, 5)
    few, html = _queries_for(client)
    assert html.count(">bulk.tested<") == 5
    _bulk(seeded, 45, start=5)
    many, html = _queries_for(client)
    assert html.count(">bulk.tested<") == 50 and "bot-" in html and "bob@example.com" in html
    assert many == few, (few, many)


@pytest.mark.django_db
def test_the_detail_lists_the_keys_read_and_no_value(login, seeded):
    client = login(seeded.alice)
    assert client.get("/projects/acme/secrets/value/?environment=dev&path=/&key=DATABASE_URL").status_code == 200
    client.get("/projects/acme/?environment=dev")
    read = AuditEvent.objects.filter(project_id=seeded.project.pk, action__startswith="secret.").exclude(
        action__in=["secret.created"]
    )
    listed = next(event for event in read.order_by("-id") if len(event.metadata.get("keys", [])) > 1)
    page = client.get(PAGE).content.decode()
    assert f'href="/projects/acme/audit/{listed.pk}/"' in page  # each row links to its event's page
    opened = client.get(f"/projects/acme/audit/{listed.pk}/")
    assert opened.status_code == 200 and all(
        f"<li>{key}</li>" in opened.content.decode() for key in listed.metadata["keys"]
    )
    detail = client.get(f"/projects/acme/audit/{listed.pk}/", **HX)
    assert detail.status_code == 200
    html = detail.content.decode()
    for key in listed.metadata["keys"]:
        assert f"<li>{key}</li>" in html
    assert listed.action in html and "Hash chain" in html and "User agent" in html
    for value in ALL_VALUES:
        assert value not in html
    full = client.get(f"/projects/acme/audit/{listed.pk}/")
    assert full.status_code == 200 and "Back to the audit log" in full.content.decode()
    assert_no_values(full.content.decode())


@pytest.mark.django_db
def test_the_detail_has_the_page_permission(login, seeded, olivia):
    event = AuditEvent.objects.filter(project_id=seeded.project.pk).order_by("-id").first()
    assert event is not None
    url = f"/projects/acme/audit/{event.pk}/"
    for user in (seeded.dave, seeded.erin):  # members without audit.read
        assert login(user).get(PAGE).status_code == 403
        assert login(user).get(url, **HX).status_code == 403
    assert login(seeded.mallory).get(url).status_code == 404  # another organization
    other = AuditEvent.objects.filter(project_id=seeded.other_project.pk).first()
    assert other is not None
    assert login(seeded.alice).get(f"/projects/acme/audit/{other.pk}/").status_code == 404
    # the organization log: members are refused its events as its page, admins see them
    org_url = f"/org/acme-org/audit/{event.pk}/"
    assert login(seeded.bob).get(ORG_PAGE).status_code == 403
    assert login(seeded.bob).get(org_url, **HX).status_code == 403
    assert login(olivia).get(org_url, **HX).status_code == 200
    assert login(olivia).get(f"/org/acme-org/audit/{other.pk}/", **HX).status_code == 404


@pytest.mark.django_db
def test_the_filters_apply_on_change_and_stay_in_the_url(login, seeded, olivia):
    for page in (PAGE, ORG_PAGE):
        html = login(olivia if page == ORG_PAGE else seeded.alice).get(page).content.decode()
        live = f'hx-get="{page}"'  # each input asks for the page itself, with the whole form
        form = re.search(r'<form class="filters".*?</form>', html, re.S)
        assert form is not None
        form_html = form.group(0)
        assert 'hx-push-url="true"' in form_html and 'hx-include="closest form"' in form_html
        org = page == ORG_PAGE  # the organization's environment filter is free text
        for name in ("outcome", "scope") if org else ("outcome", "environment"):
            select = re.search(rf'<select[^>]*name="{name}"[^>]*>', form_html)
            assert select is not None and 'hx-trigger="change"' in select.group(0) and live in select.group(0), name
        for name in ("action", "actor", "environment") if org else ("action", "actor"):
            field = re.search(rf'<input[^>]*name="{name}"[^>]*>', form_html)
            assert field is not None and live in field.group(0), name
            assert 'hx-trigger="keyup changed delay:400ms, change"' in field.group(0), name
        for name in ("since", "until"):
            field = re.search(rf'<input[^>]*name="{name}"[^>]*>', form_html)
            assert field is not None and 'hx-trigger="change"' in field.group(0), name


SCREENSHOT = "/tmp/strongroom-s17-audit.png"


@pytest.mark.browser
@pytest.mark.slow
def test_in_chromium_typing_and_choosing_filter_without_enter(
    live_server: Any,
    transactional_db: None,
    browser: Any,  # noqa: F811
) -> None:
    from django.db import connections

    try:
        _walk(live_server.url, browser)
    finally:
        connections.close_all()


def _walk(base_url: str, browser: Any) -> None:  # noqa: F811
    from django.contrib.auth import get_user_model
    from playwright.sync_api import expect

    from secrets_app.principals import Principal
    from secrets_app.selectors.access import project_scope_for
    from secrets_app.selectors.secrets import secret_list
    from secrets_app.services.bootstrap import bootstrap
    from secrets_app.services.projects import project_create
    from secrets_app.services.secrets import SecretInput, secret_create
    from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, sign_in

    result = bootstrap(admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
    admin = Principal.for_user(get_user_model().objects.get(email=ADMIN_EMAIL))
    project = project_create(principal=admin, organization=result.organization, slug="shop", name="Shop")
    scope = project_scope_for(admin, project)
    for key in ("DATABASE_URL", "STRIPE_KEY"):
        secret_create(scope=scope, environment="dev", path="/", item=SecretInput(key=key, value=ALL_VALUES[0]))
    secret_list(scope, environment="dev")  # a listing: one secret.listed event naming both keys

    problems: list[str] = []
    page = sign_in(browser, base_url, ADMIN_EMAIL, ADMIN_PASSWORD, problems=problems)
    page.goto(f"{base_url}/projects/shop/audit/")

    page.get_by_label("Action").press_sequentially("secret.listed", delay=30)  # no Enter, no Apply
    expect(page).to_have_url(re.compile(r"action=secret\.listed"))
    expect(page.locator("#results tbody tr").first).to_contain_text("secret.listed")
    page.get_by_label("Outcome").select_option("allow")
    expect(page).to_have_url(re.compile(r"outcome=allow"))
    row = page.locator("#results tbody tr").first
    expect(row).to_contain_text("2 secrets")
    expect(row.get_by_role("link", name=re.compile("Details"))).to_be_visible()
    assert ALL_VALUES[0] not in page.content()
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert problems == [], problems
