"""The pipeline gate over REST: configuration and decisions (organization admins), the endpoint an
Azure DevOps Invoke REST API check calls (the gate's Basic credentials, no Strongroom token), and
the evaluation a script step asks for (``strongroom gate``, the pipeline identity's token).
Thin: parse, call one service, serialize."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from governance.gate.check import gate_check, gate_script_check
from governance.gate.evaluate import findings_payload
from governance.gate.services import (
    GateCredentials,
    gate_create,
    gate_decisions,
    gate_delete,
    gate_get,
    gate_list,
    gate_update,
)
from governance.models import GateMode, PipelineGate
from secrets_app.api.base import ApiView
from secrets_app.api.fields import StrictSerializer
from secrets_app.api.schema import errors
from secrets_app.middleware import client_ip
from secrets_app.ratelimit import RateLimited
from secrets_app.services.people import organization_get_for_principal

TAGS = ["governance"]
JSON = "application/json"
ORGANIZATION = OpenApiParameter(
    "organization", OpenApiTypes.STR, OpenApiParameter.PATH, description="Organization slug"
)
GATE = OpenApiParameter("gate", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Pipeline gate id")
SUCCESS_CRITERIA = "eq(root['status'], 'pass')"
CHECK_HEADERS = {
    "Content-Type": "application/json",
    "PlanUrl": "$(system.CollectionUri)",
    "ProjectId": "$(system.TeamProjectId)",
    "HubName": "$(system.HostType)",
    "PlanId": "$(system.PlanId)",
    "JobId": "$(system.JobId)",
    "TimelineId": "$(system.TimelineId)",
    "TaskInstanceId": "$(system.TaskInstanceId)",
    "AuthToken": "$(system.AccessToken)",
    "BuildId": "$(build.BuildId)",
}
CHECK_BODY = {"buildId": "$(build.BuildId)", "stageAttempt": "$(Checks.StageAttempt)"}


def check_path(gate: PipelineGate) -> str:
    return f"/api/v1/governance/ado-gates/{gate.public_id}/check"


def check_configuration(gate: PipelineGate) -> dict[str, Any]:
    """What to paste into the Invoke REST API check (and its Generic service connection)."""
    callback = gate.mode == GateMode.CALLBACK
    return {
        "serviceConnection": {"type": "generic", "username": gate.username, "passwordShownOnce": True},
        "method": "POST",
        "urlSuffix": check_path(gate),
        "headers": CHECK_HEADERS,
        "body": CHECK_BODY,
        "waitForCompletion": "true" if callback else "false",
        "successCriteria": "" if callback else SUCCESS_CRITERIA,
        "retryInterval": 0,
    }


class PipelineGateSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    adoOrganization = serializers.CharField(source="ado_organization")  # noqa: N815
    adoProjectId = serializers.CharField(source="ado_project_id")  # noqa: N815
    adoDefinitionId = serializers.IntegerField(source="ado_definition_id", allow_null=True)  # noqa: N815
    adoEnvironment = serializers.CharField(source="ado_environment")  # noqa: N815
    project = serializers.CharField(source="project.slug")
    environment = serializers.CharField(source="environment.slug")
    paths = serializers.ListField(child=serializers.CharField())
    identity = serializers.CharField(source="identity.name")
    identityId = serializers.UUIDField(source="identity.public_id")  # noqa: N815
    parityFrom = serializers.CharField(source="parity_from.slug", allow_null=True, default=None)  # noqa: N815
    requireRotationCurrent = serializers.BooleanField(source="require_rotation_current")  # noqa: N815
    requireNoLeaks = serializers.BooleanField(source="require_no_leaks")  # noqa: N815
    requireNoQuarantined = serializers.BooleanField(source="require_no_quarantined")  # noqa: N815
    requireNoIrrevocableLeases = serializers.BooleanField(source="require_no_irrevocable_leases")  # noqa: N815
    mode = serializers.ChoiceField(choices=GateMode.values)
    enabled = serializers.BooleanField()
    username = serializers.CharField(help_text="The Generic service connection's user name")
    checkConfiguration = serializers.SerializerMethodField()  # noqa: N815
    createdAt = serializers.DateTimeField(source="created_at")  # noqa: N815

    def get_checkConfiguration(self, gate: PipelineGate) -> dict[str, Any]:  # noqa: N802
        return check_configuration(gate)


class PipelineGateListSerializer(serializers.Serializer):
    gates = PipelineGateSerializer(many=True)


class PipelineGateCreatedSerializer(serializers.Serializer):
    gate = PipelineGateSerializer()
    username = serializers.CharField()
    password = serializers.CharField(
        allow_null=True, help_text="The Basic password for the Generic service connection: shown in this answer only"
    )


class _GateFields(StrictSerializer):
    name = serializers.CharField(max_length=120, required=False)
    adoOrganization = serializers.CharField(max_length=200, required=False)  # noqa: N815
    adoProjectId = serializers.CharField(max_length=64, required=False)  # noqa: N815
    adoDefinitionId = serializers.IntegerField(min_value=1, required=False, allow_null=True)  # noqa: N815
    adoEnvironment = serializers.CharField(max_length=200, required=False, allow_blank=True)  # noqa: N815
    project = serializers.CharField(max_length=200, required=False)
    environment = serializers.CharField(max_length=64, required=False)
    paths = serializers.ListField(child=serializers.CharField(max_length=1024), required=False, max_length=20)
    identity = serializers.CharField(max_length=200, required=False, help_text="Machine identity name or id")
    parityFrom = serializers.CharField(max_length=64, required=False, allow_null=True, allow_blank=True)  # noqa: N815
    requireRotationCurrent = serializers.BooleanField(required=False)  # noqa: N815
    requireNoLeaks = serializers.BooleanField(required=False)  # noqa: N815
    requireNoQuarantined = serializers.BooleanField(required=False)  # noqa: N815
    requireNoIrrevocableLeases = serializers.BooleanField(required=False)  # noqa: N815
    mode = serializers.ChoiceField(choices=GateMode.values, required=False)
    enabled = serializers.BooleanField(required=False)


class PipelineGateCreateRequest(_GateFields):
    name = serializers.CharField(max_length=120)
    adoOrganization = serializers.CharField(max_length=200)  # noqa: N815
    adoProjectId = serializers.CharField(max_length=64)  # noqa: N815
    project = serializers.CharField(max_length=200)
    environment = serializers.CharField(max_length=64)
    identity = serializers.CharField(max_length=200, help_text="Machine identity name or id")


class PipelineGateUpdateRequest(_GateFields):
    resetPassword = serializers.BooleanField(required=False, help_text="Issue a new Basic password")  # noqa: N815


FIELD_NAMES = {
    "name": "name",
    "adoOrganization": "ado_organization",
    "adoProjectId": "ado_project_id",
    "adoDefinitionId": "ado_definition_id",
    "adoEnvironment": "ado_environment",
    "paths": "paths",
    "requireRotationCurrent": "require_rotation_current",
    "requireNoLeaks": "require_no_leaks",
    "requireNoQuarantined": "require_no_quarantined",
    "requireNoIrrevocableLeases": "require_no_irrevocable_leases",
    "mode": "mode",
    "enabled": "enabled",
    "project": "project",
    "environment": "environment",
    "identity": "identity",
    "parityFrom": "parity_from",
}


def _values(data: dict[str, Any]) -> dict[str, Any]:
    return {FIELD_NAMES[name]: value for name, value in data.items() if name in FIELD_NAMES}


def _created(gate: PipelineGate, credentials: GateCredentials | None, code: int) -> Response:
    body = {
        "gate": PipelineGateSerializer(gate).data,
        "username": gate.username,
        "password": credentials.password if credentials else None,
    }
    response = Response(body, status=code)
    response["Cache-Control"] = "no-store"
    return response


class GateDecisionSerializer(serializers.Serializer):
    gate = serializers.UUIDField(source="gate.public_id")
    buildId = serializers.IntegerField(source="build_id")  # noqa: N815
    stageAttempt = serializers.IntegerField(source="stage_attempt")  # noqa: N815
    mode = serializers.CharField()
    status = serializers.CharField(help_text="pass, fail or pending (Callback mode, not evaluated yet)")
    reasons = serializers.ListField(child=serializers.CharField())
    findings = serializers.ListField(child=serializers.DictField())
    callbackState = serializers.CharField(source="callback_state", help_text="'', queued, sending, sent or failed")  # noqa: N815
    callbackError = serializers.CharField(source="callback_error")  # noqa: N815
    decidedAt = serializers.DateTimeField(source="decided_at")  # noqa: N815


class GateDecisionListSerializer(serializers.Serializer):
    decisions = GateDecisionSerializer(many=True)


class GateEvaluateRequest(StrictSerializer):
    """No fields: the gate is in the path (an empty body, or none, is fine)."""


class GateAnswerSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="pass or fail (pending: Callback mode, posted to the plan later)")
    reason = serializers.CharField()
    checkedAt = serializers.CharField()  # noqa: N815
    findings = serializers.ListField(child=serializers.DictField())


class PipelineGateListApi(ApiView):
    permission_classes = [IsAuthenticated]
    idempotency_storable = False  # the answer holds the generated password

    @extend_schema(
        operation_id="pipeline_gates_list",
        tags=TAGS,
        parameters=[ORGANIZATION],
        responses={(200, JSON): PipelineGateListSerializer, **errors(403, 404)},
        description="The organization's pipeline gates (organization admins).",
    )
    def get(self, request: Request, organization: str) -> Response:
        found = organization_get_for_principal(self.principal, organization)
        gates = gate_list(principal=self.principal, organization=found)
        return Response(PipelineGateListSerializer({"gates": gates}).data)

    @extend_schema(
        operation_id="pipeline_gates_create",
        tags=TAGS,
        parameters=[ORGANIZATION],
        request=PipelineGateCreateRequest,
        responses={(201, JSON): PipelineGateCreatedSerializer, **errors(400, 403, 404)},
        description="Create a gate. The answer holds the Basic password of its Generic service connection (shown "
        "once) and `gate.checkConfiguration`, the Invoke REST API check to paste (docs/governance.md).",
    )
    def post(self, request: Request, organization: str) -> Response:
        data = _values(self.parse(PipelineGateCreateRequest, request.data))
        found = organization_get_for_principal(self.principal, organization)
        place = {name: data.pop(name) for name in ("project", "environment", "identity") if name in data}
        gate, credentials = gate_create(
            principal=self.principal,
            organization=found,
            project=str(place["project"]),
            environment=str(place["environment"]),
            identity=str(place["identity"]),
            parity_from=data.pop("parity_from", None) or None,
            **data,
        )
        return _created(gate, credentials, status.HTTP_201_CREATED)


class PipelineGateDetailApi(ApiView):
    permission_classes = [IsAuthenticated]
    idempotency_storable = False

    @extend_schema(
        operation_id="pipeline_gates_retrieve",
        tags=TAGS,
        parameters=[ORGANIZATION, GATE],
        responses={(200, JSON): PipelineGateSerializer, **errors(403, 404)},
    )
    def get(self, request: Request, organization: str, gate: str) -> Response:
        found = organization_get_for_principal(self.principal, organization)
        return Response(
            PipelineGateSerializer(gate_get(principal=self.principal, organization=found, gate_id=gate)).data
        )

    @extend_schema(
        operation_id="pipeline_gates_update",
        tags=TAGS,
        parameters=[ORGANIZATION, GATE],
        request=PipelineGateUpdateRequest,
        responses={(200, JSON): PipelineGateCreatedSerializer, **errors(400, 403, 404)},
        description="Change a gate; `resetPassword: true` issues a new Basic password (in this answer only).",
    )
    def patch(self, request: Request, organization: str, gate: str) -> Response:
        parsed = self.parse(PipelineGateUpdateRequest, request.data)
        reset = bool(parsed.pop("resetPassword", False))
        found = organization_get_for_principal(self.principal, organization)
        changed, credentials = gate_update(
            principal=self.principal, organization=found, gate_id=gate, reset_password=reset, **_values(parsed)
        )
        return _created(changed, credentials, status.HTTP_200_OK)

    @extend_schema(
        operation_id="pipeline_gates_destroy",
        tags=TAGS,
        parameters=[ORGANIZATION, GATE],
        responses={204: None, **errors(403, 404)},
        description="Remove the gate: its check's calls are refused (401) from now on.",
    )
    def delete(self, request: Request, organization: str, gate: str) -> Response:
        found = organization_get_for_principal(self.principal, organization)
        gate_delete(principal=self.principal, organization=found, gate_id=gate)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PipelineGateDecisionListApi(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="pipeline_gate_decisions_list",
        tags=TAGS,
        parameters=[ORGANIZATION, GATE],
        responses={(200, JSON): GateDecisionListSerializer, **errors(403, 404)},
        description="The gate's newest decisions (100), with their reasons.",
    )
    def get(self, request: Request, organization: str, gate: str) -> Response:
        found = organization_get_for_principal(self.principal, organization)
        decisions = gate_decisions(principal=self.principal, organization=found, gate_id=gate)
        return Response(GateDecisionListSerializer({"decisions": decisions}).data)


def _rate_limited(exc: RateLimited) -> Response:
    body = {"error": {"code": exc.code, "message": exc.message}}
    return Response(body, status=429, headers={"Retry-After": str(exc.retry_after)})


class AdoGateCheckApi(ApiView):
    """Azure DevOps calls this; it authenticates with the gate's Basic credentials, not a token."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []  # counted per gate and client IP by the service
    idempotency_storable = False

    @extend_schema(
        operation_id="ado_gate_check",
        tags=TAGS,
        parameters=[GATE],
        request=OpenApiTypes.OBJECT,
        responses={(200, JSON): GateAnswerSerializer, **errors(400, 429, 502)},
        auth=[],
        description="The Azure DevOps Invoke REST API check (Basic auth of the gate's Generic service connection; "
        "headers PlanUrl, ProjectId, HubName, PlanId, JobId, TimelineId, TaskInstanceId, AuthToken, BuildId; body "
        "buildId, stageAttempt). ApiResponse mode: always 200 with `status` pass or fail (successCriteria "
        "`eq(root['status'], 'pass')`). Callback mode: 200 at once, the decision is posted to the plan's events.",
    )
    def post(self, request: Request, gate: str) -> Response:
        headers = {key.lower(): value for key, value in request.headers.items()}
        try:
            answer = gate_check(
                gate_id=gate,
                authorization=headers.get("authorization", ""),
                headers=headers,
                body=request.data,
                client_ip=client_ip(request._request),
            )
        except RateLimited as exc:
            return _rate_limited(exc)
        response = Response(answer.body, status=answer.status)
        response["Cache-Control"] = "no-store"
        return response


class PipelineGateEvaluateApi(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="pipeline_gate_evaluate",
        tags=TAGS,
        parameters=[GATE],
        request=GateEvaluateRequest,
        responses={(200, JSON): GateAnswerSerializer, **errors(404)},
        description="Evaluate the gate now, for a script step (`strongroom gate`): the gate's own machine "
        "identity or an organization admin. Nothing is stored; audited as `gate.evaluated` (mode script).",
    )
    def post(self, request: Request, gate: str) -> Response:
        from governance.gate.check import answer_body

        self.parse(GateEvaluateRequest, request.data or {})
        _, evaluation = gate_script_check(principal=self.principal, gate_id=gate)
        reason = evaluation.reason
        return Response(answer_body(evaluation.status, reason, findings_payload(evaluation.findings)))
