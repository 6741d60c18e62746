"""Access requests (just-in-time): ask, two approvers approve, the requester reads through the
REST API until the end time and not a second longer (no worker running); rejections, self-approval,
reviewers without the access, break-glass, limits, who sees what, and the audit trail."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine

from approvals.models import AccessRequest, AccessRequestStatus
from audit.models import AuditEvent
from notifications.models import Notification

START = datetime.datetime(2030, 3, 4, 9, 0, tzinfo=datetime.UTC)
BASE = "/api/v1/projects/acme/access-requests/"
REASON = "incident INC-4711: payments failing in prod"
ASK = {"environment": "prod", "path": "/", "access": ["read"], "duration": "2h", "reason": REASON}


@pytest.fixture
def policy(make_policy: Any, seeded: Any) -> Any:
    """prod, environment-wide: alice and bob approve, two approvals, at most 8 hours."""
    return make_policy(
        name="prod-access", approvers=[seeded.alice, seeded.bob], approvals_required=2, governs_changes=False
    )


def _ask(api: Any, user: Any, **body: Any) -> Any:
    return api(user).post(BASE, {**ASK, **body}, format="json")


def _review(api: Any, user: Any, request_id: str, status: str = "approved") -> Any:
    return api(user).post(f"{BASE}{request_id}/review/", {"status": status, "comment": "ok"}, format="json")


def _read(api: Any, user: Any) -> Any:
    return api(user).get("/api/v1/projects/acme/secrets/DB_PASSWORD/?environment=prod")


def test_it_grants_on_quorum_and_the_access_ends_at_the_end_time_with_no_worker(
    seeded: Any, policy: Any, api: Any
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        assert _read(api, seeded.charlie).status_code == 404

        created = _ask(api, seeded.charlie)
        assert created.status_code == 201, created.content
        request_id = created.json()["id"]
        assert created.json()["status"] == "pending"

        assert _review(api, seeded.alice, request_id).json()["status"] == "pending"  # one of two
        assert _read(api, seeded.charlie).status_code == 404
        approved = _review(api, seeded.bob, request_id)
        assert approved.status_code == 200, approved.content
        assert approved.json()["status"] == "approved"
        assert approved.json()["grant"]["secondsLeft"] == 7200

        read = _read(api, seeded.charlie)
        assert read.status_code == 200, read.content
        assert read.json()["value"] == "prod-password"
        assert api(seeded.charlie).get("/api/v1/me/access-grants/").json()["grants"][0]["secondsLeft"] == 7200
        # never wider than asked: no writes, no other environment
        write = api(seeded.charlie).patch(
            "/api/v1/projects/acme/secrets/DB_PASSWORD/?environment=prod", {"value": "x"}, format="json"
        )
        assert write.status_code in (403, 404)
        assert api(seeded.charlie).get("/api/v1/projects/acme/secrets/DB_PASSWORD/?environment=dev").status_code == 404

        clock.shift(datetime.timedelta(hours=2))  # the end time; no beat, no worker

        assert _read(api, seeded.charlie).status_code == 404
        assert api(seeded.charlie).get("/api/v1/me/access-grants/").json() == {"grants": []}

    actions = list(AuditEvent.objects.filter(resource_id=request_id).order_by("id").values_list("action", flat=True))
    assert actions == [
        "access_request.created",
        "access_request.reviewed",
        "access_request.reviewed",
        "access_request.approved",
    ]
    assert AuditEvent.objects.filter(action="access.granted").count() == 1
    for event in AuditEvent.objects.filter(action__startswith="access"):
        assert "INC-4711" not in str(event.metadata)  # ids and paths only, never the reason


def test_any_rejection_ends_the_request(seeded: Any, policy: Any, api: Any) -> None:
    request_id = _ask(api, seeded.charlie).json()["id"]
    _review(api, seeded.alice, request_id)

    rejected = _review(api, seeded.bob, request_id, "rejected")

    assert rejected.json()["status"] == "rejected"
    assert _review(api, seeded.alice, request_id).status_code == 409
    assert _read(api, seeded.charlie).status_code == 404
    assert AuditEvent.objects.filter(action="access_request.rejected", resource_id=request_id).exists()


def test_self_approval_is_refused_unless_the_policy_allows_it(seeded: Any, make_policy: Any, api: Any) -> None:
    # dave (viewer) asks for read in staging and is an approver of its policy himself
    make_policy(name="staging-access", environments=["staging"], approvers=[seeded.dave, seeded.alice])
    request_id = _ask(api, seeded.dave, environment="staging").json()["id"]

    refused = _review(api, seeded.dave, request_id)

    assert refused.status_code == 403
    assert "own request" in refused.json()["error"]["message"]
    assert AuditEvent.objects.filter(action="permission.denied", resource_id=request_id).exists()


def test_a_reviewer_without_the_access_is_refused(seeded: Any, make_policy: Any, api: Any) -> None:
    make_policy(name="prod-access", approvers=[seeded.dave, seeded.alice], governs_changes=False)  # dave: viewer
    request_id = _ask(api, seeded.charlie).json()["id"]

    refused = _review(api, seeded.dave, request_id)

    assert refused.status_code == 403
    assert "hold yourself" in refused.json()["error"]["message"]
    assert AccessRequest.objects.get(public_id=request_id).status == AccessRequestStatus.PENDING


def test_someone_who_is_not_an_approver_cannot_review(seeded: Any, policy: Any, api: Any) -> None:
    request_id = _ask(api, seeded.charlie).json()["id"]
    # erin is not an approver: she does not even see the request
    assert _review(api, seeded.erin, request_id).status_code == 404


def test_break_glass_under_a_soft_policy_grants_at_once_and_alerts_every_approver(
    seeded: Any, make_policy: Any, api: Any
) -> None:
    make_policy(
        name="prod-access",
        approvers=[seeded.alice, seeded.bob],
        bypassers=[seeded.charlie],
        approvals_required=2,
        enforcement="soft",
        governs_changes=False,
    )

    created = _ask(api, seeded.charlie, breakGlass=True)

    assert created.status_code == 201, created.content
    assert created.json()["status"] == "approved" and created.json()["breakGlass"] is True
    assert _read(api, seeded.charlie).json()["value"] == "prod-password"
    alert = Notification.objects.get(event_kind="approvals.access_request.break_glass")
    assert alert.severity == "critical"
    assert sorted(d.recipient_label for d in alert.deliveries.all()) == ["alice@example.com", "bob@example.com"]
    assert AuditEvent.objects.filter(action="access_request.break_glass").count() == 1


def test_break_glass_is_refused_under_a_hard_policy_and_to_non_bypassers(seeded: Any, policy: Any, api: Any) -> None:
    refused = _ask(api, seeded.charlie, breakGlass=True)

    assert refused.status_code == 403
    assert not AccessRequest.objects.exists()
    assert _read(api, seeded.charlie).status_code == 404


def test_it_refuses_a_duration_over_the_maximum_naming_the_field(seeded: Any, policy: Any, api: Any) -> None:
    response = _ask(api, seeded.charlie, duration="9h")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["duration"]


def test_it_refuses_where_no_policy_governs_access_and_short_reasons(seeded: Any, policy: Any, api: Any) -> None:
    nowhere = _ask(api, seeded.charlie, environment="dev")
    short = _ask(api, seeded.charlie, reason="because")

    assert nowhere.status_code == 400
    assert nowhere.json()["error"]["message"] == (
        "No approval policy covers access requests for dev:/; ask a project admin"
    )
    assert short.status_code == 400 and list(short.json()["error"]["fields"]) == ["reason"]


def test_it_refuses_a_duplicate_while_pending_or_granted(seeded: Any, make_policy: Any, api: Any) -> None:
    make_policy(name="prod-access", approvers=[seeded.alice], governs_changes=False)
    first = _ask(api, seeded.charlie).json()["id"]
    assert _ask(api, seeded.charlie).status_code == 409
    _review(api, seeded.alice, first)
    assert _ask(api, seeded.charlie).status_code == 409


def test_it_notifies_the_approvers_and_follows_up_when_settled(seeded: Any, make_policy: Any, api: Any) -> None:
    make_policy(name="prod-access", approvers=[seeded.alice, seeded.bob], governs_changes=False)
    request_id = _ask(api, seeded.charlie).json()["id"]

    opened = Notification.objects.get(event_kind="approvals.access_request.opened")
    assert opened.subject_ref == f"access_request:{request_id}"
    facts = dict(opened.facts)
    assert facts["Environment"] == "prod" and facts["Path"] == "/" and facts["Reason"] == REASON
    assert facts["Access"] == "read" and facts["Duration"] == "2 h"
    assert all("/approvals/l/" in d.link for d in opened.deliveries.all())

    assert api(seeded.charlie).post(f"{BASE}{request_id}/cancel/", {}, format="json").json()["status"] == "cancelled"
    opened.refresh_from_db()
    assert opened.resolved_status == "Cancelled by the requester"


def test_charlie_and_mallory_see_only_what_they_may(seeded: Any, policy: Any, api: Any) -> None:
    request_id = _ask(api, seeded.charlie).json()["id"]

    assert [r["id"] for r in api(seeded.charlie).get(BASE).json()["requests"]] == [request_id]
    assert [r["id"] for r in api(seeded.bob).get(BASE).json()["requests"]] == [request_id]  # an approver
    assert api(seeded.erin).get(BASE).json()["requests"] == []  # neither requester nor approver
    assert api(seeded.erin).get(f"{BASE}{request_id}/").status_code == 404
    for path in (BASE, f"{BASE}{request_id}/"):
        assert api(seeded.mallory).get(path).status_code == 404
    assert _ask(api, seeded.mallory).status_code == 404  # cannot learn acme exists
    assert (
        api(seeded.mallory).post(f"{BASE}{request_id}/review/", {"status": "approved"}, format="json").status_code
        == 404
    )
    assert api().get(BASE).status_code == 401


def test_approvers_and_admins_revoke_early(seeded: Any, make_policy: Any, api: Any) -> None:
    make_policy(name="prod-access", approvers=[seeded.bob], governs_changes=False)
    request_id = _ask(api, seeded.charlie).json()["id"]
    _review(api, seeded.bob, request_id)
    assert _read(api, seeded.charlie).status_code == 200
    assert api(seeded.erin).post(f"{BASE}{request_id}/revoke/", {}, format="json").status_code == 404

    revoked = api(seeded.alice).post(f"{BASE}{request_id}/revoke/", {}, format="json")

    assert revoked.status_code == 200 and revoked.json()["grant"]["revokedAt"]
    assert _read(api, seeded.charlie).status_code == 404
    assert AuditEvent.objects.filter(action="access.revoked").count() == 1


def test_pending_requests_expire_and_approvers_are_reminded(seeded: Any, policy: Any, api: Any, settings: Any) -> None:
    from approvals.services.access_requests import access_requests_expire, access_requests_remind

    settings.STRONGROOM_APPROVAL_REMINDER_HOURS = 24
    with time_machine.travel(START, tick=False) as clock:
        request_id = _ask(api, seeded.charlie).json()["id"]
        _review(api, seeded.alice, request_id)
        assert access_requests_remind() == 0
        clock.shift(datetime.timedelta(hours=25))
        assert access_requests_remind() == 1
        assert access_requests_remind() == 0
        reminder = Notification.objects.get(event_kind="approvals.access_request.reminder")
        assert [d.recipient_label for d in reminder.deliveries.all()] == ["bob@example.com"]  # alice reviewed
        clock.shift(datetime.timedelta(days=7))
        assert access_requests_expire() == 1
        assert access_requests_expire() == 0
    assert AccessRequest.objects.get(public_id=request_id).status == "expired"
    assert AuditEvent.objects.filter(action="access_request.expired", resource_id=request_id).count() == 1
