"""The Azure DevOps run hook over REST: its configuration per organization (organization admins)
and the receiver Azure DevOps posts ``run-state-changed`` events to (Basic auth of its own, no
Strongroom token). Thin: parse, call one service, serialize."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from dynamic.models import AdoRunHook
from dynamic.services.ado_hooks import (
    ado_run_hook_delete,
    ado_run_hook_get,
    ado_run_hook_list,
    ado_run_hook_save,
    ado_run_state_receive,
)
from secrets_app.api.base import ApiView
from secrets_app.api.fields import StrictSerializer
from secrets_app.api.schema import errors
from secrets_app.services.people import organization_get_for_principal

TAGS = ["leases"]
JSON = "application/json"
ORGANIZATION = OpenApiParameter(
    "organization", OpenApiTypes.STR, OpenApiParameter.PATH, description="Organization slug"
)
HOOK = OpenApiParameter("hook", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Run hook id")


class AdoRunHookSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    connection = serializers.UUIDField(source="connection.public_id", help_text="The Azure DevOps connection")
    connectionName = serializers.CharField(source="connection.name")  # noqa: N815
    accountId = serializers.CharField(source="account_id", help_text="Expected resourceContainers.account.id")  # noqa: N815
    projectIds = serializers.ListField(source="project_ids", child=serializers.CharField())  # noqa: N815
    username = serializers.CharField(help_text="The subscription's basic-auth user name")
    headerName = serializers.CharField(source="header_name", help_text="Extra header required, if any")  # noqa: N815
    path = serializers.SerializerMethodField(help_text="The URL path to give the subscription (after your host)")
    lastEventAt = serializers.DateTimeField(source="last_event_at", allow_null=True)  # noqa: N815
    createdAt = serializers.DateTimeField(source="created_at")  # noqa: N815

    def get_path(self, hook: AdoRunHook) -> str:
        return f"/api/v1/hooks/azure-devops/{hook.public_id}/run-state"


class AdoRunHookListSerializer(serializers.Serializer):
    hooks = AdoRunHookSerializer(many=True)


class AdoRunHookCreatedSerializer(serializers.Serializer):
    hook = AdoRunHookSerializer()
    password = serializers.CharField(
        allow_null=True, help_text="The generated basic-auth password: shown in this answer only (null if you chose it)"
    )


class AdoRunHookRequest(StrictSerializer):
    connection = serializers.UUIDField(help_text="An Azure DevOps connection of the organization")
    accountId = serializers.CharField(max_length=64, help_text="The Azure DevOps organization's id (GUID)")  # noqa: N815
    projectIds = serializers.ListField(  # noqa: N815
        child=serializers.CharField(max_length=64), required=False, max_length=200, help_text="Empty: any project"
    )
    password = serializers.CharField(
        required=False, allow_blank=True, write_only=True, max_length=256, help_text="Leave out to have one generated"
    )
    headerName = serializers.CharField(required=False, allow_blank=True, max_length=100)  # noqa: N815
    headerValue = serializers.CharField(required=False, allow_blank=True, write_only=True, max_length=512)  # noqa: N815


class AdoHookAcceptedSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="accepted, replay (event id seen before: nothing done) or ignored")
    leases = serializers.IntegerField(help_text="Leases of the run that were ended")
    revoked = serializers.IntegerField()


class AdoRunHookListApi(ApiView):
    permission_classes = [IsAuthenticated]
    idempotency_storable = False  # the answer may hold the generated password

    @extend_schema(
        operation_id="ado_run_hooks_list",
        tags=TAGS,
        parameters=[ORGANIZATION],
        responses={(200, JSON): AdoRunHookListSerializer, **errors(403, 404)},
        description="The organization's Azure DevOps run hooks (organization admins).",
    )
    def get(self, request: Request, organization: str) -> Response:
        found = organization_get_for_principal(self.principal, organization)
        hooks = ado_run_hook_list(principal=self.principal, organization=found)
        return Response(AdoRunHookListSerializer({"hooks": hooks}).data)

    @extend_schema(
        operation_id="ado_run_hooks_save",
        tags=TAGS,
        parameters=[ORGANIZATION],
        request=AdoRunHookRequest,
        responses={(201, JSON): AdoRunHookCreatedSerializer, **errors(400, 403, 404)},
        description="Create (or replace) the run hook of one Azure DevOps connection. Give the answer's `path`, "
        "`username` and password to a 'Run state changed' Web Hooks subscription (docs/dynamic-secrets.md).",
    )
    def post(self, request: Request, organization: str) -> Response:
        data = self.parse(AdoRunHookRequest, request.data)
        found = organization_get_for_principal(self.principal, organization)
        hook, password = ado_run_hook_save(
            principal=self.principal,
            organization=found,
            connection_id=str(data["connection"]),
            account_id=data["accountId"],
            project_ids=data.get("projectIds") or [],
            password=data.get("password") or None,
            header_name=data.get("headerName") or "",
            header_value=data.get("headerValue") or "",
        )
        response = Response(
            AdoRunHookCreatedSerializer({"hook": hook, "password": password}).data, status=status.HTTP_201_CREATED
        )
        response["Cache-Control"] = "no-store"
        return response


class AdoRunHookDetailApi(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="ado_run_hooks_retrieve",
        tags=TAGS,
        parameters=[ORGANIZATION, HOOK],
        responses={(200, JSON): AdoRunHookSerializer, **errors(403, 404)},
    )
    def get(self, request: Request, organization: str, hook: str) -> Response:
        found = organization_get_for_principal(self.principal, organization)
        return Response(
            AdoRunHookSerializer(ado_run_hook_get(principal=self.principal, organization=found, hook_id=hook)).data
        )

    @extend_schema(
        operation_id="ado_run_hooks_destroy",
        tags=TAGS,
        parameters=[ORGANIZATION, HOOK],
        responses={204: None, **errors(403, 404)},
        description="Remove the hook: its subscription's events are refused from now on (the poller still ends runs).",
    )
    def delete(self, request: Request, organization: str, hook: str) -> Response:
        found = organization_get_for_principal(self.principal, organization)
        ado_run_hook_delete(principal=self.principal, organization=found, hook_id=hook)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AdoRunStateHookApi(ApiView):
    """Azure DevOps calls this; it authenticates with the hook's Basic credentials, not a token."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []  # ADO retries on its own schedule; auth failures are audited
    idempotency_storable = False

    @extend_schema(
        operation_id="ado_run_state_hook",
        tags=TAGS,
        parameters=[HOOK],
        request=OpenApiTypes.OBJECT,
        responses={(200, JSON): AdoHookAcceptedSerializer, **errors(400, 403)},
        auth=[],
        description="Receiver of the `ms.vss-pipelines.run-state-changed-event` service hook (Basic auth). "
        "A completed run revokes every lease bound to it. Replays (same event id) are no-ops; events older "
        "than 10 minutes, of another account or project, are refused.",
    )
    def post(self, request: Request, hook: str) -> Response:
        headers = {key.lower(): value for key, value in request.headers.items()}
        outcome = ado_run_state_receive(
            hook_id=hook, authorization=headers.get("authorization", ""), headers=headers, body=request.data
        )
        return Response({"status": outcome.status, "leases": outcome.leases, "revoked": outcome.revoked})
