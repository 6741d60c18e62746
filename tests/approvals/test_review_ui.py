"""The change-request review pages: list, detail, reveal, review, merge, break-glass, rebase,
close/reopen, comments. Requests are opened the real way: a write to a protected place is held.

Cast: alice (admin) and frank (member) approve under a policy on prod:/ needing 2 approvals;
bob (member) writes; dave (viewer) may see the request but not read values; erin (dev-only) and
charlie (no access) may not see it at all."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from approvals.models import ChangeRequest, RequestStatus
from audit.models import AuditEvent
from tests.approvals.test_links import login  # noqa: F401 (fixture)

HX = {"HTTP_HX_REQUEST": "true"}
OLD_VALUE = "old-Prod-Val-3c9d1e"
CANARY = "canary-Proposed-7f2b91"


@pytest.fixture
def held(cast: Any) -> Any:
    """A policy on prod:/ (2 approvals: alice, frank) and bob's held update of API_KEY there."""
    from approvals.services.policies import MemberRef, approval_policy_create
    from secrets_app.services.members import member_add
    from secrets_app.services.secrets import SecretInput, secret_create, secret_update
    from secrets_app.services.users import user_create
    from secrets_app.write_gate import HeldForApproval

    frank = user_create(
        email="frank@example.com", password="correct-horse-battery-staple", organization=cast.organization
    )
    member_add(scope=cast.scope(cast.alice), email=frank.email, role="member")
    scope = cast.scope(cast.alice)
    secret_create(scope=scope, environment="prod", path="/", item=SecretInput(key="API_KEY", value=OLD_VALUE))
    policy = approval_policy_create(
        scope=scope,
        name="prod-guard",
        environments=["prod"],
        path="/",
        approvers=[MemberRef("user", cast.alice.email), MemberRef("user", frank.email)],
        approvals_required=2,
    )
    with pytest.raises(HeldForApproval):
        secret_update(
            scope=cast.scope(cast.bob),
            environment="prod",
            path="/",
            key="API_KEY",
            item=SecretInput(key="API_KEY", value=CANARY),
        )
    cast.frank = frank
    cast.policy = policy
    cast.cr = ChangeRequest.objects.get()
    return cast


def _url(cast: Any, suffix: str = "") -> str:
    return f"/projects/acme/approvals/changes/{cast.cr.public_id}/{suffix}"


def _html(response: Any) -> str:
    return response.content.decode()


def _prod_value(cast: Any) -> str:
    from secrets_app.selectors.secrets import secret_get

    return secret_get(cast.scope(cast.alice), environment="prod", path="/", key="API_KEY").value


# --- list and detail ---------------------------------------------------------------------------


def test_it_lists_requests_by_status_with_counts(login: Any, held: Any) -> None:  # noqa: F811
    page = login(held.alice).get("/projects/acme/approvals/changes/")

    html = _html(page)
    assert page.status_code == 200
    assert held.cr.slug in html and "prod:/" in html and "API_KEY" in html and "bob@example.com" in html
    assert 'aria-current="page">Open <span class="count">1</span>' in html
    merged = login(held.alice).get("/projects/acme/approvals/changes/?status=merged", **HX)
    assert "No merged change requests" in _html(merged) and "<html" not in _html(merged)
    assert CANARY not in html


def test_it_shows_who_asked_where_policy_and_each_key_without_any_value(login: Any, held: Any) -> None:  # noqa: F811
    response = login(held.alice).get(_url(held))

    html = _html(response)
    assert response.status_code == 200 and response["Cache-Control"].startswith("no-store")
    for text in ("bob@example.com", "prod-guard", "2 of 2", ">hard<", "prod:/", "API_KEY", ">changed<", "v1"):
        assert text in html, text
    assert "Reveal values" in html and "••••••" in html
    assert CANARY not in html and OLD_VALUE not in html
    assert "Needs 2 approval(s), has 0." in html
    assert 'name="status" value="approved"' in html  # alice may review


def test_it_finds_a_request_by_its_slug_too(login: Any, held: Any) -> None:  # noqa: F811
    response = login(held.alice).get(f"/projects/acme/approvals/changes/{held.cr.slug}/")
    assert response.status_code == 200 and held.cr.slug in _html(response)


def test_it_hides_values_from_a_viewer_who_may_not_read_them(login: Any, held: Any) -> None:  # noqa: F811
    dave = login(held.dave)

    page = dave.get(_url(held))
    reveal = dave.post(_url(held, "values/"), **HX)

    assert page.status_code == 200 and "value hidden" in _html(page) and "Reveal values" not in _html(page)
    assert "Only an approver" in _html(page) and 'value="approved"' not in _html(page)
    assert reveal.status_code == 403 and CANARY not in _html(reveal)
    assert AuditEvent.objects.filter(action="permission.denied", actor_label=held.dave.email).exists()
    assert not AuditEvent.objects.filter(action="change_request.value_revealed").exists()


@pytest.mark.parametrize("who", ["charlie", "erin", "mallory"])
def test_it_answers_404_to_people_who_may_not_see_the_request(login: Any, held: Any, who: str) -> None:  # noqa: F811
    ui = login(getattr(held, who))

    assert ui.get(_url(held)).status_code == 404
    for suffix in ("review/", "merge/", "values/", "comments/", "status/", "rebase/"):
        response = ui.post(_url(held, suffix), {"status": "approved", "body": "hi"})
        assert response.status_code == 404, suffix
        assert CANARY not in _html(response)
    assert ChangeRequest.objects.get().status == RequestStatus.OPEN
    assert not held.cr.reviews.exists() and not held.cr.comments.exists()


def test_it_reveals_the_diff_on_post_audited_and_hides_it_again_on_get(login: Any, held: Any) -> None:  # noqa: F811
    alice = login(held.alice)

    revealed = alice.post(_url(held, "values/"), **HX)
    hidden = alice.get(_url(held, "values/"), **HX)

    assert revealed.status_code == 200 and revealed["Cache-Control"].startswith("no-store")
    assert CANARY in _html(revealed) and OLD_VALUE in _html(revealed) and "<html" not in _html(revealed)
    assert 'id="cr-changes"' in _html(revealed) and "Hide values" in _html(revealed)
    assert hidden.status_code == 200 and CANARY not in _html(hidden) and "Reveal values" in _html(hidden)
    event = AuditEvent.objects.get(action="change_request.value_revealed")
    assert event.actor_label == held.alice.email and event.metadata["keys"] == ["API_KEY"]
    assert CANARY not in str(event.metadata)


# --- decisions -----------------------------------------------------------------------------------


def test_two_approvals_enable_merge_and_the_merge_applies_the_change(login: Any, held: Any) -> None:  # noqa: F811
    alice, frank, bob = login(held.alice), login(held.frank), login(held.bob)

    first = alice.post(_url(held, "review/"), {"status": "approved", "comment": "looks right"}, **HX)
    assert first.status_code == 200 and "You approved this request." in _html(first)
    assert "Needs 2 approval(s), has 1." in _html(first) and "<html" not in _html(first)
    early = bob.post(_url(held, "merge/"), **HX)
    assert early.status_code == 409 and "Needs 2 approval" in _html(early)

    frank.post(_url(held, "review/"), {"status": "approved"}, **HX)
    ready = bob.get(_url(held))
    assert "Needs 2 approval" not in _html(ready) and "looks right" in _html(ready)
    merged = bob.post(_url(held, "merge/"), **HX)

    assert merged.status_code == 200 and "Merged: the change is applied." in _html(merged)
    assert ChangeRequest.objects.get().status == RequestStatus.MERGED
    assert _prod_value(held) == CANARY
    assert AuditEvent.objects.filter(action="change_request.merged").count() == 1
    assert AuditEvent.objects.filter(action="secret.updated", resource_id="API_KEY").exists()


def test_a_rejection_blocks_the_merge_and_says_so(login: Any, held: Any) -> None:  # noqa: F811
    login(held.alice).post(_url(held, "review/"), {"status": "rejected", "comment": "wrong key"}, **HX)

    page = login(held.bob).get(_url(held))

    assert "Rejected by alice@example.com" in _html(page)
    assert 'class="button primary block" disabled' in _html(page)
    assert "wrong key" in _html(page)


def test_without_htmx_an_action_redirects_back_to_the_page(login: Any, held: Any) -> None:  # noqa: F811
    alice = login(held.alice)

    response = alice.post(_url(held, "review/"), {"status": "approved"})

    assert response.status_code == 302 and response["Location"] == _url(held) + "?done=approved"
    assert "You approved this request." in _html(alice.get(response["Location"]))


def test_the_committer_may_not_approve_their_own_request(login: Any, held: Any) -> None:  # noqa: F811
    bob = login(held.bob)

    page = bob.get(_url(held))
    refused = bob.post(_url(held, "review/"), {"status": "approved"}, **HX)

    assert 'value="approved"' not in _html(page)
    assert refused.status_code == 403 and not held.cr.reviews.exists()


def test_break_glass_on_a_soft_policy_needs_a_bypasser_and_a_reason(login: Any, held: Any) -> None:  # noqa: F811
    from approvals.models import PolicyMember, PolicyMemberRole

    held.policy.enforcement = "soft"
    held.policy.save()
    PolicyMember.objects.create(policy=held.policy, role=PolicyMemberRole.BYPASSER, user=held.frank)
    frank, alice = login(held.frank), login(held.alice)

    assert "Break glass" in _html(frank.get(_url(held)))
    assert "Break glass" not in _html(alice.get(_url(held)))  # bypassers are named: admins are not one
    short = frank.post(_url(held, "merge/"), {"bypass_reason": "because"}, **HX)
    assert short.status_code == 400 and "at least 10" in _html(short)
    assert ChangeRequest.objects.get().status == RequestStatus.OPEN

    done = frank.post(_url(held, "merge/"), {"bypass_reason": "incident 4711: key leaked"}, **HX)

    assert done.status_code == 200 and "break-glass" in _html(done)
    cr = ChangeRequest.objects.get()
    assert cr.status == RequestStatus.MERGED and cr.bypassed
    assert AuditEvent.objects.filter(action="change_request.bypassed").exists()


def test_a_conflict_is_flagged_and_rebase_starts_a_new_revision(login: Any, held: Any) -> None:  # noqa: F811
    from secrets_app.services.secrets import SecretInput, secret_update
    from secrets_app.write_gate import write_gate_bypassed

    with write_gate_bypassed("test"):
        secret_update(
            scope=held.scope(held.alice),
            environment="prod",
            path="/",
            key="API_KEY",
            item=SecretInput(key="API_KEY", value="x"),
        )
    alice = login(held.alice)
    alice.post(_url(held, "review/"), {"status": "approved"}, **HX)

    page = alice.get(_url(held))
    assert "conflict" in _html(page) and "v1 → v2" in _html(page)
    assert "Rebase onto current secrets" in _html(page) and "rebase it" in _html(page)

    rebased = alice.post(_url(held, "rebase/"), **HX)

    assert rebased.status_code == 200 and "Rebased onto the current secrets" in _html(rebased)
    assert ChangeRequest.objects.get().revision == 2
    assert "review of earlier revisions" in _html(rebased) and "has-conflict" not in _html(rebased)


def test_it_closes_and_reopens_a_request_and_takes_comments(login: Any, held: Any) -> None:  # noqa: F811
    bob = login(held.bob)

    commented = bob.post(_url(held, "comments/"), {"body": "needed for the new vendor"}, **HX)
    closed = bob.post(_url(held, "status/"), {"status": "closed"}, **HX)

    assert "needed for the new vendor" in _html(commented)
    assert closed.status_code == 200 and "This request is closed" in _html(closed) and "Reopen" in _html(closed)
    assert ChangeRequest.objects.get().status == RequestStatus.CLOSED
    assert "Closed <span" in _html(bob.get("/projects/acme/approvals/changes/?status=closed"))

    reopened = bob.post(_url(held, "status/"), {"status": "open"}, **HX)
    assert reopened.status_code == 200 and ChangeRequest.objects.get().status == RequestStatus.OPEN
    empty = bob.post(_url(held, "comments/"), {"body": " "}, **HX)
    assert empty.status_code == 400


def test_pages_are_get_only_views_that_change_nothing(login: Any, held: Any) -> None:  # noqa: F811
    from approvals.models import ChangeRequestItem

    def state() -> Any:
        return (list(ChangeRequest.objects.values()), list(ChangeRequestItem.objects.values()), _prod_value(held))

    before = state()
    for person in (held.alice, held.frank, held.bob, held.dave):
        ui = login(person)
        for url in ("/projects/acme/approvals/changes/", _url(held), _url(held, "values/")):
            assert ui.get(url).status_code == 200, url
        for suffix in ("review/", "merge/", "rebase/", "status/", "comments/"):
            assert ui.get(_url(held, suffix)).status_code == 405
    assert state() == before


def test_the_pages_carry_no_inline_script_or_style(login: Any, held: Any, client: Client) -> None:  # noqa: F811
    from tests.ui.conftest import assert_csp_clean

    for url in ("/projects/acme/approvals/changes/", _url(held)):
        assert_csp_clean(login(held.alice).get(url))


def test_it_puts_a_request_in_each_approvers_inbox_until_they_review(login: Any, held: Any) -> None:  # noqa: F811
    alice = login(held.alice)
    inbox = _html(alice.get("/approvals/inbox/"))
    assert held.cr.slug in inbox and "API_KEY" in inbox and 'id="inbox-count">1<' in inbox
    assert CANARY not in inbox
    # bob asked; he is no approver: nothing waits for him.
    assert held.cr.slug not in _html(login(held.bob).get("/approvals/inbox/"))
    alice.post(_url(held, "review/"), {"status": "approved"}, **HX)
    inbox = _html(alice.get("/approvals/inbox/"))
    assert held.cr.slug not in inbox and 'id="inbox-count"' not in inbox
    assert held.cr.slug in _html(login(held.frank).get("/approvals/inbox/"))


def test_the_committer_revises_a_rejected_change_from_the_page_and_approvers_review_again(
    login: Any,  # noqa: F811
    held: Any,
) -> None:
    revised_value = "revised-Prod-Val-51aa"
    alice = login(held.alice)
    alice.post(_url(held, "review/"), {"status": "rejected", "comment": "wrong key"}, **HX)
    bob = login(held.bob)
    page = _html(bob.get(_url(held)))
    assert 'id="cr-revise"' in page and "<details open" in page
    assert 'id="cr-revise"' not in _html(alice.get(_url(held)))  # only the committer revises

    response = bob.post(_url(held, "revise/"), {"key": ["API_KEY"], "value:API_KEY": revised_value}, **HX)

    assert response.status_code == 200 and "Revised" in _html(response)
    assert revised_value not in _html(response)
    held.cr.refresh_from_db()
    assert held.cr.revision == 2
    page = _html(alice.get(_url(held)))
    assert "rejected by" not in page and "Needs 2 approval(s), has 0." in page
    alice.post(_url(held, "review/"), {"status": "approved"}, **HX)
    login(held.frank).post(_url(held, "review/"), {"status": "approved"}, **HX)
    alice.post(_url(held, "merge/"), {}, **HX)
    assert _prod_value(held) == revised_value
