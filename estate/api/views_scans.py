"""The estate API: scans, the summary, the inventory and findings of an organization's Azure DevOps
estate. Thin: decide access (``estate.access.estate_organization``: organization admins; members
403 audited, everyone else 404), parse, call a service or selector, serialize. Lists page with
``limit``/``offset`` and answer CSV (every matching row, streamed) with ``?format=csv`` or
``Accept: text/csv``."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from estate.api.common import ADMINS, ORGANIZATION, RESOURCE, TAGS, EstateApiView
from estate.api.serializers_scans import (
    EstateFindingSerializer,
    EstateResourceDetailSerializer,
    EstateResourceSerializer,
    EstateScanSerializer,
    EstateSummarySerializer,
    FindingQuery,
    PageQuery,
    ResourceQuery,
    ScanCancelRequest,
    ScanStartRequest,
)
from estate.selectors.exports import export_stamp, finding_rows_csv, resource_rows_csv
from estate.selectors.inventory import (
    estate_summary,
    finding_list,
    resource_get,
    resource_list,
    scan_get,
    scan_list,
)
from estate.services.scans import scan_cancel, scan_request
from governance.api.views_dashboard import CSV, JSON, _CsvIsAParameter, csv_download, wants_csv
from secrets_app.api.pagination import page_of, page_window, paginated_response
from secrets_app.api.schema import errors

SCAN = OpenApiParameter("scan", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Scan id")


class _EstateApi(EstateApiView):
    content_negotiation_class = _CsvIsAParameter

    def page(self, request: Request, query: dict[str, Any], rows: Any, serializer: type) -> Response:
        limit, offset = page_window(query)
        found = list(rows[offset : offset + limit])
        return paginated_response(
            request, results=list(serializer(found, many=True).data), count=rows.count(), limit=limit, offset=offset
        )


class ScanListApi(_EstateApi):
    @extend_schema(
        operation_id="estate_scans_list",
        tags=TAGS,
        parameters=[ORGANIZATION, PageQuery],
        responses={200: page_of(EstateScanSerializer, "EstateScanPage"), **errors(400, 403, 404)},
        description="The organization's estate scans, newest first. " + ADMINS,
    )
    def get(self, request: Request, organization: str) -> Response:
        found = self.organization(organization)
        query = self.query(PageQuery, request)
        return self.page(request, query, scan_list(found), EstateScanSerializer)

    @extend_schema(
        operation_id="estate_scans_start",
        tags=TAGS,
        parameters=[ORGANIZATION],
        request=ScanStartRequest,
        responses={202: EstateScanSerializer, **errors(400, 403, 404, 409)},
        description="Scan the Azure DevOps organization behind a connection (read only: projects, variable "
        "groups, pipelines, service connections, secure files; names and flags, never a value). Answers 202 "
        "with the queued scan; follow it with GET scans/{scan}/. 409 while a scan of the same Azure DevOps "
        "organization is queued or running (the message names it). Audited `estate.scan_requested`. " + ADMINS,
    )
    def post(self, request: Request, organization: str) -> Response:
        found = self.organization(organization)
        data = self.parse(ScanStartRequest, request.data)
        scan = scan_request(
            principal=self.principal, organization=found, connection_ref=data["connection"], trigger=data["trigger"]
        )
        return Response(EstateScanSerializer(scan).data, status=status.HTTP_202_ACCEPTED)


class ScanDetailApi(_EstateApi):
    @extend_schema(
        operation_id="estate_scans_get",
        tags=TAGS,
        parameters=[ORGANIZATION, SCAN],
        responses={200: EstateScanSerializer, **errors(403, 404)},
        description="One scan: status, progress (projects done of total), counts, the diff against the "
        "previous complete scan, its error and timestamps. " + ADMINS,
    )
    def get(self, request: Request, organization: str, scan: Any) -> Response:
        found = self.organization(organization)
        return Response(EstateScanSerializer(scan_get(found, str(scan))).data)


class ScanCancelApi(_EstateApi):
    @extend_schema(
        operation_id="estate_scans_cancel",
        tags=TAGS,
        parameters=[ORGANIZATION, SCAN],
        request=ScanCancelRequest,
        responses={200: EstateScanSerializer, **errors(403, 404, 409)},
        description="Stop a queued or running scan (what it recorded stays; the next scan starts afresh). "
        "409 once it has ended. Audited `estate.scan_cancelled`. " + ADMINS,
    )
    def post(self, request: Request, organization: str, scan: Any) -> Response:
        found = self.organization(organization)
        self.parse(ScanCancelRequest, request.data or {})
        cancelled = scan_cancel(principal=self.principal, organization=found, scan=scan_get(found, str(scan)))
        return Response(EstateScanSerializer(cancelled).data)


class EstateSummaryApi(_EstateApi):
    @extend_schema(
        operation_id="estate_summary",
        tags=TAGS,
        parameters=[ORGANIZATION],
        responses={200: EstateSummarySerializer, **errors(403, 404)},
        description="The estate at a glance: the latest scan, live resources by kind, open findings by kind "
        "and by severity. " + ADMINS,
    )
    def get(self, request: Request, organization: str) -> Response:
        found = self.organization(organization)
        return Response(EstateSummarySerializer(estate_summary(found)).data)


class ResourceListApi(_EstateApi):
    @extend_schema(
        operation_id="estate_resources_list",
        tags=TAGS,
        parameters=[ORGANIZATION, ResourceQuery],
        responses={
            (200, JSON): page_of(EstateResourceSerializer, "EstateResourcePage"),
            (200, "text/csv"): CSV,
            **errors(400, 403, 404),
        },
        description="The inventory: projects, variable groups, pipelines, service connections and secure "
        "files found by the scans (names and flags, never a value), filtered and paged; `?format=csv` or "
        "`Accept: text/csv` downloads every matching row. " + ADMINS,
    )
    def get(self, request: Request, organization: str) -> Response | StreamingHttpResponse:
        found = self.organization(organization)
        query = self.query(ResourceQuery, request)
        rows = resource_list(
            found,
            kind=query.get("kind"),
            project=query.get("project"),
            finding=query.get("finding"),
            q=query.get("q"),
            include_removed=query["includeRemoved"],
        ).select_related("connection")
        if wants_csv(request):
            return csv_download(resource_rows_csv(rows), f"{found.slug}-estate-resources-{export_stamp()}.csv")
        return self.page(request, query, rows, EstateResourceSerializer)


class ResourceDetailApi(_EstateApi):
    @extend_schema(
        operation_id="estate_resources_get",
        tags=TAGS,
        parameters=[ORGANIZATION, RESOURCE],
        responses={200: EstateResourceDetailSerializer, **errors(403, 404)},
        description="One resource with its details (names and flags by kind) and its open findings. " + ADMINS,
    )
    def get(self, request: Request, organization: str, resource: int) -> Response:
        found = self.organization(organization)
        item = resource_get(found, resource)  # its connection: one more query, for one row
        item.findings_open = list(finding_list(found, resource=item).select_related("connection"))  # type: ignore[attr-defined]
        return Response(EstateResourceDetailSerializer(item).data)


class FindingListApi(_EstateApi):
    @extend_schema(
        operation_id="estate_findings_list",
        tags=TAGS,
        parameters=[ORGANIZATION, FindingQuery],
        responses={
            (200, JSON): page_of(EstateFindingSerializer, "EstateFindingPage"),
            (200, "text/csv"): CSV,
            **errors(400, 403, 404),
        },
        description="What the scans found wrong (open findings; `includeResolved=true` adds the ones a later "
        "scan no longer found), most severe first; `?format=csv` or `Accept: text/csv` downloads every "
        "matching row. " + ADMINS,
    )
    def get(self, request: Request, organization: str) -> Response | StreamingHttpResponse:
        found = self.organization(organization)
        query = self.query(FindingQuery, request)
        rows = finding_list(
            found,
            kind=query.get("kind"),
            severity=query.get("severity"),
            include_resolved=query["includeResolved"],
            resource=resource_get(found, query["resource"]) if query.get("resource") else None,
        ).select_related("connection")
        if wants_csv(request):
            return csv_download(finding_rows_csv(rows), f"{found.slug}-estate-findings-{export_stamp()}.csv")
        return self.page(request, query, rows, EstateFindingSerializer)
