"""A held production write, reviewed from the mailed links in Debian's Chromium.

A policy on prod:/ needs 2 approvals (alice and frank, both with TOTP). Bob updates a prod secret
through the REST API: 202, held. A real SMTP server (aiosmtpd) receives one mail per approver;
each approver opens the link from *their* mail, signs in with password + TOTP, lands on the
request and approves; frank then merges and the value is live. Along the way: alice's link opened
by frank is refused, GETs of every link and page change nothing, and the proposed value (a canary)
is never in a mail, in the HTML of someone who may not read it, in the raw approvals and
notifications tables, or in the logs.
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.request
from typing import Any

import pyotp
import pytest

from tests.conftest import PASSWORD
from tests.notifications.fixtures import deliver_all, smtp_server  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OLD_VALUE = "sk_live_old-9d3a51"
CANARY = "CANARY-proposed-5be0c7f1"
LINK = re.compile(r"https?://[^\s\"'<>]+/approvals/l/[^/\s\"'<>]+/")
SCREENSHOT = "/tmp/strongroom-change-request.png"
SHOTS = "/tmp/strongroom-approvals-{}.png"  # the other pages, for people to look at


def test_two_approvers_review_a_held_prod_write_from_their_mailed_links(
    live_server: Any,
    transactional_db: None,
    browser: Any,
    smtp_server: Any,  # noqa: F811
    settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from django.db import connections

    settings.SITE_URL = live_server.url
    caplog.set_level(logging.DEBUG)
    try:
        _review_flow(live_server.url, browser, smtp_server, caplog)
    finally:
        connections.close_all()


def _api(base_url: str, token: str, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        base_url + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the live test server
        return response.status, json.loads(response.read() or b"null")


def _with_totp(user: Any) -> str:
    from secrets_app.services.users import user_totp_begin, user_totp_confirm

    seed = pyotp.parse_uri(user_totp_begin(user=user)).secret
    assert user_totp_confirm(user=user, code=pyotp.TOTP(seed).now())
    return str(seed)


def _sign_in_from_link(chromium: Any, link: str, email: str, seed: str, problems: list[str]) -> Any:
    """Open *link* signed out: the login page (password, then the TOTP code), then the request."""
    from playwright.sync_api import expect

    page = chromium.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    page.set_default_timeout(10_000)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.type == "error" and "status of 403" not in message.text  # the refused link, on purpose
            else None
        ),
    )
    page.on("dialog", lambda dialog: dialog.accept())  # hx-confirm
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/login/\?next=/approvals/l/"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Authentication code").fill(pyotp.TOTP(seed).at(int(time.time()) + 30))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/projects/acme/approvals/changes/[0-9a-f-]{36}/$"))
    expect(page.get_by_role("heading", name=re.compile("Change request"))).to_be_visible()
    return page


def _state() -> Any:
    """Everything a review could change (audit rows and sessions aside)."""
    from approvals.models import ChangeRequest, ChangeRequestItem, ChangeReview, RequestComment
    from secrets_app.models import FolderCommit, Secret

    return (
        list(ChangeRequest.objects.order_by("pk").values()),
        list(ChangeRequestItem.objects.order_by("pk").values()),
        list(ChangeReview.objects.order_by("pk").values()),
        list(RequestComment.objects.order_by("pk").values()),
        list(Secret.objects.order_by("pk").values("pk", "key", "version", "deleted_at")),
        FolderCommit.objects.count(),
    )


def _raw_tables_text() -> str:
    """The approvals and notifications tables as pg_dump would see them: every row as text."""
    from django.db import connection

    with connection.cursor() as cursor:
        tables = [
            name
            for name in connection.introspection.table_names(cursor)
            if name.startswith(("approvals_", "notifications_"))
        ]
        dump = []
        for table in tables:
            cursor.execute(f'SELECT t::text FROM "{table}" t')  # noqa: S608 - names from introspection
            dump += [row[0] for row in cursor.fetchall()]
    return "\n".join(dump)


def _review_flow(base_url: str, chromium: Any, smtp: Any, caplog: pytest.LogCaptureFixture) -> None:
    from django.test import Client
    from playwright.sync_api import expect

    from approvals.links import review_link
    from approvals.models import ChangeRequest, RequestStatus
    from approvals.services.policies import MemberRef, approval_policy_create
    from audit.models import AuditEvent
    from secrets_app.models import FolderCommit
    from secrets_app.services.members import member_add
    from secrets_app.services.personal_tokens import personal_token_create
    from secrets_app.services.secrets import SecretInput, secret_create
    from secrets_app.services.users import user_create
    from tests.conftest import build_cast

    cast = build_cast()
    admin = cast.scope(cast.alice)
    frank = user_create(email="frank@example.com", password=PASSWORD, organization=cast.organization)
    member_add(scope=admin, email=frank.email, role="member")
    seeds = {cast.alice.email: _with_totp(cast.alice), frank.email: _with_totp(frank)}
    secret_create(scope=admin, environment="prod", path="/", item=SecretInput(key="API_KEY", value=OLD_VALUE))
    approval_policy_create(
        scope=admin,
        name="prod-guard",
        environments=["prod"],
        path="/",
        approvers=[MemberRef("user", cast.alice.email), MemberRef("user", frank.email)],
        approvals_required=2,
    )
    commits_before = FolderCommit.objects.count()

    # Bob writes to prod through the REST API: held for approval.
    bob_token = personal_token_create(user=cast.bob, name="ci")[1]
    status, body = _api(
        base_url, bob_token, "PATCH", "/api/v1/projects/acme/secrets/API_KEY/?environment=prod", {"value": CANARY}
    )
    assert status == 202, body
    assert CANARY not in json.dumps(body)
    change = ChangeRequest.objects.get()

    # One mail per approver, each with a link of its own; never the value.
    deliver_all()
    mails = {str(message["To"]): message for message in smtp.messages}
    assert sorted(mails) == [cast.alice.email, frank.email], list(mails)
    links: dict[str, str] = {}
    for address, message in mails.items():
        raw = message.as_string()
        assert CANARY not in raw and OLD_VALUE not in raw
        text = message.get_body(preferencelist=("plain",)).get_content()
        found = set(LINK.findall(text))
        assert len(found) == 1, text
        links[address] = found.pop()
    assert links[cast.alice.email] != links[frank.email]
    assert all(link.startswith(base_url + "/approvals/l/") for link in links.values())

    # GETs of every link and every page, signed in or not, change nothing.
    before = _state()
    channel_link = review_link(kind="change", request_public_id=change.public_id, recipient_key="channel:ops")
    detail = f"/projects/acme/approvals/changes/{change.public_id}/"
    anonymous = Client()
    for link in [*links.values(), channel_link]:
        assert anonymous.get(link.removeprefix(base_url)).status_code == 302
    for person in (cast.alice, frank, cast.bob, cast.dave):
        ui = Client()
        ui.force_login(person)
        for link in [*links.values(), channel_link]:
            assert ui.get(link.removeprefix(base_url)).status_code in (302, 403)
        for url in ("/projects/acme/approvals/changes/", detail, detail + "values/", "/projects/acme/"):
            response = ui.get(url)
            assert response.status_code == 200, (person.email, url)
            assert CANARY not in response.content.decode(), (person.email, url)
    assert _state() == before

    # Dave (viewer) may see the request but not read values: "value hidden", no Reveal.
    dave = Client()
    dave.force_login(cast.dave)
    dave_html = dave.get(detail).content.decode()
    assert "value hidden" in dave_html and "Reveal values" not in dave_html and CANARY not in dave_html

    problems: list[str] = []
    # Alice opens her link: login with TOTP, straight on to the request; she approves.
    alice_page = _sign_in_from_link(
        chromium, links[cast.alice.email], cast.alice.email, seeds[cast.alice.email], problems
    )
    assert CANARY not in alice_page.content()
    expect(alice_page.locator("#cr-changes")).to_contain_text("API_KEY")
    expect(alice_page.locator("#cr-changes")).to_contain_text("changed")
    alice_page.get_by_role("button", name="Reveal values").click()
    expect(alice_page.locator("#cr-changes .diff-new")).to_contain_text(CANARY)
    expect(alice_page.locator("#cr-changes .diff-old")).to_contain_text(OLD_VALUE)
    alice_page.locator("#cr-changes").screenshot(path=SHOTS.format("diff"))
    alice_page.get_by_role("button", name="Hide values").click()
    expect(alice_page.locator("#cr-changes .diff")).to_have_count(0)
    alice_page.get_by_label("Review comment").fill("rotation agreed in CHG-118")
    alice_page.get_by_role("button", name="Approve").click()
    expect(alice_page.get_by_role("status")).to_contain_text("You approved this request.")
    expect(alice_page.locator("#merge-blocker")).to_contain_text("Needs 2 approval(s), has 1.")

    # Frank's link, opened in alice's browser: refused (and recorded).
    refusals = AuditEvent.objects.filter(
        action="approval_link.refused", metadata__reason="foreign", actor_label=cast.alice.email
    )
    refused_before = refusals.count()
    alice_page.goto(links[frank.email])
    expect(alice_page.get_by_role("heading", name="This link was sent to someone else")).to_be_visible()
    alice_page.screenshot(path=SHOTS.format("refused"))
    assert refusals.count() == refused_before + 1

    # Frank opens his own link, approves, merges.
    frank_page = _sign_in_from_link(chromium, links[frank.email], frank.email, seeds[frank.email], problems)
    expect(frank_page.locator("#cr-reviews")).to_contain_text("rotation agreed in CHG-118")
    frank_page.get_by_role("button", name="Approve").click()
    expect(frank_page.get_by_role("status")).to_contain_text("You approved this request.")
    frank_page.screenshot(path=SCREENSHOT, full_page=True)
    frank_page.get_by_role("button", name="Merge", exact=True).click()
    expect(frank_page.get_by_role("status")).to_contain_text("Merged: the change is applied.")
    expect(frank_page.locator("#cr-summary")).to_contain_text("Merged")
    frank_page.screenshot(path=SHOTS.format("merged"), full_page=True)
    frank_page.get_by_role("link", name="Change requests").click()
    frank_page.get_by_role("link", name=re.compile("Merged")).click()
    expect(frank_page.locator("table.change-request-table")).to_contain_text(change.slug)
    frank_page.screenshot(path=SHOTS.format("list"), full_page=True)

    # The value is live (read through the API), with the normal write events and folder history.
    assert ChangeRequest.objects.get().status == RequestStatus.MERGED
    status, body = _api(base_url, bob_token, "GET", "/api/v1/projects/acme/secrets/API_KEY/?environment=prod")
    assert status == 200 and CANARY in json.dumps(body)
    assert AuditEvent.objects.filter(action="secret.updated", resource_id="API_KEY").exists()
    assert AuditEvent.objects.filter(action="change_request.merged").count() == 1
    assert AuditEvent.objects.filter(action="approval_link.opened").count() >= 2
    assert FolderCommit.objects.count() == commits_before + 1

    # The canary stayed out of the tables, the follow-up mails and the logs.
    deliver_all()
    assert CANARY not in _raw_tables_text()
    assert all(CANARY not in message.as_string() for message in smtp.messages)
    assert CANARY not in caplog.text
    assert not problems, "\n".join(problems)
