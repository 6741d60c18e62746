"""Rotation policies: ``PUT``/``DELETE secrets/{key}/rotation-policy/`` and ``GET secrets-due/``."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from secrets_app.api.base import ApiView
from secrets_app.api.schema import KEY, PROJECT, errors
from secrets_app.api.serializers.rotation_policies import (
    RotationPolicyRequest,
    RotationPolicySerializer,
    SecretsDueSerializer,
)
from secrets_app.api.serializers.secrets import FolderLocationQuery
from secrets_app.selectors.rotation_policies import secrets_due
from secrets_app.services.rotation_policies import secret_rotation_policy_set

TAGS = ["secrets"]


class SecretRotationPolicyApi(ApiView):
    @extend_schema(
        operation_id="secrets_rotation_policy_set",
        tags=TAGS,
        parameters=[PROJECT, KEY, FolderLocationQuery],
        request=RotationPolicyRequest,
        responses={200: RotationPolicySerializer, **errors(400, 403, 404)},
        description=(
            "Rotate every `intervalDays` days, owned by the person `ownerId` (null clears either). "
            "Needs the right to edit the secret; writes no version."
        ),
    )
    def put(self, request: Request, project: str, key: str) -> Response:
        scope = self.scope(project)
        query = self.query(FolderLocationQuery, request)
        data = self.parse(RotationPolicyRequest, request.data)
        secret = secret_rotation_policy_set(
            scope=scope,
            environment=query["environment"],
            path=query["path"],
            key=key,
            interval_days=data["intervalDays"],
            owner_id=data["ownerId"],
        )
        return Response(RotationPolicySerializer(secret).data)

    @extend_schema(
        operation_id="secrets_rotation_policy_clear",
        tags=TAGS,
        parameters=[PROJECT, KEY, FolderLocationQuery],
        responses={204: None, **errors(400, 403, 404)},
    )
    def delete(self, request: Request, project: str, key: str) -> Response:
        scope = self.scope(project)
        query = self.query(FolderLocationQuery, request)
        secret_rotation_policy_set(
            scope=scope,
            environment=query["environment"],
            path=query["path"],
            key=key,
            interval_days=None,
            owner_id=None,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class SecretsDueApi(ApiView):
    @extend_schema(
        operation_id="secrets_due_list",
        tags=TAGS,
        parameters=[PROJECT],
        responses={200: SecretsDueSerializer, **errors(403, 404)},
        description="Overdue and due-soon secrets of the project whose names the caller may list.",
    )
    def get(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        return Response(SecretsDueSerializer({"secrets": secrets_due(scope)}).data)
