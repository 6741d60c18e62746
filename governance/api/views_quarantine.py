"""Quarantine and the governance policy over the API. Thin: parse, call a service or selector, serialize."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from governance.api.serializers_quarantine import (
    POLICY_NAMES,
    GovernancePolicyRequest,
    GovernancePolicySerializer,
    QuarantineActionRequest,
    QuarantineCandidatesSerializer,
    QuarantineListSerializer,
    QuarantineRequest,
    QuarantineSerializer,
    QuarantineStatusQuery,
)
from governance.api.views_dashboard import CSV, JSON, _CsvIsAParameter, csv_download, wants_csv
from governance.selectors.quarantine import (
    candidate_rows_csv,
    quarantine_candidates,
    quarantine_list,
    quarantine_rows_csv,
)
from governance.services.policy import governance_policy_get, governance_policy_update
from governance.services.quarantine import secret_quarantine_delete, secret_quarantine_restore, secrets_quarantine
from secrets_app.api.base import ApiView
from secrets_app.api.schema import PROJECT, errors

TAGS = ["governance"]
SECRET = OpenApiParameter("secret", OpenApiTypes.INT, OpenApiParameter.PATH, description="Secret id (secretId)")


def _stamp() -> str:
    return timezone.now().strftime("%Y%m%d-%H%M%S")


class QuarantineCandidatesApi(ApiView):
    content_negotiation_class = _CsvIsAParameter

    @extend_schema(
        operation_id="governance_quarantine_candidates",
        tags=TAGS,
        parameters=[PROJECT],
        responses={(200, JSON): QuarantineCandidatesSerializer, (200, "text/csv"): CSV, **errors(403, 404)},
        description="Live secrets not delivered to anyone for the policy's `quarantineAfterDays` (never "
        "delivered counts), longest idle first (`governance.read`). Empty when the policy offers no quarantine. "
        "`?format=csv` or `Accept: text/csv` downloads them.",
    )
    def get(self, request: Request, project: str) -> Response | StreamingHttpResponse:
        scope = self.scope(project)
        candidates = quarantine_candidates(scope)
        if wants_csv(request):
            return csv_download(candidate_rows_csv(candidates), f"{scope.project.slug}-unused-{_stamp()}.csv")
        return Response(QuarantineCandidatesSerializer(candidates).data)


class QuarantineListApi(ApiView):
    content_negotiation_class = _CsvIsAParameter

    @extend_schema(
        operation_id="governance_quarantines_list",
        tags=TAGS,
        parameters=[PROJECT, QuarantineStatusQuery],
        responses={(200, JSON): QuarantineListSerializer, (200, "text/csv"): CSV, **errors(400, 403, 404)},
        description="The project's quarantines (default: active) with refused-read counts (`governance.read`). "
        "`?format=csv` or `Accept: text/csv` downloads them.",
    )
    def get(self, request: Request, project: str) -> Response | StreamingHttpResponse:
        scope = self.scope(project)
        wanted = self.query(QuarantineStatusQuery, request)["status"]
        rows = quarantine_list(scope, status=None if wanted == "all" else wanted)
        if wants_csv(request):
            return csv_download(quarantine_rows_csv(rows), f"{scope.project.slug}-quarantines-{_stamp()}.csv")
        return Response(QuarantineListSerializer({"quarantines": rows}).data)

    @extend_schema(
        operation_id="governance_quarantines_create",
        tags=TAGS,
        parameters=[PROJECT],
        request=QuarantineRequest,
        responses={201: QuarantineListSerializer, **errors(400, 403, 404, 409)},
        description="Quarantine one or more live secrets, all or nothing (`governance.manage`): a single get of "
        "the value answers 423, lists leave the key out with a warning; the owner and former consumers are told.",
    )
    def post(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        data = self.parse(QuarantineRequest, request.data)
        rows = secrets_quarantine(scope=scope, secret_ids=data["secrets"], reason=data.get("reason", ""))
        return Response(QuarantineListSerializer({"quarantines": rows}).data, status=status.HTTP_201_CREATED)


class QuarantineRestoreApi(ApiView):
    @extend_schema(
        operation_id="governance_quarantine_restore",
        tags=TAGS,
        parameters=[PROJECT, SECRET],
        request=QuarantineActionRequest,
        responses={200: QuarantineSerializer, **errors(403, 404, 409)},
        description="End the secret's quarantine: its value is delivered again at once (`governance.manage`).",
    )
    def post(self, request: Request, project: str, secret: int) -> Response:
        scope = self.scope(project)
        self.parse(QuarantineActionRequest, request.data or {})
        row = secret_quarantine_restore(scope=scope, secret_id=secret)
        return Response(QuarantineSerializer(row).data)


class QuarantineDeleteApi(ApiView):
    @extend_schema(
        operation_id="governance_quarantine_delete",
        tags=TAGS,
        parameters=[PROJECT, SECRET],
        request=QuarantineActionRequest,
        responses={200: QuarantineSerializer, 202: None, **errors(403, 404, 409)},
        description="Delete a quarantined secret whose deletion was proposed (`governance.manage`, and the "
        "right to delete it): the ordinary soft delete, recoverable with a folder rollback. 202 when a change "
        "policy holds the delete for review. Nothing is ever deleted automatically.",
    )
    def post(self, request: Request, project: str, secret: int) -> Response:
        scope = self.scope(project)
        self.parse(QuarantineActionRequest, request.data or {})
        row = secret_quarantine_delete(scope=scope, secret_id=secret)
        return Response(QuarantineSerializer(row).data)


class GovernancePolicyApi(ApiView):
    @extend_schema(
        operation_id="governance_policy_get",
        tags=TAGS,
        parameters=[PROJECT],
        responses={200: GovernancePolicySerializer, **errors(403, 404)},
        description="The project's governance thresholds (`governance.read`); defaults when never set.",
    )
    def get(self, request: Request, project: str) -> Response:
        return Response(GovernancePolicySerializer(governance_policy_get(self.scope(project))).data)

    @extend_schema(
        operation_id="governance_policy_update",
        tags=TAGS,
        parameters=[PROJECT],
        request=GovernancePolicyRequest,
        responses={200: GovernancePolicySerializer, **errors(400, 403, 404)},
        description="Change some thresholds (`governance.manage`); audited `governance.policy_updated`. "
        "`quarantineAfterDays: null` stops offering quarantine candidates.",
    )
    def patch(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        data = self.parse(GovernancePolicyRequest, request.data)
        policy = governance_policy_update(
            scope=scope, changes={POLICY_NAMES[name]: value for name, value in data.items()}
        )
        return Response(GovernancePolicySerializer(policy).data)
