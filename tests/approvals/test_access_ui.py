"""The access-request pages: "Request access" where a refusal stops a person of the organization
(never for outsiders), the form, the request page's approve/reject buttons, the inbox with its
count, "My access", and GET changing nothing anywhere."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from approvals.models import AccessRequest, AccessReview
from audit.models import AuditEvent
from secrets_app.models import TemporaryAccessGrant

REASON = "incident INC-4711: payments failing in prod"


@pytest.fixture
def login(db: None) -> Any:
    def make(user: Any) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def policy(make_policy: Any, seeded: Any) -> Any:
    return make_policy(name="prod-access", approvers=[seeded.alice, seeded.bob], governs_changes=False)


def _ask(login: Any, user: Any, **fields: Any) -> Any:
    body = {"environment": "prod", "path": "/", "access": "read", "duration": "1h", "reason": REASON, **fields}
    return login(user).post("/projects/acme/access/request/", body)


def test_a_refusal_offers_request_access_to_people_of_the_organization_only(
    seeded: Any, policy: Any, login: Any
) -> None:
    charlie = login(seeded.charlie).get("/projects/acme/?environment=prod")
    mallory = login(seeded.mallory).get("/projects/acme/?environment=prod")

    assert charlie.status_code == 404
    assert b"/projects/acme/access/request/?environment=prod" in charlie.content
    assert mallory.status_code == 404
    assert b"Request access" not in mallory.content
    assert b"Request access" not in login(seeded.mallory).get("/projects/acme/access/request/").content
    assert login(seeded.mallory).get("/projects/acme/access/request/").status_code == 404


def test_no_offer_where_no_policy_governs_access(seeded: Any, login: Any) -> None:
    page = login(seeded.charlie).get("/projects/acme/")

    assert page.status_code == 404 and b"Request access" not in page.content


def test_the_form_asks_and_an_approver_approves_from_the_request_page(seeded: Any, policy: Any, login: Any) -> None:
    form = login(seeded.charlie).get("/projects/acme/access/request/?environment=prod&path=/")
    assert form.status_code == 200 and b"prod-access" in form.content

    asked = _ask(login, seeded.charlie)
    assert asked.status_code == 302, asked.content
    request = AccessRequest.objects.get()
    detail_url = f"/projects/acme/access/requests/{request.public_id}/"
    assert asked["Location"] == detail_url

    bob = login(seeded.bob)
    assert b'value="approve"' in bob.get(detail_url).content
    assert b'value="approve"' not in login(seeded.charlie).get(detail_url).content  # no self-review
    inbox = bob.get("/approvals/inbox/")
    assert b'id="inbox-count">1<' in inbox.content and REASON.encode() not in inbox.content

    approved = bob.post(detail_url + "act/", {"action": "approve", "comment": "go"})

    assert approved.status_code == 302
    request.refresh_from_db()
    assert request.status == "approved" and request.grant is not None
    mine = login(seeded.charlie).get("/access/mine/")
    assert b"Acme app" in mine.content and b"prod:/" in mine.content
    assert b'id="inbox-count"' not in bob.get("/approvals/inbox/").content


def test_form_errors_name_the_field(seeded: Any, policy: Any, login: Any) -> None:
    too_long = _ask(login, seeded.charlie, duration="9h")

    assert too_long.status_code == 200
    assert b"at most 8 hours" in too_long.content
    assert not AccessRequest.objects.exists()


def test_get_on_every_page_changes_nothing(seeded: Any, policy: Any, login: Any) -> None:
    _ask(login, seeded.charlie)
    request = AccessRequest.objects.get()
    detail = f"/projects/acme/access/requests/{request.public_id}/"
    clients = [login(user) for user in (seeded.alice, seeded.bob, seeded.charlie)]  # logging in is audited
    last_event = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    before = (AccessReview.objects.count(), TemporaryAccessGrant.objects.count())

    for client in clients:
        for url in (detail, detail + "act/", "/approvals/inbox/", "/access/mine/", "/projects/acme/access/request/"):
            client.get(url + ("?action=approve" if url.endswith("act/") else ""))

    assert list(AuditEvent.objects.filter(id__gt=last_event).values_list("action", flat=True)) == []
    assert (AccessReview.objects.count(), TemporaryAccessGrant.objects.count()) == before
    request.refresh_from_db()
    assert request.status == "pending"
    assert login(seeded.bob).get(detail + "act/").status_code == 405


def test_outsiders_and_non_approvers_cannot_see_a_request(seeded: Any, policy: Any, login: Any) -> None:
    _ask(login, seeded.charlie)
    detail = f"/projects/acme/access/requests/{AccessRequest.objects.get().public_id}/"

    assert login(seeded.mallory).get(detail).status_code == 404
    assert login(seeded.erin).get(detail).status_code == 404
    assert login(seeded.erin).post(detail + "act/", {"action": "approve"}).status_code == 404
    assert Client().get(detail).status_code == 302  # to the login page
