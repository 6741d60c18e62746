"""Azure DevOps' side of the pipeline gate: what the Invoke REST API check sends (ado-governance.md
§1.2), proving the run with the job's ``AuthToken`` (§1.5), and completing a Callback-mode check
through the plan events API (§1.4).

The job's ``AuthToken`` is a bearer credential of the pipeline's build identity (valid 48 h). It is
sent only to the organization URL of one of the Strongroom organization's Azure DevOps connections —
never to the ``PlanUrl`` a header names, which is merely matched against those — through the one
outbound-HTTP seam (``secrets_app.outbound``: address policy, no redirects, bound to that host). It
is never logged, audited, returned or put in an error; in Callback mode it is sealed on the decision
until the callback is sent, then erased.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from governance.models import GateDecision, PipelineGate
from secrets_app.crypto.bindings import gate_callback_token_aad
from secrets_app.keyring import keyring

PLAN_EVENTS_API_VERSION = "2.0-preview.1"
LOG_API_VERSION = "7.1"  # task logs and timeline records of a plan
BUILD_API_VERSION = "7.1"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HUB = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
TIMEOUT_SECONDS = 10.0


class RequestProblem(Exception):
    """The check's request cannot be acted on (a header missing or malformed, an unknown PlanUrl):
    ``message`` says which header to fix in the check's configuration."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class CheckRequest:
    """What one Invoke REST API call carries (the default headers plus ``BuildId``; the body's
    ``buildId`` / ``stageAttempt``)."""

    plan_url: str
    project_id: str
    hub_name: str
    plan_id: str
    job_id: str
    timeline_id: str
    task_instance_id: str
    build_id: int
    stage_attempt: int
    auth_token: str = field(repr=False)

    def routing(self) -> dict[str, str]:
        """Where a Callback-mode decision is posted: routing, not secrets."""
        return {
            "plan_url": self.plan_url,
            "project_id": self.project_id,
            "hub_name": self.hub_name,
            "plan_id": self.plan_id,
            "job_id": self.job_id,
            "timeline_id": self.timeline_id,
            "task_instance_id": self.task_instance_id,
        }


def _positive_int(value: Any, *, default: int | None = None) -> int | None:
    text = str(value if value is not None else "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) <= 0 or len(text) > 18:
        return None
    return int(text)


def check_request_parse(headers: dict[str, str], body: Any, *, callback: bool) -> CheckRequest:
    """Parse the call (header names are case-insensitive: *headers* keys are lower case). ``BuildId``
    (header or body ``buildId``) and ``AuthToken`` are always required; the plan routing headers are
    required in Callback mode. Raises RequestProblem."""
    data = body if isinstance(body, dict) else {}
    raw_build = headers.get("buildid") or data.get("buildId") or data.get("BuildId")
    if raw_build in (None, ""):
        raise RequestProblem('BuildId is required: add "BuildId": "$(build.BuildId)" to the check\'s headers')
    build_id = _positive_int(raw_build)
    if build_id is None:
        raise RequestProblem("BuildId must be a positive number ($(build.BuildId))")
    stage_attempt = _positive_int(data.get("stageAttempt") or headers.get("stageattempt"), default=1)
    if stage_attempt is None:
        raise RequestProblem("stageAttempt must be a positive number ($(Checks.StageAttempt))")
    token = (headers.get("authtoken") or "").strip()
    if not token:
        raise RequestProblem('AuthToken is required: keep "AuthToken": "$(system.AccessToken)" in the check\'s headers')
    project_id = (headers.get("projectid") or "").strip().lower()
    if not _GUID.match(project_id):
        raise RequestProblem('ProjectId is required: keep "ProjectId": "$(system.TeamProjectId)" in the headers')
    plan_url = (headers.get("planurl") or "").strip()
    if not plan_url:
        raise RequestProblem('PlanUrl is required: keep "PlanUrl": "$(system.CollectionUri)" in the headers')
    routing = {name: (headers.get(name.lower()) or "").strip() for name in ("PlanId", "JobId", "TaskInstanceId")}
    hub = (headers.get("hubname") or "").strip()
    timeline = (headers.get("timelineid") or "").strip()
    if callback:
        for name, value in routing.items():
            if not _GUID.match(value):
                raise RequestProblem(f"{name} is required in Callback mode: keep the default {name} header")
        if not _HUB.match(hub):
            raise RequestProblem('HubName is required in Callback mode: keep "HubName": "$(system.HostType)"')
    return CheckRequest(
        plan_url=plan_url[:300],
        project_id=project_id,
        hub_name=hub[:64],
        plan_id=routing["PlanId"][:64],
        job_id=routing["JobId"][:64],
        timeline_id=timeline[:64],
        task_instance_id=routing["TaskInstanceId"][:64],
        build_id=build_id,
        stage_attempt=stage_attempt,
        auth_token=token,
    )


def organization_url_for(gate: PipelineGate, plan_url: str) -> str:
    """The organization URL of the Azure DevOps connection *plan_url* names (``$(system.CollectionUri)``),
    which must also be the gate's Azure DevOps organization. Raises RequestProblem otherwise: a token
    is never sent to a URL only a header vouches for."""
    from dynamic.services.ado_runs import connection_for_org, org_name_of

    connection = connection_for_org(gate.organization_id, plan_url)
    if connection is None:
        raise RequestProblem(
            "PlanUrl is not the organization URL of an Azure DevOps connection of this Strongroom organization"
        )
    org_url = str(connection.config.get("organization_url", "")).strip().rstrip("/")
    wanted = gate.ado_organization.strip().rstrip("/").lower()
    if wanted not in (org_url.lower(), org_name_of(org_url)):
        raise RequestProblem(
            f"PlanUrl names another Azure DevOps organization than the gate's ({gate.ado_organization})"
        )
    return org_url


def run_prove(gate: PipelineGate, org_url: str, request: CheckRequest) -> str | None:
    """Prove the run with the job's token: ``GET build/builds/{BuildId}`` must answer the build in
    progress, of the gate's project (and definition, when the gate names one). Returns None when
    proven, else the reason (safe to show). Raises ``AdoUnavailable`` when Azure DevOps cannot be
    asked (a transient failure: nothing is decided)."""
    from dynamic.services.ado_runs import IN_PROGRESS, build_read
    from secrets_app.errors import ValidationFailed

    if request.project_id != gate.ado_project_id.strip().lower():
        return f"the run is in Azure DevOps project {request.project_id}, not the gate's ({gate.ado_project_id})"
    try:
        build = build_read(
            org_url=org_url, project=request.project_id, build_id=request.build_id, access_token=request.auth_token
        )
    except ValidationFailed as exc:
        if "adoAccessToken" in exc.fields:
            return "Azure DevOps did not accept the job's AuthToken for this project"
        return f"build {request.build_id} was not found in the Azure DevOps project"
    status = str(getattr(build, "status", "") or "")
    if status != IN_PROGRESS:
        return f"build {request.build_id} is {status or 'in an unknown state'}, not in progress"
    project_id = str(getattr(getattr(build, "project", None), "id", "") or "").lower()
    if project_id != gate.ado_project_id.strip().lower():
        return f"build {request.build_id} belongs to another Azure DevOps project than the gate's"
    if gate.ado_definition_id:
        definition = getattr(getattr(build, "definition", None), "id", None)
        if definition != gate.ado_definition_id:
            return (
                f"build {request.build_id} is a run of pipeline definition {definition}, not {gate.ado_definition_id}"
            )
    return None


# --- the job token, sealed until the callback ------------------------------------------------------


def _token_aad(decision: GateDecision) -> bytes:
    return gate_callback_token_aad(
        gate_id=decision.gate_id, build_id=decision.build_id, stage_attempt=decision.stage_attempt
    )


def token_seal(decision: GateDecision, token: str) -> bytes:
    return keyring.seal_with_root(token.encode("utf-8"), _token_aad(decision))


def token_open(decision: GateDecision) -> str:
    return keyring.open_with_root(bytes(decision.callback_token_ciphertext or b""), _token_aad(decision)).decode()


# --- the callback ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostResult:
    status: int  # the HTTP status, or 0 when Azure DevOps could not be reached
    retry_after: float | None = None


def _plan_url(org_url: str, routing: dict[str, str], tail: str, api_version: str) -> str:
    return (
        f"{org_url.rstrip('/')}/{quote(routing['project_id'], safe='')}/_apis/distributedtask/hubs/"
        f"{quote(routing['hub_name'], safe='')}/plans/{quote(routing['plan_id'], safe='')}/{tail}"
        f"?api-version={api_version}"
    )


def _log_lines(session: Any, org_url: str, routing: dict[str, str], token: str, lines: list[str]) -> bool:
    """Best effort: the decision's reasons as the check's log (create a task log, append the lines,
    point the task's timeline record at it), so a person sees *why* next to the result. Returns
    whether it worked; a failure never stops the decision from being posted."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        created = session.post(
            _plan_url(org_url, routing, "logs", LOG_API_VERSION),
            data=json.dumps({"path": f"logs\\{routing['task_instance_id']}"}),
            headers=headers,
            timeout=TIMEOUT_SECONDS,
        )
        if created.status_code != 200:
            return False
        log_id = int(created.json()["id"])
        appended = session.post(
            _plan_url(org_url, routing, f"logs/{log_id}", LOG_API_VERSION),
            data="\n".join(lines).encode("utf-8") + b"\n",
            headers=headers | {"Content-Type": "application/octet-stream"},
            timeout=TIMEOUT_SECONDS,
        )
        record = {"id": routing["task_instance_id"], "log": {"id": log_id}}
        timeline = quote(routing.get("timeline_id") or "", safe="")
        linked = session.patch(
            _plan_url(org_url, routing, f"timelines/{timeline}/records", LOG_API_VERSION),
            data=json.dumps({"count": 1, "value": [record]}),
            headers=headers,
            timeout=TIMEOUT_SECONDS,
        )
        return appended.status_code == 200 and linked.status_code == 200
    except Exception:  # noqa: BLE001 - the log is a courtesy; the decision matters
        return False


def plan_event_post(
    *, org_url: str, routing: dict[str, str], token: str, result: str, lines: list[str] | None = None
) -> PostResult:
    """POST ``TaskCompleted`` to the plan's events (§1.4) with ``Bearer {AuthToken}``, to the
    connection's organization URL only (after the reasons as the check's log, when *lines* and a
    timeline id are given). Never raises for an HTTP or network failure: the caller decides (2xx
    done; 401/403/400/404 final; 429/5xx/0 retry)."""
    from secrets_app import outbound

    url = _plan_url(org_url, routing, "events", PLAN_EVENTS_API_VERSION)
    body = {
        "name": "TaskCompleted",
        "taskId": routing["task_instance_id"],
        "jobId": routing["job_id"],
        "result": result,
    }
    session = outbound.session(bound_to=[org_url])
    try:
        if lines and routing.get("timeline_id"):
            _log_lines(session, org_url, routing, token, lines)
        response = session.post(
            url,
            data=json.dumps(body),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=TIMEOUT_SECONDS,
        )
    except outbound.OutboundRefused:
        return PostResult(status=403)  # the address policy refused the host: final
    except Exception:  # noqa: BLE001 - network errors of any kind: retried; the message could name the URL only
        return PostResult(status=0)
    finally:
        session.close()
    retry_after = None
    try:
        retry_after = float(response.headers.get("Retry-After") or 0) or None
    except ValueError:
        retry_after = None
    return PostResult(status=response.status_code, retry_after=retry_after)
