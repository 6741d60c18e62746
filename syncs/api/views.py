"""Connections (organization level) and syncs (project level). Thin: parse, call, serialize."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from secrets_app.api.authentication import IsPerson
from secrets_app.api.base import ApiView
from secrets_app.api.schema import PROJECT, errors
from secrets_app.plugins import kinds_described
from syncs.access import (
    connection_get_for,
    connection_list_for,
    connection_usable_in,
    organization_for_connections,
    require_syncs,
    sync_get,
)
from syncs.api.serializers import (
    ConnectionCreateRequest,
    ConnectionListSerializer,
    ConnectionSerializer,
    ConnectionTestSerializer,
    ConnectionUpdateRequest,
    DriftAdoptRequest,
    DriftSerializer,
    EmptyRequest,
    SyncCreateRequest,
    SyncDeletedSerializer,
    SyncDeleteQuery,
    SyncListSerializer,
    SyncRunListSerializer,
    SyncSerializer,
    SyncTriggerRequest,
    SyncTriggerSerializer,
    SyncUpdateRequest,
)
from syncs.providers.registry import providers_description
from syncs.selectors import drift_note, sync_list, sync_runs
from syncs.services.connections import connection_create, connection_delete, connection_test, connection_update
from syncs.services.drift import sync_drift_adopt, sync_drift_check
from syncs.services.syncs import sync_create, sync_delete, sync_trigger, sync_update

CONNECTION_TAGS = ["connections"]
SYNC_TAGS = ["syncs"]
CONNECTION_ID = OpenApiParameter("connection", OpenApiTypes.UUID, OpenApiParameter.PATH)
SYNC_ID = OpenApiParameter("sync", OpenApiTypes.UUID, OpenApiParameter.PATH)


class _PersonApi(ApiView):
    # Syncs act for their owner, a person: machine identities manage neither syncs nor connections.
    permission_classes = [IsAuthenticated, IsPerson]


# --- connections ------------------------------------------------------------------------------
class ConnectionListApi(_PersonApi):
    @extend_schema(
        operation_id="connections_list", tags=CONNECTION_TAGS, responses={200: ConnectionListSerializer, **errors()}
    )
    def get(self, request: Request) -> Response:
        return Response(ConnectionListSerializer({"connections": connection_list_for(self.principal)}).data)

    @extend_schema(
        operation_id="connections_create",
        tags=CONNECTION_TAGS,
        request=ConnectionCreateRequest,
        responses={201: ConnectionSerializer, **errors(400, 403, 404, 409)},
        description=kinds_described(
            "Save credentials for an outside system and test them at once (`lastTestStatus`). "
            "`credentials` are encrypted and never returned.\n\nKinds, their connection methods and each "
            "method's fields:\n\n",
            providers_description,
        ),
    )
    def post(self, request: Request) -> Response:
        data = self.parse(ConnectionCreateRequest, request.data)
        organization = organization_for_connections(self.principal, data.get("organization") or None)
        connection = connection_create(
            principal=self.principal,
            organization=organization,
            kind=data["kind"],
            method=data["method"],
            name=data["name"],
            description=data["description"],
            credentials=data["credentials"],
            config=data["config"],
        )
        # Validate the credentials at once: the answer carries lastTestStatus / lastTestMessage.
        connection_test(principal=self.principal, connection=connection)
        return Response(ConnectionSerializer(connection).data, status=status.HTTP_201_CREATED)


class ConnectionDetailApi(_PersonApi):
    @extend_schema(
        operation_id="connections_retrieve",
        tags=CONNECTION_TAGS,
        parameters=[CONNECTION_ID],
        responses={200: ConnectionSerializer, **errors(404)},
    )
    def get(self, request: Request, connection: str) -> Response:
        return Response(ConnectionSerializer(connection_get_for(self.principal, connection)).data)

    @extend_schema(
        operation_id="connections_update",
        tags=CONNECTION_TAGS,
        parameters=[CONNECTION_ID],
        request=ConnectionUpdateRequest,
        responses={200: ConnectionSerializer, **errors(400, 403, 404, 409)},
        description="Rename, or replace the credentials (always given whole; the stored ones are never shown).",
    )
    def patch(self, request: Request, connection: str) -> Response:
        data = self.parse(ConnectionUpdateRequest, request.data)
        found = connection_get_for(self.principal, connection, for_change=True)
        updated = connection_update(
            principal=self.principal,
            connection=found,
            name=data.get("name"),
            description=data.get("description"),
            method=data.get("method"),
            credentials=data.get("credentials"),
            config=data.get("config"),
        )
        return Response(ConnectionSerializer(updated).data)

    @extend_schema(
        operation_id="connections_delete",
        tags=CONNECTION_TAGS,
        parameters=[CONNECTION_ID],
        responses={204: None, **errors(403, 404, 409)},
    )
    def delete(self, request: Request, connection: str) -> Response:
        connection_delete(
            principal=self.principal, connection=connection_get_for(self.principal, connection, for_change=True)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConnectionTestApi(_PersonApi):
    @extend_schema(
        operation_id="connections_test",
        tags=CONNECTION_TAGS,
        parameters=[CONNECTION_ID],
        request={"application/json": OpenApiTypes.OBJECT},
        responses={200: ConnectionTestSerializer, **errors(404)},
        description="Call the destination with the stored credentials; `ok` false carries a cleaned-up reason.",
    )
    def post(self, request: Request, connection: str) -> Response:
        self.parse(EmptyRequest, request.data or {})
        ok, message = connection_test(
            principal=self.principal, connection=connection_get_for(self.principal, connection)
        )
        return Response({"ok": ok, "message": message})


# --- syncs ------------------------------------------------------------------------------------
class SyncListApi(_PersonApi):
    @extend_schema(
        operation_id="syncs_list",
        tags=SYNC_TAGS,
        parameters=[PROJECT],
        responses={200: SyncListSerializer, **errors(403, 404)},
    )
    def get(self, request: Request, project: str) -> Response:
        return Response(SyncListSerializer({"syncs": sync_list(self.scope(project))}).data)

    @extend_schema(
        operation_id="syncs_create",
        tags=SYNC_TAGS,
        parameters=[PROJECT],
        request=SyncCreateRequest,
        responses={201: SyncSerializer, **errors(400, 403, 404, 409)},
        description="Create a sync (you become its owner: it reads with your access) and queue its first run.",
    )
    def post(self, request: Request, project: str) -> Response:
        data = self.parse(SyncCreateRequest, request.data)
        scope = self.scope(project)
        require_syncs(scope, "syncs.manage")
        sync = sync_create(
            scope=scope,
            name=data["name"],
            environment=data["environment"],
            path=data["path"],
            recursive=data["recursive"],
            connection=connection_usable_in(scope, str(data["connection"])),
            destination=data["destination"],
            auto_sync=data["autoSync"],
            initial_behavior=data["initialBehavior"],
            confirm_overwrite=data["confirmOverwrite"],
            key_name_template=data["keyNameTemplate"],
            delete_on_source_removal=data["deleteOnSourceRemoval"],
            provider_options=data["options"],
        )
        return Response(SyncSerializer(sync).data, status=status.HTTP_201_CREATED)


class SyncDetailApi(_PersonApi):
    @extend_schema(
        operation_id="syncs_retrieve",
        tags=SYNC_TAGS,
        parameters=[PROJECT, SYNC_ID],
        responses={200: SyncSerializer, **errors(403, 404)},
    )
    def get(self, request: Request, project: str, sync: str) -> Response:
        return Response(SyncSerializer(sync_get(self.scope(project), sync)).data)

    @extend_schema(
        operation_id="syncs_update",
        tags=SYNC_TAGS,
        parameters=[PROJECT, SYNC_ID],
        request=SyncUpdateRequest,
        responses={200: SyncSerializer, **errors(400, 403, 404, 409)},
        description="Change the name, source or options. The connection and destination cannot change.",
    )
    def patch(self, request: Request, project: str, sync: str) -> Response:
        data = self.parse(SyncUpdateRequest, request.data)
        scope = self.scope(project)
        found = sync_get(scope, sync)
        names = {
            "name": "name",
            "environment": "environment",
            "path": "path",
            "recursive": "recursive",
            "autoSync": "auto_sync",
            "initialBehavior": "initial_behavior",
            "confirmOverwrite": "confirm_overwrite",
            "keyNameTemplate": "key_name_template",
            "deleteOnSourceRemoval": "delete_on_source_removal",
        }
        changes: dict[str, Any] = {names[key]: value for key, value in data.items()}
        return Response(SyncSerializer(sync_update(scope=scope, sync=found, changes=changes)).data)

    @extend_schema(
        operation_id="syncs_delete",
        tags=SYNC_TAGS,
        parameters=[
            PROJECT,
            SYNC_ID,
            OpenApiParameter("removeManaged", OpenApiTypes.BOOL, OpenApiParameter.QUERY, required=False),
        ],
        responses={200: SyncDeletedSerializer, **errors(400, 403, 404, 409)},
        description="Remove the sync. `removeManaged=true` also deletes the keys it manages at the destination "
        "(never others; the group only if this sync created it and nothing else is in it). Default: leave them.",
    )
    def delete(self, request: Request, project: str, sync: str) -> Response:
        query = self.query(SyncDeleteQuery, request)
        scope = self.scope(project)
        result = sync_delete(scope=scope, sync=sync_get(scope, sync), remove_managed=query["removeManaged"])
        return Response(SyncDeletedSerializer(result).data)


class SyncTriggerApi(_PersonApi):
    @extend_schema(
        operation_id="syncs_trigger",
        tags=SYNC_TAGS,
        parameters=[PROJECT, SYNC_ID],
        request=SyncTriggerRequest,
        responses={202: SyncTriggerSerializer, **errors(400, 403, 404)},
        description="Sync now. With `overwrite`, every managed value is rewritten (the drift overwrite action).",
    )
    def post(self, request: Request, project: str, sync: str) -> Response:
        data = self.parse(SyncTriggerRequest, request.data or {})
        scope = self.scope(project)
        found = sync_get(scope, sync)
        queued = sync_trigger(scope=scope, sync=found, force=data["overwrite"])
        found.refresh_from_db()
        return Response({"queued": queued, "status": found.status}, status=status.HTTP_202_ACCEPTED)


class SyncRunListApi(_PersonApi):
    @extend_schema(
        operation_id="syncs_runs",
        tags=SYNC_TAGS,
        parameters=[PROJECT, SYNC_ID],
        responses={200: SyncRunListSerializer, **errors(403, 404)},
    )
    def get(self, request: Request, project: str, sync: str) -> Response:
        return Response(SyncRunListSerializer({"runs": sync_runs(sync_get(self.scope(project), sync))}).data)


class SyncDriftApi(_PersonApi):
    @extend_schema(
        operation_id="syncs_drift",
        tags=SYNC_TAGS,
        parameters=[PROJECT, SYNC_ID],
        responses={200: DriftSerializer, **errors(403, 404)},
        description="The differences found by the last drift check (runs on a schedule; POST checks now).",
    )
    def get(self, request: Request, project: str, sync: str) -> Response:
        found = sync_get(self.scope(project), sync)
        return Response(_drift_body(found))

    @extend_schema(
        operation_id="syncs_drift_check",
        tags=SYNC_TAGS,
        parameters=[PROJECT, SYNC_ID],
        request={"application/json": OpenApiTypes.OBJECT},
        responses={200: DriftSerializer, **errors(403, 404, 409)},
    )
    def post(self, request: Request, project: str, sync: str) -> Response:
        from secrets_app.errors import Conflict
        from syncs.providers.base import ProviderError
        from syncs.sanitize import safe_error

        self.parse(EmptyRequest, request.data or {})
        scope = self.scope(project)
        found = sync_get(scope, sync)
        require_syncs(scope, "syncs.manage", resource=str(found.public_id))
        try:
            sync_drift_check(sync_id=found.pk)
        except ProviderError as exc:
            raise Conflict(f"Could not read the destination: {safe_error(exc)}") from None
        found.refresh_from_db()
        return Response(_drift_body(found))


class SyncDriftAdoptApi(_PersonApi):
    @extend_schema(
        operation_id="syncs_drift_adopt",
        tags=SYNC_TAGS,
        parameters=[PROJECT, SYNC_ID],
        request=DriftAdoptRequest,
        responses={200: DriftSerializer, **errors(400, 403, 404, 409)},
        description="Write the destination's value into Strongroom as a new version (only where the destination "
        "reveals values: never for Azure DevOps secret variables — use overwrite).",
    )
    def post(self, request: Request, project: str, sync: str) -> Response:
        data = self.parse(DriftAdoptRequest, request.data)
        scope = self.scope(project)
        found = sync_get(scope, sync)
        sync_drift_adopt(scope=scope, sync=found, name=data["name"])
        found.refresh_from_db()
        return Response(_drift_body(found))


def _drift_body(sync: Any) -> dict[str, Any]:
    return DriftSerializer(
        {"checkedAt": sync.last_drift_check_at, "items": list(sync.drift_entries.all()), "note": drift_note(sync)}
    ).data
