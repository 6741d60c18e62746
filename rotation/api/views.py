"""Rotations over REST, per project. Thin: parse, call one service or selector, serialize. Who may
do what is decided by the services (``rotations.manage`` to define, change, pause and delete;
``rotations.rotate`` or ``rotations.manage`` to rotate now) and selectors (``secrets.read`` to see)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from rotation.api.serializers import (
    EmptyRequest,
    RotationAttemptListSerializer,
    RotationCreateRequest,
    RotationListQuery,
    RotationListSerializer,
    RotationQueuedSerializer,
    RotationSerializer,
    RotationUpdateRequest,
)
from rotation.kinds.registry import kinds_description
from rotation.models import Rotation
from rotation.selectors import rotation_attempts, rotation_by_id, rotation_list
from rotation.services.rotations import (
    RotationChange,
    RotationInput,
    rotation_create,
    rotation_delete,
    rotation_request_now,
    rotation_set_paused,
    rotation_update,
)
from secrets_app.api.base import ApiView
from secrets_app.api.schema import PROJECT, errors
from secrets_app.plugins import kinds_described

TAGS = ["rotations"]
JSON = "application/json"
ROTATION = OpenApiParameter("rotation", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Rotation id")


class _ProjectApi(ApiView):
    permission_classes = [IsAuthenticated]


def _at(data: dict[str, Any]) -> tuple[int | None, int | None]:
    at = data.get("rotateAtUtc")
    return (at["hours"], at["minutes"]) if at else (None, None)


class RotationListApi(_ProjectApi):
    @extend_schema(
        operation_id="rotations_list",
        tags=TAGS,
        parameters=[PROJECT, RotationListQuery],
        responses={(200, JSON): RotationListSerializer, **errors(403, 404)},
        description="The project's rotations the caller may see (`secrets.read` at their folder). Root credentials "
        "are never shown.",
    )
    def get(self, request: Request, project: str) -> Response:
        query = self.query(RotationListQuery, request)
        rotations = rotation_list(self.scope(project), environment=query.get("environment"), path=query.get("path"))
        return Response(RotationListSerializer({"rotations": rotations}).data)

    @extend_schema(
        operation_id="rotations_create",
        tags=TAGS,
        parameters=[PROJECT],
        request=RotationCreateRequest,
        responses={(201, JSON): RotationSerializer, **errors(400, 403, 404, 409)},
        description=kinds_described(
            "Define a rotation (`rotations.manage`). The target must be on the organization's target "
            "allowlist; the root credentials are tested live, encrypted and never returned. The mapped secrets must "
            "not exist yet: the rotation owns them. Nothing on the target changes until the first run.\n\nKinds "
            "and their fields:\n\n",
            kinds_description,
        ),
    )
    def post(self, request: Request, project: str) -> Response:
        data = self.parse(RotationCreateRequest, request.data)
        hour, minute = _at(data)
        rotation = rotation_create(
            scope=self.scope(project),
            environment=data["environment"],
            path=data["path"],
            data=RotationInput(
                name=data["name"],
                kind=data["kind"],
                config=data["config"],
                credentials=data["credentials"],
                usernames=data["usernames"],
                secrets_mapping=data["secretsMapping"],
                mode=data["mode"],
                interval_days=data.get("intervalDays"),
                rotate_at_hour=hour or 0,
                rotate_at_minute=minute or 0,
                cron=data.get("cron") or "",
                description=data.get("description") or "",
            ),
        )
        return Response(RotationSerializer(rotation).data, status=status.HTTP_201_CREATED)


class RotationDetailApi(_ProjectApi):
    @extend_schema(
        operation_id="rotations_retrieve",
        tags=TAGS,
        parameters=[PROJECT, ROTATION],
        responses={(200, JSON): RotationSerializer, **errors(404)},
    )
    def get(self, request: Request, project: str, rotation: str) -> Response:
        return Response(RotationSerializer(rotation_by_id(self.scope(project), rotation)).data)

    @extend_schema(
        operation_id="rotations_update",
        tags=TAGS,
        parameters=[PROJECT, ROTATION],
        request=RotationUpdateRequest,
        responses={(200, JSON): RotationSerializer, **errors(400, 403, 404)},
        description="Change the description, schedule or root credentials, tested live (`rotations.manage`).",
    )
    def patch(self, request: Request, project: str, rotation: str) -> Response:
        data = self.parse(RotationUpdateRequest, request.data)
        scope = self.scope(project)
        hour, minute = _at(data)
        updated = rotation_update(
            scope=scope,
            rotation=rotation_by_id(scope, rotation),
            change=RotationChange(
                description=data.get("description"),
                interval_days=data.get("intervalDays"),
                rotate_at_hour=hour,
                rotate_at_minute=minute,
                cron=data.get("cron"),
                credentials=data.get("credentials"),
            ),
        )
        return Response(RotationSerializer(updated).data)

    @extend_schema(
        operation_id="rotations_delete",
        tags=TAGS,
        parameters=[PROJECT, ROTATION],
        responses={(200, JSON): OpenApiTypes.OBJECT, **errors(403, 404, 409)},
        description="Delete the rotation (`rotations.manage`). The owned secrets stay (the credential they hold keeps "
        "working); 409 while a run holds it.",
    )
    def delete(self, request: Request, project: str, rotation: str) -> Response:
        scope = self.scope(project)
        rotation_delete(scope=scope, rotation=rotation_by_id(scope, rotation))
        return Response({"deleted": True})


class RotationRotateApi(_ProjectApi):
    @extend_schema(
        operation_id="rotations_rotate",
        tags=TAGS,
        parameters=[PROJECT, ROTATION],
        request=EmptyRequest,
        responses={(202, JSON): RotationQueuedSerializer, **errors(403, 404, 409)},
        description="Rotate now (`rotations.rotate`, implied by `rotations.manage`): queued, 202. 409 while a run "
        "holds the rotation.",
    )
    def post(self, request: Request, project: str, rotation: str) -> Response:
        self.parse(EmptyRequest, request.data or {})
        scope = self.scope(project)
        found = rotation_by_id(scope, rotation)
        rotation_request_now(scope=scope, rotation=found)
        return Response(
            RotationQueuedSerializer({"queued": True, "rotation": found}).data, status=status.HTTP_202_ACCEPTED
        )


class _PauseApi(_ProjectApi):
    paused = True

    def _set(self, project: str, rotation: str) -> Response:
        scope = self.scope(project)
        updated: Rotation = rotation_set_paused(
            scope=scope, rotation=rotation_by_id(scope, rotation), paused=self.paused
        )
        return Response(RotationSerializer(updated).data)


class RotationPauseApi(_PauseApi):
    @extend_schema(
        operation_id="rotations_pause",
        tags=TAGS,
        parameters=[PROJECT, ROTATION],
        request=EmptyRequest,
        responses={(200, JSON): RotationSerializer, **errors(403, 404)},
        description="No scheduled runs until resumed; rotate now still works (`rotations.manage`).",
    )
    def post(self, request: Request, project: str, rotation: str) -> Response:
        self.parse(EmptyRequest, request.data or {})
        return self._set(project, rotation)


class RotationResumeApi(_PauseApi):
    paused = False

    @extend_schema(
        operation_id="rotations_resume",
        tags=TAGS,
        parameters=[PROJECT, ROTATION],
        request=EmptyRequest,
        responses={(200, JSON): RotationSerializer, **errors(403, 404)},
        description="Scheduled runs again, from the next slot (`rotations.manage`).",
    )
    def post(self, request: Request, project: str, rotation: str) -> Response:
        self.parse(EmptyRequest, request.data or {})
        return self._set(project, rotation)


class RotationAttemptListApi(_ProjectApi):
    @extend_schema(
        operation_id="rotations_attempts_list",
        tags=TAGS,
        parameters=[PROJECT, ROTATION],
        responses={(200, JSON): RotationAttemptListSerializer, **errors(404)},
        description="The newest 100 runs: trigger, outcome, user, whether a pending password was rolled forward, "
        "and the sanitised error.",
    )
    def get(self, request: Request, project: str, rotation: str) -> Response:
        found = rotation_by_id(self.scope(project), rotation)
        return Response(RotationAttemptListSerializer({"attempts": rotation_attempts(found)}).data)
