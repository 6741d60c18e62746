"""The import API: guided import of Azure DevOps variable groups and pipelines into Strongroom.
Thin: decide access (``estate.access.estate_organization``: organization admins; members 403
audited, everyone else 404), parse, call a service or selector, serialize. No response ever holds
a value."""

from __future__ import annotations

from typing import IO, Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response

from estate.api.common import ADMINS, ORGANIZATION, RESOURCE, TAGS, EstateApiView
from estate.api.serializers_imports import (
    EstateImportConvertRequest,
    EstateImportConvertResponse,
    EstateImportCreateRequest,
    EstateImportDetailSerializer,
    EstateImportKeyVaultRequest,
    EstateImportListQuery,
    EstateImportListSerializer,
    EstateImportPreviewSerializer,
    EstateImportSuggestionSerializer,
    EstateImportValuesRequest,
)
from estate.models import EstateImport
from estate.selectors.imports import import_get, import_list, import_resource_get
from estate.services.imports import (
    import_apply,
    import_convert_to_sync,
    import_create,
    import_preview,
    import_suggest,
    import_values_csv,
    import_values_enter,
)
from secrets_app.api.parsers import BoundedJSONParser
from secrets_app.api.schema import errors

IMPORT = OpenApiParameter("import_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Import id")
MAX_CSV_BODY = 1_000_000


class CsvTextParser(BaseParser):
    """``text/csv`` bodies as text (the values endpoint): {"csv": text}."""

    media_type = "text/csv"

    def parse(self, stream: IO[Any], media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = stream.read(MAX_CSV_BODY + 1)
        if len(raw) > MAX_CSV_BODY:
            raise ParseError(f"the CSV body is larger than {MAX_CSV_BODY} bytes")
        try:
            return {"csv": raw.decode("utf-8")}
        except UnicodeDecodeError:
            raise ParseError("the CSV body is not valid UTF-8") from None


class _ImportApi(EstateApiView):
    def key_vault_source(self, request: Request) -> dict[str, str | None]:
        """The Key Vault connection and vault URL a preview or apply may read values through."""
        data = self.parse(EstateImportKeyVaultRequest, request.data or {})
        return {
            "key_vault_connection": data.get("keyVaultConnection") or None,
            "vault_url": data.get("vaultUrl") or None,
        }

    def estate_import(self, organization: str, import_id: Any) -> EstateImport:
        return import_get(self.organization(organization), str(import_id))


def _detail(estate_import: EstateImport) -> dict[str, Any]:
    return dict(EstateImportDetailSerializer(estate_import).data)


class ImportListApi(_ImportApi):
    @extend_schema(
        operation_id="estate_imports_list",
        tags=TAGS,
        parameters=[ORGANIZATION, EstateImportListQuery],
        responses={200: EstateImportListSerializer, **errors(400, 403, 404)},
        description="The organization's imports, newest first. " + ADMINS,
    )
    def get(self, request: Request, organization: str) -> Response:
        found = self.organization(organization)
        query = self.query(EstateImportListQuery, request)
        rows = import_list(found, resource=query.get("resource"))
        return Response(EstateImportListSerializer({"imports": rows}).data)

    @extend_schema(
        operation_id="estate_imports_create",
        tags=TAGS,
        parameters=[ORGANIZATION],
        request=EstateImportCreateRequest,
        responses={201: EstateImportDetailSerializer, 200: EstateImportDetailSerializer, **errors(400, 403, 404)},
        description="Map a variable group or pipeline onto a Strongroom place (nothing is written yet): one item "
        "per variable with its key and source (plain, key_vault, reentry). 201 for a new import, 200 with the "
        "existing one for the same resource and place (its items re-derived). Needs `secrets.create` at the "
        "place. Audited `estate.import_created`. " + ADMINS,
    )
    def post(self, request: Request, organization: str) -> Response:
        found = self.organization(organization)
        data = self.parse(EstateImportCreateRequest, request.data)
        resource = import_resource_get(found, data["resource"])
        before = EstateImport.objects.filter(resource=resource).count()
        estate_import = import_create(
            principal=self.principal,
            organization=found,
            resource=resource,
            project=data["project"],
            environment=data["environment"],
            path=data.get("path") or "/",
            keys=data.get("keys"),
            skip=data.get("skip"),
        )
        created = EstateImport.objects.filter(resource=resource).count() > before
        return Response(_detail(estate_import), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ImportDetailApi(_ImportApi):
    @extend_schema(
        operation_id="estate_imports_get",
        tags=TAGS,
        parameters=[ORGANIZATION, IMPORT],
        responses={200: EstateImportDetailSerializer, **errors(403, 404)},
        description="One import: its items (names, keys, sources, statuses, never a value) and `pipelineYaml`, "
        "the pipeline to use instead of the group (`cli`: machine identity; `oidc`: workload identity "
        "federation). " + ADMINS,
    )
    def get(self, request: Request, organization: str, import_id: Any) -> Response:
        return Response(_detail(self.estate_import(organization, import_id)))


class ImportSuggestionApi(_ImportApi):
    @extend_schema(
        operation_id="estate_import_suggestion",
        tags=TAGS,
        parameters=[ORGANIZATION, RESOURCE],
        responses={200: EstateImportSuggestionSerializer, **errors(400, 403, 404)},
        description="Where the resource could land: a project you can see (matched on names), an environment "
        "(prod/staging/dev/test words), a path, and a key per variable (unchanged when valid). " + ADMINS,
    )
    def get(self, request: Request, organization: str, resource: int) -> Response:
        found = self.organization(organization)
        suggestion = import_suggest(
            principal=self.principal, organization=found, resource=import_resource_get(found, resource)
        )
        return Response(EstateImportSuggestionSerializer(suggestion).data)


class ImportPreviewApi(_ImportApi):
    @extend_schema(
        operation_id="estate_imports_preview",
        tags=TAGS,
        parameters=[ORGANIZATION, IMPORT],
        request=EstateImportKeyVaultRequest,
        responses={200: EstateImportPreviewSerializer, **errors(400, 403, 404, 409, 502)},
        description="Read the resource fresh from Azure DevOps and say per variable what applying would do "
        "(create, update, unchanged, needs_value, skipped); for a Key Vault-linked group with a connection, "
        "whether the vault can be read. Writes nothing; returns no value. 502 when Azure DevOps cannot be "
        "read, 409 when the resource is gone. " + ADMINS,
    )
    def post(self, request: Request, organization: str, import_id: Any) -> Response:
        estate_import = self.estate_import(organization, import_id)
        preview = import_preview(
            principal=self.principal, estate_import=estate_import, **self.key_vault_source(request)
        )
        return Response(EstateImportPreviewSerializer(preview).data)


class ImportApplyApi(_ImportApi):
    @extend_schema(
        operation_id="estate_imports_apply",
        tags=TAGS,
        parameters=[ORGANIZATION, IMPORT],
        request=EstateImportKeyVaultRequest,
        responses={200: EstateImportDetailSerializer, **errors(400, 403, 404, 409, 502)},
        description="Read the resource fresh and write every value that can be had (plain values; a Key Vault "
        "group's through `keyVaultConnection`) with one bulk upsert, all or nothing. Secret variables become "
        "`needs_value`. Status `complete`, `needs_values`, or `held` (with `changeRequestId`) when an approval "
        "policy holds the write. Applying again creates no new versions for unchanged values. Audited "
        "`estate.import_applied`. " + ADMINS,
    )
    def post(self, request: Request, organization: str, import_id: Any) -> Response:
        estate_import = self.estate_import(organization, import_id)
        applied = import_apply(principal=self.principal, estate_import=estate_import, **self.key_vault_source(request))
        return Response(_detail(applied))


class ImportValuesApi(_ImportApi):
    parser_classes = [BoundedJSONParser, CsvTextParser]

    @extend_schema(
        operation_id="estate_imports_values",
        tags=TAGS,
        parameters=[ORGANIZATION, IMPORT],
        request={"application/json": EstateImportValuesRequest, "text/csv": OpenApiTypes.STR},
        responses={200: EstateImportDetailSerializer, **errors(400, 403, 404)},
        description='Enter the values Azure DevOps does not return: JSON `{"values": {name: value}}` (names '
        'are Azure DevOps names or keys), JSON `{"csv": text}`, or a `text/csv` body with the header '
        "`name,value`. All or nothing; an unknown name, an empty value or a bad CSV line is a 400 naming it "
        "(never the value). Audited `estate.import_values_entered` (names only). " + ADMINS,
    )
    def post(self, request: Request, organization: str, import_id: Any) -> Response:
        estate_import = self.estate_import(organization, import_id)
        data = self.parse(EstateImportValuesRequest, request.data)
        if "csv" in data:
            updated = import_values_csv(principal=self.principal, estate_import=estate_import, csv_text=data["csv"])
        else:
            updated = import_values_enter(principal=self.principal, estate_import=estate_import, values=data["values"])
        return Response(_detail(updated))


class ImportConvertApi(_ImportApi):
    @extend_schema(
        operation_id="estate_imports_convert_to_sync",
        tags=TAGS,
        parameters=[ORGANIZATION, IMPORT],
        request=EstateImportConvertRequest,
        responses={201: EstateImportConvertResponse, 200: EstateImportConvertResponse, **errors(400, 403, 404, 409)},
        description="Make the variable group the target of a Strongroom sync from the import's place "
        "(overwrite_destination): the variables named like the folder's secrets are taken over, nothing else "
        "in the group is touched. Needs `confirm: true` (a 400 explains what happens otherwise), "
        "`syncs.manage` and `secrets.read_value`. 201 with the new sync; 200 with the existing one. Audited "
        "`estate.import_converted_to_sync`. " + ADMINS,
    )
    def post(self, request: Request, organization: str, import_id: Any) -> Response:
        estate_import = self.estate_import(organization, import_id)
        data = self.parse(EstateImportConvertRequest, request.data or {})
        existed = estate_import.sync_id is not None
        sync = import_convert_to_sync(
            principal=self.principal,
            estate_import=estate_import,
            sync_name=data.get("name") or None,
            confirm=bool(data.get("confirm")),
        )
        estate_import.refresh_from_db()
        body = EstateImportConvertResponse({"sync": sync, "estate_import": estate_import}).data
        return Response(body, status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED)
