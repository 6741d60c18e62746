"""Change policies and change requests as their users notice them: a protected write waits for
review, approvers decide, merge applies exactly what was reviewed (or refuses to overwrite what
changed since), break-glass is rare and loud, and a proposed value never leaks."""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from approvals.models import ChangeRequest, RequestStatus
from audit.models import AuditEvent
from secrets_app.write_gate import HeldForApproval, write_gate_bypassed
from tests.api.conftest import error_of
from tests.approvals.conftest import CANARY

P = "/api/v1/projects/acme/"


def _value(cast: Any, env: str, key: str, path: str = "/") -> str:
    from secrets_app.models import Secret
    from secrets_app.selectors.secrets import current_plaintext

    secret = Secret.objects.get(environment__slug=env, folder__path=path, key=key, deleted_at__isnull=True)
    return current_plaintext(secret)[0].decode()


def _propose(api: Any, user: Any, value: str = CANARY, key: str = "DB_PASSWORD") -> dict[str, Any]:
    response = api(user).patch(P + f"secrets/{key}/?environment=prod", {"value": value}, format="json")
    assert response.status_code == 202, response.content
    return response.json()["changeRequest"]


def _act(api: Any, user: Any, request_id: str, action: str, body: dict[str, Any] | None = None) -> Any:
    return api(user).post(P + f"change-requests/{request_id}/{action}/", body or {}, format="json")


# --- the gate ---------------------------------------------------------------------------------
def test_it_answers_202_with_the_change_request_and_applies_nothing(seeded: Any, make_policy: Any, api: Any) -> None:
    make_policy(approvals_required=1)

    response = api(seeded.alice).patch(P + "secrets/DB_PASSWORD/?environment=prod", {"value": CANARY}, format="json")

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending_approval"
    request = body["changeRequest"]
    assert response["Location"] == request["url"]
    assert request["url"].endswith(f"/projects/acme/approvals/changes/{request['id']}/")
    assert (request["status"], request["environment"], request["path"], request["approvalsRequired"]) == (
        "open",
        "prod",
        "/",
        1,
    )
    assert [(i["op"], i["key"], i["baseVersion"]) for i in request["items"]] == [("update", "DB_PASSWORD", 1)]
    assert CANARY not in response.content.decode()
    assert _value(seeded, "prod", "DB_PASSWORD") == "prod-password"
    opened = AuditEvent.objects.get(action="change_request.opened")
    assert opened.metadata["keys"] == ["DB_PASSWORD"] and opened.actor_label == "alice@example.com"


def test_it_leaves_unprotected_places_alone(seeded: Any, make_policy: Any, api: Any) -> None:
    make_policy(path="/payments")

    dev = api(seeded.bob).patch(P + "secrets/DB_PASSWORD/?environment=dev", {"value": "x"}, format="json")
    prod_root = api(seeded.bob).patch(P + "secrets/DB_PASSWORD/?environment=prod", {"value": "y"}, format="json")

    assert (dev.status_code, prod_root.status_code) == (200, 200)
    assert not ChangeRequest.objects.exists()


def test_it_picks_the_most_specific_policy_exact_then_glob_then_environment_wide(seeded: Any, make_policy: Any) -> None:
    from approvals.selectors.policies import policy_for
    from secrets_app.models import Environment

    wide = make_policy(name="wide", path="/**")
    glob = make_policy(name="glob", path="/payments/**")
    exact = make_policy(name="exact", path="/payments")
    prod = Environment.objects.get(project=seeded.project, slug="prod")

    def governing(path: str) -> str:
        found = policy_for(project_id=seeded.project.pk, environment_id=prod.pk, paths=[path])
        return found.name if found else "-"

    assert (governing("/payments"), governing("/payments/eu"), governing("/")) == ("exact", "glob", "wide")
    assert {wide.pk, glob.pk, exact.pk}


def test_it_refuses_a_second_policy_for_the_same_environment_and_path(seeded: Any, make_policy: Any, api: Any) -> None:
    make_policy(path="/")

    response = api(seeded.alice).post(
        P + "approval-policies/",
        {
            "name": "again",
            "environments": ["prod"],
            "path": "/",
            "approvers": [{"type": "user", "id": "bob@example.com"}],
        },
        format="json",
    )

    assert response.status_code == 400
    assert error_of(response)["fields"] == {"path": ["A policy for path '/' already exists in environment 'prod'"]}


def test_only_project_admins_manage_policies_but_members_and_viewers_see_them(
    seeded: Any, make_policy: Any, api: Any
) -> None:
    policy = make_policy()
    body = {"name": "x", "environments": ["dev"], "approvers": [{"type": "user", "id": "bob@example.com"}]}

    assert api(seeded.bob).post(P + "approval-policies/", body, format="json").status_code == 403
    assert api(seeded.dave).delete(P + f"approval-policies/{policy.public_id}/").status_code == 403
    listed = api(seeded.dave).get(P + "approval-policies/").json()["policies"]
    assert [(p["name"], p["approvalsRequired"], p["approverCount"]) for p in listed] == [("prod-guard", 1, 1)]
    effective = api(seeded.bob).get(P + "approval-policies/effective/?environment=prod&path=/payments").json()
    assert effective["policy"]["name"] == "prod-guard"
    assert api(seeded.charlie).get(P + "approval-policies/").status_code == 404


def test_it_refuses_more_required_approvals_than_approvers_and_empty_groups(seeded: Any, make_policy: Any) -> None:
    from approvals.services.policies import MemberRef
    from secrets_app.errors import ValidationFailed
    from secrets_app.models import Group

    with pytest.raises(ValidationFailed) as too_many:
        make_policy(approvals_required=2)
    Group.objects.create(organization=seeded.organization, slug="empty", name="Empty")
    with pytest.raises(ValidationFailed) as empty:
        make_policy(approvers=[MemberRef(kind="group", ref="empty")])

    assert "approvalsRequired" in too_many.value.fields and "approvers" in empty.value.fields


# --- reviews, quorum, rejection ---------------------------------------------------------------
def test_it_refuses_self_approval_unless_the_policy_allows_it(seeded: Any, make_policy: Any, api: Any) -> None:
    make_policy(approvers=[seeded.bob, seeded.dave])
    request = _propose(api, seeded.bob)

    mine = _act(api, seeded.bob, request["id"], "review", {"status": "approved"})
    outsider = _act(api, seeded.alice, request["id"], "review", {"status": "approved"})  # admin, not an approver

    assert mine.status_code == 403 and "own change request" in error_of(mine)["message"]
    assert outsider.status_code == 403
    assert (
        AuditEvent.objects.filter(
            action="permission.denied", metadata__requested_action="change_request.review"
        ).count()
        == 2
    )


def test_a_rejection_blocks_the_merge_until_the_committer_revises(seeded: Any, make_policy: Any, api: Any) -> None:
    make_policy(approvers=[seeded.bob])
    request = _propose(api, seeded.alice, value="first-try")

    assert (
        _act(api, seeded.bob, request["id"], "review", {"status": "rejected", "comment": "wrong db"}).status_code == 200
    )
    blocked = _act(api, seeded.alice, request["id"], "merge")
    assert blocked.status_code == 409 and error_of(blocked)["code"] == "approval_required"
    assert "Rejected by bob@example.com" in error_of(blocked)["message"]
    assert (
        _act(api, seeded.bob, request["id"], "revise", {"changes": [{"key": "DB_PASSWORD", "value": "x"}]}).status_code
        == 403
    )

    revised = _act(
        api, seeded.alice, request["id"], "revise", {"changes": [{"key": "DB_PASSWORD", "value": "second-try"}]}
    )
    assert revised.status_code == 200
    assert (revised.json()["revision"], revised.json()["approvals"], revised.json()["rejectedBy"]) == (2, 0, [])
    _act(api, seeded.bob, request["id"], "review", {"status": "approved"})
    merged = _act(api, seeded.alice, request["id"], "merge")

    assert merged.status_code == 200 and merged.json()["status"] == "merged"
    assert _value(seeded, "prod", "DB_PASSWORD") == "second-try"


def test_it_needs_n_approvals_from_distinct_approvers_counting_group_members(
    seeded: Any, make_policy: Any, api: Any
) -> None:
    from approvals.services.policies import MemberRef
    from secrets_app.models import Group, GroupMembership

    ops = Group.objects.create(organization=seeded.organization, slug="ops", name="Ops")
    GroupMembership.objects.create(group=ops, user=seeded.bob)
    GroupMembership.objects.create(group=ops, user=seeded.dave)
    make_policy(approvers=[MemberRef(kind="group", ref="ops")], approvals_required=2)
    request = _propose(api, seeded.alice)

    _act(api, seeded.bob, request["id"], "review", {"status": "approved"})
    _act(api, seeded.bob, request["id"], "review", {"status": "approved"})  # the same person twice counts once
    early = _act(api, seeded.alice, request["id"], "merge")
    _act(api, seeded.dave, request["id"], "review", {"status": "approved"})
    merged = _act(api, seeded.alice, request["id"], "merge")

    assert early.status_code == 409 and "Needs 2 approval(s), has 1" in error_of(early)["message"]
    assert merged.status_code == 200 and merged.json()["approvals"] == 2


# --- merge ------------------------------------------------------------------------------------
def test_merge_applies_as_the_committer_with_history_events_and_sync_trigger(
    seeded: Any, make_policy: Any, api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from secrets_app.events import secret_changed
    from secrets_app.models import FolderCommit, SecretVersion

    make_policy(approvers=[seeded.dave])
    request = _propose(api, seeded.bob, value="rotated-by-bob")
    _act(api, seeded.dave, request["id"], "review", {"status": "approved"})
    announced: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        announced.append(kwargs)

    secret_changed.connect(receiver, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            merged = _act(api, seeded.dave, request["id"], "merge")
    finally:
        secret_changed.disconnect(receiver)

    assert merged.status_code == 200
    assert _value(seeded, "prod", "DB_PASSWORD") == "rotated-by-bob"
    version = SecretVersion.objects.get(secret__environment__slug="prod", secret__key="DB_PASSWORD", version=2)
    assert version.actor_label == "bob@example.com"  # applied as the committer
    assert FolderCommit.objects.filter(folder__environment__slug="prod", message="update DB_PASSWORD").exists()
    updated = AuditEvent.objects.get(action="secret.updated", environment="prod")
    assert updated.actor_label == "bob@example.com"
    merged_event = AuditEvent.objects.get(action="change_request.merged")
    assert merged_event.actor_label == "dave@example.com"
    assert merged_event.metadata["committer"] == "bob@example.com" and merged_event.metadata["bypassed"] is False
    assert any(call["environment_id"] == version.secret.environment_id for call in announced)


def test_a_conflicting_change_is_refused_with_the_keys_and_rebase_lets_approvers_see_the_new_diff(
    seeded: Any, make_policy: Any, api: Any
) -> None:
    from secrets_app.services.secrets import SecretInput, secret_update

    make_policy(approvers=[seeded.bob])
    request = _propose(api, seeded.alice, value="from-request")
    _act(api, seeded.bob, request["id"], "review", {"status": "approved"})
    with write_gate_bypassed("test: someone else's change lands first"):
        secret_update(
            scope=seeded.scope(seeded.alice),
            environment="prod",
            path="/",
            key="DB_PASSWORD",
            item=SecretInput(key="DB_PASSWORD", value="hotfix"),
        )

    refused = _act(api, seeded.alice, request["id"], "merge")
    shown = api(seeded.bob).get(P + f"change-requests/{request['id']}/").json()

    assert refused.status_code == 409 and error_of(refused)["code"] == "merge_conflict"
    assert error_of(refused)["fields"] == {"conflicts": ["DB_PASSWORD"]}
    assert _value(seeded, "prod", "DB_PASSWORD") == "hotfix"  # never silently overwritten
    assert shown["conflicts"][0]["key"] == "DB_PASSWORD" and shown["items"][0]["currentVersion"] == 2
    rebased = _act(api, seeded.bob, request["id"], "rebase").json()
    assert (rebased["revision"], rebased["approvals"], rebased["items"][0]["baseVersion"], rebased["conflicts"]) == (
        2,
        0,
        2,
        [],
    )
    _act(api, seeded.bob, request["id"], "review", {"status": "approved"})
    assert _act(api, seeded.alice, request["id"], "merge").status_code == 200
    assert _value(seeded, "prod", "DB_PASSWORD") == "from-request"


def test_soft_break_glass_needs_a_bypasser_and_a_reason_and_tells_every_approver(
    seeded: Any, make_policy: Any, api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from notifications.models import Notification

    make_policy(approvers=[seeded.dave], bypassers=[seeded.alice], enforcement="soft")
    request = _propose(api, seeded.bob, value="urgent")

    no_reason = _act(api, seeded.alice, request["id"], "merge")
    short = _act(api, seeded.alice, request["id"], "merge", {"bypassReason": "because"})
    not_bypasser = _act(api, seeded.bob, request["id"], "merge", {"bypassReason": "prod is down, INC-4711"})
    with django_capture_on_commit_callbacks(execute=True):
        glass = _act(api, seeded.alice, request["id"], "merge", {"bypassReason": "prod is down, INC-4711"})

    assert no_reason.status_code == 409 and short.status_code == 400 and not_bypasser.status_code == 403
    assert glass.status_code == 200 and glass.json()["bypassed"] is True
    assert _value(seeded, "prod", "DB_PASSWORD") == "urgent"
    bypassed = AuditEvent.objects.get(action="change_request.bypassed")
    assert "INC-4711" not in json.dumps(bypassed.metadata)  # the reason stays in our own table
    assert ChangeRequest.objects.get().bypass_reason == "prod is down, INC-4711"
    notice = Notification.objects.get(event_kind="approvals.change_request.bypassed")
    assert notice.severity == "critical" and "INC-4711" not in json.dumps([notice.summary, notice.facts])


def test_a_hard_policy_cannot_be_bypassed_even_by_a_project_admin(seeded: Any, make_policy: Any, api: Any) -> None:
    make_policy(approvers=[seeded.dave])
    request = _propose(api, seeded.bob)

    refused = _act(api, seeded.alice, request["id"], "merge", {"bypassReason": "I am the admin, trust me"})

    assert refused.status_code == 409 and "hard" in error_of(refused)["message"]
    assert ChangeRequest.objects.get().status == RequestStatus.OPEN


# --- identities, visibility, lifecycle --------------------------------------------------------
def _identity_scope(seeded: Any) -> Any:
    from secrets_app.models import IdentityProjectMembership, MachineIdentity
    from secrets_app.principals import Principal
    from secrets_app.selectors.access import project_scope_for

    robot = MachineIdentity.objects.create(organization=seeded.organization, name="deployer")
    IdentityProjectMembership.objects.create(project=seeded.project, identity=robot, builtin_role="member")
    return project_scope_for(Principal.for_identity(robot), seeded.project)


@pytest.mark.parametrize("applies", [True, False])
def test_machine_identities_are_held_unless_the_policy_exempts_them(
    seeded: Any, make_policy: Any, applies: bool
) -> None:
    from secrets_app.services.secrets import SecretInput, secret_update

    make_policy(applies_to_identities=applies)
    write = {
        "environment": "prod",
        "path": "/",
        "key": "DB_PASSWORD",
        "item": SecretInput(key="DB_PASSWORD", value="ci"),
    }

    if applies:
        with pytest.raises(HeldForApproval):
            secret_update(scope=_identity_scope(seeded), **write)
        assert ChangeRequest.objects.get().committer_identity is not None
    else:
        secret_update(scope=_identity_scope(seeded), **write)
        assert _value(seeded, "prod", "DB_PASSWORD") == "ci" and not ChangeRequest.objects.exists()


def test_people_outside_the_request_cannot_see_it(seeded: Any, make_policy: Any, api: Any) -> None:
    make_policy(approvers=[seeded.dave])
    request = _propose(api, seeded.bob)

    assert api(seeded.charlie).get(P + "change-requests/").status_code == 404
    assert api(seeded.charlie).get(P + f"change-requests/{request['id']}/").status_code == 404
    assert api(seeded.mallory).get(P + f"change-requests/{request['id']}/").status_code == 404
    assert api(seeded.erin).get(P + f"change-requests/{request['id']}/").status_code == 404  # dev-only
    assert [r["id"] for r in api(seeded.dave).get(P + "change-requests/?status=open").json()["changeRequests"]] == [
        request["id"]
    ]
    assert api(seeded.dave).get(P + "change-requests/?status=merged").json()["changeRequests"] == []


def test_expiry_and_reminders_run_from_beat(
    seeded: Any, make_policy: Any, api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from approvals.services.change_request_jobs import change_request_reminders_send, change_requests_expire
    from notifications.models import Notification

    make_policy(approvers=[seeded.dave], request_ttl_hours=48)
    _propose(api, seeded.bob)
    later = timezone.now() + datetime.timedelta(hours=25)

    with django_capture_on_commit_callbacks(execute=True):
        assert change_request_reminders_send(now=later) == 1
    assert change_request_reminders_send(now=later + datetime.timedelta(minutes=5)) == 0  # once per interval
    assert change_requests_expire(now=later) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert change_requests_expire(now=later + datetime.timedelta(hours=24)) == 1

    assert ChangeRequest.objects.get().status == RequestStatus.EXPIRED
    assert AuditEvent.objects.get(action="change_request.expired").actor_type == "system"
    assert Notification.objects.filter(event_kind="approvals.change_request.reminder").count() == 1


def test_deleting_a_policy_closes_its_open_requests(seeded: Any, make_policy: Any, api: Any) -> None:
    policy = make_policy()
    request = _propose(api, seeded.bob)

    response = api(seeded.alice).delete(P + f"approval-policies/{policy.public_id}/")

    assert response.json() == {"closedRequests": 1}
    shown = api(seeded.bob).get(P + f"change-requests/{request['id']}/").json()
    assert (shown["status"], shown["settledReason"]) == ("closed", "policy deleted")
    assert (
        api(seeded.bob).patch(P + "secrets/DB_PASSWORD/?environment=prod", {"value": "z"}, format="json").status_code
        == 200
    )


def test_close_and_reopen_by_the_committer(seeded: Any, make_policy: Any, api: Any) -> None:
    make_policy()
    request = _propose(api, seeded.alice)

    assert _act(api, seeded.dave, request["id"], "close").status_code == 403  # may see it, not a party
    closed = _act(api, seeded.alice, request["id"], "close", {"reason": "not now"})
    reopened = _act(api, seeded.alice, request["id"], "reopen")

    assert closed.json()["status"] == "closed" and reopened.json()["status"] == "open"
    assert reopened.json()["revision"] == 2


# --- never a value in clear -------------------------------------------------------------------
def test_a_proposed_value_is_never_stored_audited_or_logged_in_clear(
    seeded: Any, make_policy: Any, api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    make_policy(approvers=[seeded.dave])
    request = _propose(api, seeded.bob, value=CANARY)
    _act(api, seeded.dave, request["id"], "review", {"status": "approved", "comment": "ok"})
    _act(api, seeded.bob, request["id"], "merge")

    with connection.cursor() as cursor:
        cursor.execute("SELECT value_ciphertext, metadata::text FROM approvals_changerequestitem")
        rows = cursor.fetchall()
    assert rows and all(CANARY.encode() not in bytes(value) and CANARY not in meta for value, meta in rows)
    audit = json.dumps([[e.action, e.metadata, e.resource_id] for e in AuditEvent.objects.all()])
    assert CANARY not in audit and "change_request.merged" in audit
    assert CANARY not in caplog.text
    assert CANARY not in repr(ChangeRequest.objects.get()) + repr(list(ChangeRequest.objects.get().items.all()))
