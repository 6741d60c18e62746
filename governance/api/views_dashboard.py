"""The governance dashboard API (read-only). Thin: parse the query, resolve the caller's reach
(``governance.selectors.scope``), call a selector, serialize. Lists answer CSV (every row, streamed)
with ``?format=csv`` or ``Accept: text/csv``."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from governance.api.serializers_dashboard import (
    GovernanceConsumersQuery,
    GovernanceDashboardSerializer,
    GovernanceRiskQuery,
    GovernanceRiskSerializer,
    GovernanceSecretConsumersSerializer,
    GovernanceTopConsumersQuery,
    GovernanceTopConsumersSerializer,
)
from governance.selectors.dashboard import dashboard_figures, top_consumers
from governance.selectors.risks import (
    consumer_rows_csv,
    risk_filters_parse,
    risk_list,
    risk_rows_csv,
    secret_consumers,
    top_consumer_rows_csv,
)
from governance.selectors.scope import DashboardScope, organization_dashboard_scope, project_dashboard_scope
from secrets_app.api.base import ApiView
from secrets_app.api.pagination import page_of, page_window, paginated_response
from secrets_app.api.schema import PROJECT, errors

TAGS = ["governance"]
JSON = "application/json"
ORGANIZATION = OpenApiParameter(
    "organization", OpenApiTypes.STR, OpenApiParameter.PATH, description="Organization slug"
)
SECRET = OpenApiParameter("secret", OpenApiTypes.INT, OpenApiParameter.PATH, description="Secret id (secretId)")
CSV = OpenApiResponse(response=OpenApiTypes.STR, description="Every row as CSV (header first), streamed")
ORG_REACH = "Organization admins see every project; other members only the projects where they hold `governance.read`."


class _CsvIsAParameter(DefaultContentNegotiation):
    """``?format=csv`` / ``Accept: text/csv`` choose the CSV download in the view; errors stay JSON."""

    def select_renderer(self, request: Request, renderers: Iterable[Any], format_suffix: str | None = None) -> Any:
        first = next(iter(renderers))
        return (first, first.media_type)


def wants_csv(request: Request) -> bool:
    return request.query_params.get("format") == "csv" or "text/csv" in request.META.get("HTTP_ACCEPT", "")


def csv_download(lines: Iterator[str], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


class _DashboardApi(ApiView):
    permission_classes = [IsAuthenticated]
    content_negotiation_class = _CsvIsAParameter

    def dashboard(self, scope: DashboardScope) -> Response:
        figures = dashboard_figures(scope)
        data = {"organization": scope.organization, "project": scope.project, **figures}
        return Response(GovernanceDashboardSerializer(data).data)

    def risks(self, request: Request, scope: DashboardScope, name: str) -> Response | StreamingHttpResponse:
        query = self.query(GovernanceRiskQuery, request)
        filters = risk_filters_parse(request.query_params)
        rows = risk_list(scope, filters)
        if wants_csv(request):
            stamp = timezone.now().strftime("%Y%m%d")
            return csv_download(risk_rows_csv(rows), f"{name}-risks-{stamp}.csv")
        limit, offset = page_window(query)
        page = list(rows[offset : offset + limit])
        return paginated_response(
            request,
            results=list(GovernanceRiskSerializer(page, many=True).data),
            count=rows.count(),
            limit=limit,
            offset=offset,
        )

    def top(self, request: Request, scope: DashboardScope, name: str) -> Response | StreamingHttpResponse:
        query = self.query(GovernanceTopConsumersQuery, request)
        found = top_consumers(scope, today=timezone.now().date(), days=query["days"], limit=query["limit"])
        if wants_csv(request):
            return csv_download(top_consumer_rows_csv(found), f"{name}-top-consumers-{timezone.now():%Y%m%d}.csv")
        return Response(GovernanceTopConsumersSerializer({"days": query["days"], "results": found}).data)


class OrganizationDashboardApi(_DashboardApi):
    @extend_schema(
        operation_id="governance_organization_dashboard",
        tags=TAGS,
        parameters=[ORGANIZATION],
        responses={(200, JSON): GovernanceDashboardSerializer, **errors(404)},
        description="The organization's governance figures: counts with their change over 7 days, risk flag "
        "counts, figures per project and environment, and the charts' data (age since last change, read events "
        "per environment and day over 30 days, top consumers, stale-secret trend). " + ORG_REACH,
    )
    def get(self, request: Request, organization: str) -> Response:
        return self.dashboard(organization_dashboard_scope(self.principal, organization))


class OrganizationTopConsumersApi(_DashboardApi):
    @extend_schema(
        operation_id="governance_organization_top_consumers",
        tags=TAGS,
        parameters=[ORGANIZATION, GovernanceTopConsumersQuery],
        responses={(200, JSON): GovernanceTopConsumersSerializer, (200, "text/csv"): CSV, **errors(400, 404)},
        description="The people and machine identities whose reads delivered the most values over the last "
        "`days` days (read events; keys delivered). " + ORG_REACH,
    )
    def get(self, request: Request, organization: str) -> Response | StreamingHttpResponse:
        return self.top(request, organization_dashboard_scope(self.principal, organization), organization)


class OrganizationRiskListApi(_DashboardApi):
    @extend_schema(
        operation_id="governance_organization_risks",
        tags=TAGS,
        parameters=[ORGANIZATION, GovernanceRiskQuery],
        responses={
            (200, JSON): page_of(GovernanceRiskSerializer, "GovernanceRiskPage"),
            (200, "text/csv"): CSV,
            **errors(400, 404),
        },
        description="Per-secret risk rows (facts and flags, recomputed by the governance refresh), filtered and "
        "sorted; `?format=csv` or `Accept: text/csv` downloads every matching row. " + ORG_REACH,
    )
    def get(self, request: Request, organization: str) -> Response | StreamingHttpResponse:
        scope = organization_dashboard_scope(self.principal, organization)
        return self.risks(request, scope, scope.organization.slug)


class ProjectDashboardApi(_DashboardApi):
    @extend_schema(
        operation_id="governance_project_dashboard",
        tags=TAGS,
        parameters=[PROJECT],
        responses={(200, JSON): GovernanceDashboardSerializer, **errors(403, 404)},
        description="The organization dashboard's figures and charts for one project (`governance.read`).",
    )
    def get(self, request: Request, project: str) -> Response:
        return self.dashboard(project_dashboard_scope(self.principal, project))


class ProjectRiskListApi(_DashboardApi):
    @extend_schema(
        operation_id="governance_project_risks",
        tags=TAGS,
        parameters=[PROJECT, GovernanceRiskQuery],
        responses={
            (200, JSON): page_of(GovernanceRiskSerializer, "GovernanceProjectRiskPage"),
            (200, "text/csv"): CSV,
            **errors(400, 403, 404),
        },
        description="The project's per-secret risk rows, filtered, sorted and paged (`governance.read`); "
        "`?format=csv` or `Accept: text/csv` downloads every matching row.",
    )
    def get(self, request: Request, project: str) -> Response | StreamingHttpResponse:
        scope = project_dashboard_scope(self.principal, project)
        return self.risks(request, scope, scope.project.slug if scope.project else project)


class ProjectTopConsumersApi(_DashboardApi):
    @extend_schema(
        operation_id="governance_project_top_consumers",
        tags=TAGS,
        parameters=[PROJECT, GovernanceTopConsumersQuery],
        responses={(200, JSON): GovernanceTopConsumersSerializer, (200, "text/csv"): CSV, **errors(400, 403, 404)},
        description="The project's top consumers over the last `days` days (`governance.read`).",
    )
    def get(self, request: Request, project: str) -> Response | StreamingHttpResponse:
        return self.top(request, project_dashboard_scope(self.principal, project), project)


class SecretConsumersApi(_DashboardApi):
    @extend_schema(
        operation_id="governance_secret_consumers",
        tags=TAGS,
        parameters=[PROJECT, SECRET, GovernanceConsumersQuery],
        responses={(200, JSON): GovernanceSecretConsumersSerializer, (200, "text/csv"): CSV, **errors(400, 403, 404)},
        description="Who one secret's value was delivered to (people and machine identities: first and last "
        "delivery, count, last IP, user agent and pipeline run), with the secret's risk facts and flags "
        '(`governance.read`). "Delivered" means the value was in a response, not that it was used.',
    )
    def get(self, request: Request, project: str, secret: str) -> Response | StreamingHttpResponse:
        self.query(GovernanceConsumersQuery, request)
        scope = project_dashboard_scope(self.principal, project)
        found = secret_consumers(scope, _secret_id(secret))
        if wants_csv(request):
            stamp = datetime.date.today().strftime("%Y%m%d")
            return csv_download(
                consumer_rows_csv(found.deliveries), f"secret-{found.secret.pk}-delivered-to-{stamp}.csv"
            )
        return Response(GovernanceSecretConsumersSerializer(found).data)


def _secret_id(raw: str) -> int:
    from secrets_app.errors import NotFound

    if not raw.isdigit() or len(raw) > 18:
        raise NotFound("Secret not found")
    return int(raw)
