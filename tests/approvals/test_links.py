"""Signed review links (approvals/links.py, /approvals/l/<token>/): what a notification carries.

A link is a pointer, never a credential: following it needs a normal login, it changes nothing,
a personal link works for its recipient only, a channel link for anyone who may see the request,
and a bad or old link gets a clear page; every outcome is audited."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pyotp
import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from approvals.links import (
    SALT,
    ReviewLinkRefused,
    link_for_request,
    review_link,
    review_link_token,
    review_link_verify,
)
from audit.models import AuditEvent
from tests.conftest import PASSWORD


def open_change_request(cast: Any, *, environment: str = "prod", path: str = "/") -> Any:
    """A change request as the write gate leaves it (models only: no value needed here)."""
    from approvals.models import ChangeRequest
    from secrets_app.models import Environment

    return ChangeRequest.objects.create(
        project=cast.project,
        environment=Environment.objects.get(project=cast.project, slug=environment),
        path=path,
        operation="secret.updated",
        committer_user=cast.bob,
        committer_label=cast.bob.email,
        expires_at=timezone.now() + dt.timedelta(days=7),
    )


@pytest.fixture
def login(db: None) -> Any:
    """login(user) -> a test client with that user's session."""

    def make(user: Any) -> Client:
        ui = Client()
        ui.force_login(user)
        return ui

    return make


@pytest.fixture
def change(cast: Any) -> Any:
    return open_change_request(cast)


def _path(link: str) -> str:
    return link.removeprefix("http://testserver")


def _detail(cast: Any, change: Any) -> str:
    return f"/projects/{cast.project.slug}/approvals/changes/{change.public_id}/"


def _refusals(reason: str) -> Any:
    return AuditEvent.objects.filter(action="approval_link.refused", metadata__reason=reason)


@pytest.fixture(autouse=True)
def _site_url(settings: Any) -> None:
    settings.SITE_URL = "http://testserver"


# --- the token ----------------------------------------------------------------------------------


def test_it_builds_an_absolute_link_under_the_site_url(settings: Any, change: Any) -> None:
    settings.SITE_URL = "https://vault.example.com/"
    link = review_link(kind="change", request_public_id=change.public_id, recipient_key="user:7")

    assert link.startswith("https://vault.example.com/approvals/l/") and link.endswith("/")
    token = link.split("/approvals/l/")[1].rstrip("/")
    verified = review_link_verify(token)
    assert (verified.kind, verified.request_public_id, verified.recipient_key) == (
        "change",
        str(change.public_id),
        "user:7",
    )


def test_it_gives_each_recipient_a_link_of_their_own(change: Any) -> None:
    link_for = link_for_request("change", change.public_id)

    links = {link_for("user:1"), link_for("user:2"), link_for("channel:ops-room")}

    assert len(links) == 3
    assert review_link_verify(link_for("channel:ops-room").split("/l/")[1].rstrip("/")).recipient_key == (
        "channel:ops-room"
    )


def test_it_refuses_to_sign_a_link_for_an_unknown_kind_or_recipient(change: Any) -> None:
    with pytest.raises(ValueError):
        review_link(kind="merge", request_public_id=change.public_id, recipient_key="user:1")
    with pytest.raises(ValueError):
        review_link(kind="change", request_public_id=change.public_id, recipient_key="everyone")


def test_it_tells_a_tampered_token_from_an_expired_one(settings: Any, change: Any) -> None:
    token = review_link_token(kind="change", request_public_id=change.public_id, recipient_key="user:1")
    payload, rest = token.split(":", 1)
    forged = signing.dumps({"k": "change", "r": str(change.public_id), "to": "user:2"}, salt="another-salt")

    for bad in (payload[:-2] + "xx:" + rest, forged, "not-a-token"):
        with pytest.raises(ReviewLinkRefused) as refused:
            review_link_verify(bad)
        assert (refused.value.reason, refused.value.status) == ("tampered", 400)

    settings.STRONGROOM_APPROVAL_LINK_MAX_AGE_HOURS = 1
    with pytest.raises(ReviewLinkRefused) as expired:
        review_link_verify(_old_token(change, "user:1", hours=2))
    assert (expired.value.reason, expired.value.status) == ("expired", 410)
    assert review_link_verify(_old_token(change, "user:1", hours=0)).recipient_key == "user:1"


def _old_token(change: Any, recipient: str, *, hours: int) -> str:
    class Backdated(signing.TimestampSigner):
        def timestamp(self) -> str:
            return signing.b62_encode(int(time.time()) - hours * 3600)

    payload = {"k": "change", "r": str(change.public_id), "to": recipient}
    return Backdated(salt=SALT).sign_object(payload, compress=False)


# --- following a link ---------------------------------------------------------------------------


def test_it_sends_the_recipient_to_the_request_and_audits_the_opening(login: Any, cast: Any, change: Any) -> None:
    link = review_link(kind="change", request_public_id=change.public_id, recipient_key=f"user:{cast.alice.pk}")

    response = login(cast.alice).get(_path(link))

    assert response.status_code == 302 and response["Location"] == _detail(cast, change)
    assert response["Cache-Control"] == "no-store"
    event = AuditEvent.objects.get(action="approval_link.opened")
    assert (event.actor_label, event.project_id, event.resource_id) == (
        cast.alice.email,
        cast.project.pk,
        str(change.public_id),
    )
    assert event.metadata["recipient"] == f"user:{cast.alice.pk}"
    assert login(cast.alice).get(response["Location"]).status_code == 200


def test_it_refuses_a_personal_link_opened_by_someone_else(login: Any, cast: Any, change: Any) -> None:
    link = review_link(kind="change", request_public_id=change.public_id, recipient_key=f"user:{cast.alice.pk}")

    response = login(cast.bob).get(_path(link))

    assert response.status_code == 403
    assert "This link was sent to someone else" in response.content.decode()
    event = _refusals("foreign").get()
    assert (event.actor_label, event.outcome, event.project_id) == (cast.bob.email, "deny", cast.project.pk)
    assert not AuditEvent.objects.filter(action="approval_link.opened").exists()


def test_it_lets_anyone_who_may_see_the_request_follow_a_channel_link(login: Any, cast: Any, change: Any) -> None:
    link = review_link(kind="change", request_public_id=change.public_id, recipient_key="channel:sec-approvals")

    for person in (cast.alice, cast.bob, cast.dave):
        response = login(person).get(_path(link))
        assert response.status_code == 302 and response["Location"] == _detail(cast, change), person.email
    assert login(cast.erin).get(_path(link)).status_code == 404  # a member who may not see prod
    outsider = login(cast.charlie).get(_path(link))
    assert outsider.status_code == 404
    assert str(change.public_id) not in outsider.content.decode()
    assert _refusals("missing").filter(actor_label=cast.charlie.email).count() == 1
    assert login(cast.mallory).get(_path(link)).status_code == 404


def test_it_shows_a_clear_page_for_a_tampered_or_expired_link(
    settings: Any, login: Any, client: Client, cast: Any, change: Any
) -> None:
    settings.STRONGROOM_APPROVAL_LINK_MAX_AGE_HOURS = 1
    expired = _old_token(change, f"user:{cast.alice.pk}", hours=3)
    tampered = review_link_token(kind="change", request_public_id=change.public_id, recipient_key="user:1") + "x"

    for ui in (login(cast.alice), client):  # signed in or not: no login needed to learn it is dead
        gone = ui.get(f"/approvals/l/{expired}/")
        assert gone.status_code == 410 and "This link has expired" in gone.content.decode()
        bad = ui.get(f"/approvals/l/{tampered}/")
        assert bad.status_code == 400 and "This link is not valid" in bad.content.decode()

    assert _refusals("expired").count() == 2 and _refusals("tampered").count() == 2
    signed_in = _refusals("expired").get(actor_label=cast.alice.email)
    assert signed_in.project_id == cast.project.pk and signed_in.resource_id == str(change.public_id)
    assert _refusals("tampered").filter(actor_type="anonymous").count() == 1


def test_it_never_changes_anything_on_get_and_refuses_other_methods(login: Any, cast: Any, change: Any) -> None:
    from approvals.models import ChangeRequest, ChangeReview

    link = _path(review_link(kind="change", request_public_id=change.public_id, recipient_key=f"user:{cast.alice.pk}"))
    before = list(ChangeRequest.objects.values())
    alice = login(cast.alice)

    assert alice.head(link).status_code == 302
    for method in ("post", "put", "patch", "delete"):
        assert getattr(alice, method)(link).status_code == 405, method

    assert list(ChangeRequest.objects.values()) == before
    assert not ChangeReview.objects.exists()


def test_it_takes_a_signed_out_person_through_password_and_totp_then_to_the_request(
    client: Client, cast: Any, change: Any
) -> None:
    from secrets_app.services.users import user_totp_begin, user_totp_confirm

    seed = pyotp.parse_uri(user_totp_begin(user=cast.alice)).secret
    assert user_totp_confirm(user=cast.alice, code=pyotp.TOTP(seed).now())
    link = _path(review_link(kind="change", request_public_id=change.public_id, recipient_key=f"user:{cast.alice.pk}"))

    first = client.get(link)
    assert first.status_code == 302 and first["Location"].startswith("/login/?next=")
    assert not AuditEvent.objects.filter(action__startswith="approval_link.").exists()  # a scanner learns nothing
    login_page = client.get(first["Location"])
    assert login_page.status_code == 200

    password = client.post(first["Location"], {"email": cast.alice.email, "password": PASSWORD})
    assert password.status_code == 302 and password["Location"] == "/login/verify/"
    next_step = pyotp.TOTP(seed).at(int(time.time()) + 30)  # the enrolment used this step's code
    verified = client.post("/login/verify/", {"code": next_step})
    assert verified.status_code == 302 and verified["Location"] == link

    landed = client.get(link)
    assert landed.status_code == 302 and landed["Location"] == _detail(cast, change)
    assert client.get(landed["Location"]).status_code == 200


def test_it_sends_an_access_requester_without_project_access_to_their_request(login: Any, cast: Any) -> None:
    from approvals.models import AccessRequest
    from secrets_app.models import Environment

    asked = AccessRequest.objects.create(
        project=cast.project,
        requester=cast.charlie,
        environment=Environment.objects.get(project=cast.project, slug="prod"),
        path="/",
        access=["read"],
        duration_minutes=60,
        reason="incident 12",
        expires_at=timezone.now() + dt.timedelta(days=1),
    )
    link = review_link(kind="access", request_public_id=asked.public_id, recipient_key=f"user:{cast.charlie.pk}")

    response = login(cast.charlie).get(_path(link))

    assert response.status_code == 302
    assert response["Location"] == f"/projects/acme/access/requests/{asked.public_id}/"
    assert (
        login(cast.dave)
        .get(_path(review_link(kind="access", request_public_id=asked.public_id, recipient_key="channel:x")))
        .status_code
        == 404
    )
