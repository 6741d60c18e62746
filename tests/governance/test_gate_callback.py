# ruff: noqa: F811  (the fixtures are imported, then named by the tests)
"""The pipeline gate in Callback mode (waitForCompletion=true, ado-governance.md §1.4): the check is
answered at once; the queued Celery task (run eagerly, after the commit, as a worker would)
evaluates and posts TaskCompleted to the plan's events on the ADO emulator with the job token,
which is sealed on the decision until then and erased after."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from audit.models import AuditEvent
from governance.models import GateDecision
from tests.governance.gate_fixtures import GateWorld, ado, build_world, call_gate, check_headers, secret_at  # noqa: F401
from tests.support.celery_worker import eager  # noqa: F401 (fixture)


@pytest.fixture
def callback_world(cast: Any, ado: Any, eager: None) -> GateWorld:
    return build_world(cast, ado, mode="callback")


def _stored() -> str:
    return json.dumps(list(GateDecision.objects.values()), default=str) + json.dumps(
        list(AuditEvent.objects.values()), default=str
    )


def _check(world: GateWorld, capture: Any, **build: Any) -> tuple[Any, dict[str, str], str]:
    build_id, token = world.run(**build)
    headers = check_headers(world, build_id, token)
    with capture(execute=False) as callbacks:
        response = call_gate(Client(), world, build_id, token, headers=headers)
    return response, headers, token, callbacks  # type: ignore[return-value]


def test_it_answers_at_once_and_posts_the_decision_with_the_job_token(
    callback_world: GateWorld, django_capture_on_commit_callbacks: Any
) -> None:
    world = callback_world
    response, headers, token, callbacks = _check(world, django_capture_on_commit_callbacks)

    assert response.status_code == 200 and response.json()["status"] == "pending"
    decision = GateDecision.objects.get(gate=world.gate)
    assert decision.status == "pending" and decision.callback_state == "queued"
    assert decision.callback["task_instance_id"] == headers["TaskInstanceId"]
    assert token.encode() not in bytes(decision.callback_token_ciphertext)  # sealed, not stored as sent
    assert world.ado.plan_events == []

    for callback in callbacks:  # the commit: the task runs (eagerly)
        callback()

    assert world.ado.plan_events == [
        {
            "project_id": headers["ProjectId"],
            "hub": "checks",
            "plan_id": headers["PlanId"],
            "body": {
                "name": "TaskCompleted",
                "taskId": headers["TaskInstanceId"],
                "jobId": headers["JobId"],
                "result": "succeeded",
            },
            "auth": "Bearer",
        }
    ]
    decision.refresh_from_db()
    assert decision.status == "pass" and decision.callback_state == "sent"
    assert decision.callback_token_ciphertext is None
    assert AuditEvent.objects.get(action="gate.evaluated").metadata["mode"] == "callback"
    assert token not in _stored()


def test_it_posts_failed_with_the_reasons_kept_on_the_decision(
    callback_world: GateWorld, django_capture_on_commit_callbacks: Any
) -> None:
    from governance.models import LeakFlag

    world = callback_world
    secret = secret_at(world.cast, "DB_PASSWORD")
    LeakFlag.objects.create(secret=secret, project=world.cast.project, reason="r", flagged_version=secret.version)
    _, _, _, callbacks = _check(world, django_capture_on_commit_callbacks)
    for callback in callbacks:
        callback()

    assert [event["body"]["result"] for event in world.ado.plan_events] == ["failed"]
    decision = GateDecision.objects.get(gate=world.gate)
    assert decision.status == "fail" and decision.reasons[0].startswith("DB_PASSWORD (/backend): flagged as leaked")
    # The reasons are the check's log in Azure DevOps, linked from the task's timeline record.
    ((log_id, log),) = world.ado.plan_logs.items()
    assert log["lines"][0] == "Strongroom pipeline gate 'prod deploy': fail"
    assert log["lines"][1].startswith("  DB_PASSWORD (/backend): flagged as leaked on ")
    assert world.ado.timeline_records[0]["record"] == {
        "id": decision.callback["task_instance_id"], "log": {"id": log_id}
    }  # fmt: skip


def test_it_retries_a_5xx_and_stops_at_a_refused_token(
    callback_world: GateWorld, django_capture_on_commit_callbacks: Any
) -> None:
    world = callback_world
    world.ado.fail_next(503, path_contains="/events")
    _, _, _, callbacks = _check(world, django_capture_on_commit_callbacks)
    for callback in callbacks:
        callback()
    events = [r for r in world.ado.requests if r.path.endswith("/events")]
    assert [r.status for r in events] == [503, 204]
    assert len(world.ado.plan_logs) == 1  # the reasons are logged once, not at every retry
    assert GateDecision.objects.get(gate=world.gate).callback_state == "sent"

    # A token Azure DevOps no longer accepts (401) is final: no retry, and the token is erased.
    build_id, token = world.run()
    with django_capture_on_commit_callbacks(execute=False) as later:
        call_gate(Client(), world, build_id, token)
    del world.ado.job_tokens[token]
    for callback in later:
        callback()
    decision = GateDecision.objects.get(gate=world.gate, build_id=build_id)
    assert decision.callback_state == "failed" and "HTTP 401" in decision.callback_error
    assert decision.callback_token_ciphertext is None
    assert AuditEvent.objects.filter(action="gate.callback_failed").count() == 1
    assert len([r for r in world.ado.requests if r.path.endswith("/events")]) == 3


def test_it_refuses_a_callback_it_could_not_send(callback_world: GateWorld) -> None:
    """Without the plan routing headers there is nowhere to post: the check fails now (400)."""
    world = callback_world
    build_id, token = world.run()
    headers = check_headers(world, build_id, token)
    del headers["PlanId"]

    response = call_gate(Client(), world, build_id, token, headers=headers)

    assert response.status_code == 400 and "PlanId is required" in response.json()["error"]["message"]
    assert not GateDecision.objects.exists()


def test_it_sends_again_a_callback_whose_message_was_lost(
    callback_world: GateWorld, django_capture_on_commit_callbacks: Any, caplog: Any
) -> None:
    import datetime
    import logging

    from governance.gate.tasks import gate_callbacks_reconcile_task

    caplog.set_level(logging.DEBUG)
    world = callback_world
    _, headers, token, _lost = _check(world, django_capture_on_commit_callbacks)  # the message never runs
    assert gate_callbacks_reconcile_task() == 0  # a fresh decision's message may still be on its way
    GateDecision.objects.update(decided_at=GateDecision.objects.get().decided_at - datetime.timedelta(minutes=2))

    assert gate_callbacks_reconcile_task() == 1  # beat: re-sent (and run eagerly)

    assert [event["body"]["taskId"] for event in world.ado.plan_events] == [headers["TaskInstanceId"]]
    assert GateDecision.objects.get().callback_state == "sent"
    assert gate_callbacks_reconcile_task() == 0
    assert token not in caplog.text
