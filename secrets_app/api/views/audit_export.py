"""Audit exports (streamed JSON Lines, CSV or CEF) and the organization audit log for org admins."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from secrets_app.api.base import ApiView
from secrets_app.api.pagination import page_of, page_window, paginated_response
from secrets_app.api.schema import errors
from secrets_app.api.serializers.access import (
    AuditEventSerializer,
    AuditExportQuery,
    OrganizationAuditExportQuery,
    OrganizationAuditQuery,
)
from secrets_app.selectors.audit_export import (
    AuditExport,
    audit_export_for_principal,
    organization_audit_export,
    organization_audit_page,
)

AUDIT_FILTERS = ("action", "actor", "outcome", "environment", "resource", "since", "until")
ORGANIZATION = OpenApiParameter(
    "organization", OpenApiTypes.STR, OpenApiParameter.PATH, description="Organization slug"
)
EXPORT_RESPONSE = OpenApiResponse(
    response=OpenApiTypes.STR,
    description="The export, streamed: `application/x-ndjson` (jsonl), `text/csv` (csv) or `text/plain` (cef); "
    "one event per line (CSV: per record, after a header), oldest first. Format: docs/audit.md, Export.",
)


class _FormatIsAParameter(DefaultContentNegotiation):
    """``?format=`` selects the export format here, not a DRF renderer (errors are JSON as elsewhere)."""

    def select_renderer(self, request: Request, renderers: list[Any], format_suffix: str | None = None) -> Any:
        return (renderers[0], renderers[0].media_type)


def _streamed(export: AuditExport) -> StreamingHttpResponse:
    response = StreamingHttpResponse(export.lines, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["X-Audit-Row-Count"] = str(export.count)
    response["Cache-Control"] = "no-store"
    return response


def _filters(query: dict[str, Any]) -> dict[str, Any]:
    return {name: query[name] for name in AUDIT_FILTERS if name in query}


class AuditEventExportApi(ApiView):
    content_negotiation_class = _FormatIsAParameter

    @extend_schema(
        operation_id="audit_events_export",
        tags=["audit"],
        parameters=[AuditExportQuery],
        responses={
            (200, "application/x-ndjson"): EXPORT_RESPONSE,
            (200, "text/csv"): EXPORT_RESPONSE,
            (200, "text/plain"): EXPORT_RESPONSE,
            **errors(400, 403, 404),
        },
        description="The events `GET /audit-events/` lists (same access rule and filters), all of them, as a "
        "streamed download. Each event carries its row hash and, once sealed, its block. The export is "
        "recorded (`audit.exported`) and includes that record.",
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        query = self.query(AuditExportQuery, request)
        export = audit_export_for_principal(
            self.principal, project=query.get("project"), filters=_filters(query), export_format=query["format"]
        )
        return _streamed(export)


class OrganizationAuditEventListApi(ApiView):
    @extend_schema(
        operation_id="organization_audit_events_list",
        tags=["audit"],
        parameters=[ORGANIZATION, OrganizationAuditQuery],
        responses={200: page_of(AuditEventSerializer, "OrganizationAuditEventPage"), **errors(400, 403, 404)},
        description="The organization's own events (sign-ins, people, identities, connections, notification "
        "channels: no project), newest first; `scope=all` adds every event of its projects. Org admins only. "
        "Reading is recorded (`audit.log_read`).",
    )
    def get(self, request: Request, organization: str) -> Response:
        query = self.query(OrganizationAuditQuery, request)
        limit, offset = page_window(query)
        _, page = organization_audit_page(
            self.principal,
            organization,
            filters=_filters(query),
            scope_all=query.get("scope") == "all",
            limit=limit,
            offset=offset,
        )
        results = AuditEventSerializer(page.events, many=True, context={"projects": page.projects}).data
        return paginated_response(request, results=results, count=page.count, limit=limit, offset=offset)


class OrganizationAuditEventExportApi(ApiView):
    content_negotiation_class = _FormatIsAParameter

    @extend_schema(
        operation_id="organization_audit_events_export",
        tags=["audit"],
        parameters=[ORGANIZATION, OrganizationAuditExportQuery],
        responses={
            (200, "application/x-ndjson"): EXPORT_RESPONSE,
            (200, "text/csv"): EXPORT_RESPONSE,
            (200, "text/plain"): EXPORT_RESPONSE,
            **errors(400, 403, 404),
        },
        description="The events `GET /organizations/{organization}/audit-events/` lists, all of them, as a "
        "streamed download (see `audit_events_export`). Org admins only; recorded (`audit.exported`).",
    )
    def get(self, request: Request, organization: str) -> StreamingHttpResponse:
        query = self.query(OrganizationAuditExportQuery, request)
        export = organization_audit_export(
            self.principal,
            organization,
            filters=_filters(query),
            scope_all=query.get("scope") == "all",
            export_format=query["format"],
        )
        return _streamed(export)
