"""The gate endpoint's workflow: what happens when an Azure DevOps Invoke REST API check calls.

In this order:

1. counted per (gate, client IP) by the shared rate limiter (``STRONGROOM_GATE_RATE_PER_MINUTE``,
   120): past it, 429 — so neither password guesses nor run proofs can be driven at will;
2. the gate's Basic credentials (its Generic service connection) — else 401, audited as
   ``gate.auth_failed`` (never with what was sent);
3. the request: ``BuildId`` and ``AuthToken`` always, the plan routing headers in Callback mode, a
   ``PlanUrl`` that is one of the organization's Azure DevOps connections;
4. the run, proven with the job's ``AuthToken`` (``ado.run_prove``);
5. the decision for (gate, BuildId, StageAttempt): the stored one when there is one (a repeat
   answers the same), else a new evaluation, stored and audited as ``gate.evaluated``. A run that
   could not be proven is answered ``fail`` and stored too, but a later call for the same run and
   attempt proves again (a forged BuildId cannot fail somebody else's run in advance).

ApiResponse mode answers the decision at once (always HTTP 200 with ``status`` pass | fail). Callback
mode answers 200 at once and a Celery task, enqueued on commit, evaluates and posts ``TaskCompleted``
to the plan (``governance.gate.tasks``).
"""

from __future__ import annotations

import datetime
import hmac
import logging
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import ActorType, Outcome
from audit.services import ANONYMOUS_ACTOR, AuditActor, audit_record
from governance.gate.ado import (
    CheckRequest,
    RequestProblem,
    check_request_parse,
    organization_url_for,
    plan_event_post,
    run_prove,
    token_open,
    token_seal,
)
from governance.gate.evaluate import Code, Evaluation, Finding, findings_payload, gate_evaluate
from governance.gate.services import gate_password_matches
from governance.models import GateDecision, GateMode, PipelineGate
from secrets_app.errors import DomainError
from secrets_app.http_basic import basic_credentials
from secrets_app.ratelimit import rate_limit_hit

logger = logging.getLogger("strongroom.governance")

PASS, FAIL, PENDING = "pass", "fail", "pending"
FINAL_STATUSES = {400, 401, 403, 404, 405, 409, 410}
CALLBACK_DELAYS = (5.0, 15.0, 60.0, 300.0, 900.0)  # then failed


class GateUnauthorized(DomainError):
    status = 401
    code = "unauthorized"


class GateRequestRefused(DomainError):
    """A Callback-mode call we cannot call back (no routing, unknown PlanUrl): the check fails now."""

    status = 400
    code = "validation_error"


@dataclass
class CheckAnswer:
    body: dict[str, Any]
    status: int = 200
    decision_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def gate_actor(gate: PipelineGate) -> AuditActor:
    return AuditActor(type=ActorType.SYSTEM, id=f"gate:{gate.public_id}", label=f"pipeline gate {gate.name}"[:200])


def _now_text() -> str:
    return timezone.now().astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def answer_body(status: str, reason: str, findings: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"status": status, "reason": reason[:1000], "checkedAt": _now_text(), "findings": findings or []}


def _auth_failed(gate: PipelineGate | None, gate_id: str, reason: str) -> GateUnauthorized:
    with transaction.atomic():
        audit_record(
            action="gate.auth_failed",
            actor=ANONYMOUS_ACTOR,
            outcome=Outcome.DENY,
            organization_id=gate.organization_id if gate is not None else None,
            project_id=gate.project_id if gate is not None else None,
            resource_type="pipeline_gate",
            resource_id=str(gate.public_id) if gate is not None else str(gate_id)[:64],
            metadata={"reason": reason},
        )
    return GateUnauthorized("Authentication failed")


def gate_authenticate(*, gate_id: str, authorization: str, client_ip: str) -> PipelineGate:
    """The enabled gate whose Basic credentials the request carries; GateUnauthorized (audited)
    otherwise. Counted by the rate limiter first (RateLimited, 429)."""
    # Keyed by the gate's id when the path holds one, else one shared bucket per client: a caller
    # spraying made-up ids is limited like one asking a single gate, and no raw path text (of any
    # length or alphabet) becomes part of a cache key.
    try:
        bucket_gate = str(uuid.UUID(str(gate_id)))
    except ValueError:
        bucket_gate = "unknown"
    rate_limit_hit(
        bucket="ado-gate",
        subject=f"{bucket_gate}:{client_ip}",
        limit=int(getattr(settings, "STRONGROOM_GATE_RATE_PER_MINUTE", 120)),
        refused="Too many gate requests; retry after {retry_after} seconds",
        unavailable="The gate is temporarily unavailable; try again shortly",
        local_fallback=True,
    )
    try:
        public_id = uuid.UUID(str(gate_id))
    except ValueError:
        raise _auth_failed(None, gate_id, "unknown gate") from None
    gate = (
        PipelineGate.objects.filter(public_id=public_id)
        .select_related("project", "environment", "identity", "parity_from")
        .first()
    )
    if gate is None:
        raise _auth_failed(None, gate_id, "unknown gate")
    sent = basic_credentials(authorization or "")
    if sent is None:
        raise _auth_failed(gate, gate_id, "no Basic credentials")
    user_ok = hmac.compare_digest(sent[0].encode("utf-8", "surrogatepass"), gate.username.encode())
    password_ok = gate_password_matches(gate, sent[1])
    if not (user_ok and password_ok):
        raise _auth_failed(gate, gate_id, "wrong username or password")
    if not gate.enabled:
        raise _auth_failed(gate, gate_id, "gate disabled")
    return gate


def _audit_decision(decision: GateDecision, gate: PipelineGate, *, repeat: bool = False) -> None:
    audit_record(
        action="gate.evaluated",
        actor=gate_actor(gate),
        outcome=Outcome.ALLOW if decision.status == PASS else Outcome.DENY,
        organization_id=gate.organization_id,
        project_id=gate.project_id,
        environment=gate.environment.slug,
        resource_type="pipeline_gate",
        resource_id=str(gate.public_id),
        metadata={
            "build_id": decision.build_id,
            "stage_attempt": decision.stage_attempt,
            "mode": decision.mode,
            "status": decision.status,
            "reason_codes": sorted({str(item.get("code", "")) for item in decision.findings}),
            "findings": len(decision.findings),
            "repeat": repeat,
        },
    )


def _proof_failure(reason: str) -> Evaluation:
    finding = Finding(Code.RUN_NOT_PROVEN, f"the run could not be proven: {reason}")
    return Evaluation(status=FAIL, reason=finding.message, findings=[finding])


def _is_proof_failure(decision: GateDecision) -> bool:
    return decision.status == FAIL and any(item.get("code") == Code.RUN_NOT_PROVEN for item in decision.findings)


def _decision_fields(evaluation: Evaluation) -> dict[str, Any]:
    """A pass keeps its one-line summary as its reason; a fail one line per finding."""
    return {
        "status": evaluation.status,
        "reasons": evaluation.reasons[:200] if evaluation.status == FAIL else [evaluation.reason],
        "findings": findings_payload(evaluation.findings),
    }


def _answer(decision: GateDecision) -> dict[str, Any]:
    reason = "; ".join(decision.reasons[:3])
    if len(decision.reasons) > 3:
        reason += f"; and {len(decision.reasons) - 3} more"
    return answer_body(decision.status, reason or "policy holds", list(decision.findings))


def gate_check(*, gate_id: str, authorization: str, headers: dict[str, str], body: Any, client_ip: str) -> CheckAnswer:
    """One call of the Invoke REST API check (see the module docstring)."""
    gate = gate_authenticate(gate_id=gate_id, authorization=authorization, client_ip=client_ip)
    callback = gate.mode == GateMode.CALLBACK
    try:
        request = check_request_parse(headers, body, callback=callback)
        org_url = organization_url_for(gate, request.plan_url)
    except RequestProblem as problem:
        if callback:
            raise GateRequestRefused(problem.message) from None
        return CheckAnswer(answer_body(FAIL, problem.message))
    from dynamic.services.ado_runs import AdoUnavailable

    try:
        proof_problem = run_prove(gate, org_url, request)
    except AdoUnavailable:
        if callback:
            raise AdoUnavailable("Azure DevOps could not be asked about the run; try again") from None
        return CheckAnswer(answer_body(FAIL, "Azure DevOps could not be asked about the run; try again"))
    existing = GateDecision.objects.filter(
        gate=gate, build_id=request.build_id, stage_attempt=request.stage_attempt
    ).first()
    if existing is not None and not _is_proof_failure(existing):
        return _repeat(gate, existing, request, callback=callback)
    evaluation: Evaluation | None = _proof_failure(proof_problem) if proof_problem else None
    if evaluation is None and not callback:
        evaluation = gate_evaluate(gate)
    return _decide(gate, request, evaluation, existing=existing)


def _decide(
    gate: PipelineGate, request: CheckRequest, evaluation: Evaluation | None, *, existing: GateDecision | None
) -> CheckAnswer:
    """Store (or, after a proof failure, replace) the decision; in Callback mode seal the token and
    enqueue the callback on commit."""
    callback = gate.mode == GateMode.CALLBACK
    fields: dict[str, Any] = {"mode": gate.mode, "callback": {}, "callback_state": "", "callback_error": ""}
    fields |= _decision_fields(evaluation) if evaluation is not None else {"status": PENDING}
    try:
        with transaction.atomic():
            if existing is not None:
                GateDecision.objects.filter(pk=existing.pk).update(**fields)
                decision = GateDecision.objects.get(pk=existing.pk)
            else:
                decision = GateDecision.objects.create(
                    gate=gate, build_id=request.build_id, stage_attempt=request.stage_attempt, **fields
                )
            if callback:
                _queue_callback(decision, request)
            if evaluation is not None:
                _audit_decision(decision, gate)
    except IntegrityError:  # the same run and attempt decided concurrently: answer that decision
        decision = GateDecision.objects.get(gate=gate, build_id=request.build_id, stage_attempt=request.stage_attempt)
        return _repeat(gate, decision, request, callback=callback)
    if callback:
        return CheckAnswer(_ack(), decision_id=decision.pk)
    return CheckAnswer(_answer(decision), decision_id=decision.pk)


def _ack() -> dict[str, Any]:
    return answer_body(PENDING, "evaluating: the decision is posted to the check when it is made")


def _queue_callback(decision: GateDecision, request: CheckRequest) -> None:
    """Inside the caller's transaction: routing + sealed token on the row, message on commit."""
    from governance.gate.tasks import enqueue_callback

    kept = {k: v for k, v in (decision.callback or {}).items() if k not in ("next_at", "claimed_at")}
    routing = kept | request.routing() | {"attempts": 0}
    GateDecision.objects.filter(pk=decision.pk).update(
        callback=routing,
        callback_token_ciphertext=token_seal(decision, request.auth_token),
        callback_state="queued",
        callback_error="",
    )
    decision_id = decision.pk
    transaction.on_commit(lambda: enqueue_callback(decision_id))


def _repeat(gate: PipelineGate, decision: GateDecision, request: CheckRequest, *, callback: bool) -> CheckAnswer:
    """A call for a run and attempt already decided: the stored answer (Callback mode: posted again
    to this call's task, which waits for it)."""
    with transaction.atomic():
        if callback:
            _queue_callback(decision, request)
        if decision.status != PENDING:
            _audit_decision(decision, gate, repeat=True)
    if callback:
        return CheckAnswer(_ack(), decision_id=decision.pk)
    return CheckAnswer(_answer(decision), decision_id=decision.pk)


# --- the callback (Celery) -------------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackOutcome:
    state: str  # sent | failed | retry | skipped
    retry_in: float | None = None


def _finish(decision_id: int, state: str, error: str = "") -> None:
    """Record the callback's end and erase the job token (it is never needed again). Only while
    this worker holds the claim: a repeat of the check that re-queued the decision meanwhile (a new
    task waits, with a new token) is left for its own message."""
    GateDecision.objects.filter(pk=decision_id, callback_state="sending").update(
        callback_state=state, callback_error=error[:500], callback_token_ciphertext=None
    )


def gate_callback_execute(*, decision_id: int) -> CallbackOutcome:
    """Evaluate a pending Callback-mode decision (once) and post it to the plan. Claimed by
    compare-and-set (``queued`` → ``sending``): duplicates are no-ops. 2xx: ``sent``; 400/401/403/
    404: ``failed`` at once; no answer, 429 or 5xx: retried after ``CALLBACK_DELAYS`` (then failed).
    The token is erased when the callback ends either way."""
    if not GateDecision.objects.filter(pk=decision_id, callback_state="queued").update(callback_state="sending"):
        return CallbackOutcome("skipped")
    decision = GateDecision.objects.select_related(
        "gate", "gate__project", "gate__environment", "gate__identity", "gate__parity_from"
    ).get(pk=decision_id)
    GateDecision.objects.filter(pk=decision_id).update(callback=dict(decision.callback) | {"claimed_at": _epoch()})
    gate = decision.gate
    if decision.status == PENDING:
        evaluation = gate_evaluate(gate)
        with transaction.atomic():
            fields = _decision_fields(evaluation)
            GateDecision.objects.filter(pk=decision.pk).update(**fields)
            for name, value in fields.items():
                setattr(decision, name, value)
            _audit_decision(decision, gate)
    routing = dict(decision.callback or {})
    try:
        org_url = organization_url_for(gate, str(routing.get("plan_url", "")))
        token = token_open(decision)
    except RequestProblem as problem:
        _finish(decision_id, "failed", problem.message)
        return CallbackOutcome("failed")
    except Exception as exc:  # noqa: BLE001 - a token that cannot be opened: nothing can be sent
        _finish(decision_id, "failed", f"the job token could not be opened ({type(exc).__name__})")
        return CallbackOutcome("failed")
    result = "succeeded" if decision.status == PASS else "failed"
    lines = [f"Strongroom pipeline gate {gate.name!r}: {decision.status}", *[f"  {r}" for r in decision.reasons[:50]]]
    first = not int(routing.get("attempts", 0))  # the log is written once, not at every retry
    posted = plan_event_post(
        org_url=org_url, routing=routing, token=token, result=result, lines=lines if first else None
    )
    del token
    if 200 <= posted.status < 300:
        _finish(decision_id, "sent")
        return CallbackOutcome("sent")
    if posted.status in FINAL_STATUSES:
        _finish(decision_id, "failed", f"Azure DevOps answered HTTP {posted.status} to the decision")
        _audit_callback_failed(decision, gate, posted.status)
        return CallbackOutcome("failed")
    attempts = int(routing.get("attempts", 0)) + 1
    error = f"Azure DevOps answered HTTP {posted.status}" if posted.status else "Azure DevOps could not be reached"
    if attempts > len(CALLBACK_DELAYS):
        _finish(decision_id, "failed", error + " (retries exhausted)")
        _audit_callback_failed(decision, gate, posted.status)
        return CallbackOutcome("failed")
    delay = CALLBACK_DELAYS[attempts - 1] * random.uniform(0.8, 1.2)  # noqa: S311 (jitter)
    if posted.retry_after:
        delay = max(delay, min(posted.retry_after, 3600.0))
    GateDecision.objects.filter(pk=decision_id, callback_state="sending").update(
        callback=routing | {"attempts": attempts, "next_at": _epoch() + delay},
        callback_state="queued",
        callback_error=error[:500],
    )
    return CallbackOutcome("retry", retry_in=delay)


def _epoch() -> float:
    return timezone.now().timestamp()


def gate_callbacks_reconcile(*, stale_seconds: float = 300.0) -> list[int]:
    """Beat: the ids of Callback-mode decisions whose message was lost — queued and due (its retry
    time passed a minute ago, or it never had one and was decided a minute ago), or claimed by a
    worker that died (``sending`` for *stale_seconds*) — set back to ``queued``; the caller
    enqueues them. Correctness never depends on one message arriving."""
    now = _epoch()
    due: list[int] = []
    recent = timezone.now() - datetime.timedelta(minutes=1)
    pending = GateDecision.objects.filter(callback_state__in=("queued", "sending")).values_list(
        "pk", "callback_state", "callback", "decided_at"
    )
    for pk, state, routing, decided_at in pending:
        routing = routing or {}
        if state == "sending":
            if now - float(routing.get("claimed_at") or 0) > stale_seconds:
                GateDecision.objects.filter(pk=pk, callback_state="sending").update(callback_state="queued")
                due.append(pk)
        elif "next_at" in routing:
            if now - float(routing["next_at"]) > 60:
                due.append(pk)
        elif decided_at < recent:
            due.append(pk)
    return due


def _audit_callback_failed(decision: GateDecision, gate: PipelineGate, status: int) -> None:
    with transaction.atomic():
        audit_record(
            action="gate.callback_failed",
            actor=gate_actor(gate),
            outcome=Outcome.ERROR,
            organization_id=gate.organization_id,
            project_id=gate.project_id,
            resource_type="pipeline_gate",
            resource_id=str(gate.public_id),
            metadata={"build_id": decision.build_id, "stage_attempt": decision.stage_attempt, "http_status": status},
        )


# --- script steps (``strongroom gate``) ------------------------------------------------------------


def gate_script_check(*, principal: Any, gate_id: str) -> tuple[PipelineGate, Evaluation]:
    """Evaluate a gate now for a script step: the gate's own identity (the pipeline's token) or an
    admin of its organization may ask; anyone else gets 404, as for a gate that does not exist.
    Nothing is stored (no run is proven); audited as ``gate.evaluated`` with mode ``script``."""
    from secrets_app.errors import NotFound
    from secrets_app.selectors.access import is_org_admin

    try:
        public_id = uuid.UUID(str(gate_id))
    except ValueError:
        raise NotFound("Pipeline gate not found") from None
    gate = (
        PipelineGate.objects.filter(public_id=public_id)
        .select_related("project", "environment", "identity", "parity_from")
        .first()
    )
    allowed = gate is not None and (
        principal.identity_id == gate.identity_id or is_org_admin(principal, gate.organization_id)
    )
    if gate is None or not allowed or not gate.enabled:
        raise NotFound("Pipeline gate not found")
    evaluation = gate_evaluate(gate)
    with transaction.atomic():
        audit_record(
            action="gate.evaluated",
            actor=principal.audit_actor(),
            outcome=Outcome.ALLOW if evaluation.status == PASS else Outcome.DENY,
            organization_id=gate.organization_id,
            project_id=gate.project_id,
            environment=gate.environment.slug,
            resource_type="pipeline_gate",
            resource_id=str(gate.public_id),
            metadata={
                "mode": "script",
                "status": evaluation.status,
                "reason_codes": evaluation.codes,
                "findings": len(evaluation.findings),
            },
        )
    return gate, evaluation
