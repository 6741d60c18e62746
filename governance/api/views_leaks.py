"""Leak flags over the API. Thin: parse, call a service or selector, serialize."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from governance.api.serializers_quarantine import (
    LeakClearRequest,
    LeakFlagListQuery,
    LeakFlagListSerializer,
    LeakFlagRequest,
    LeakFlagSerializer,
)
from governance.selectors.leaks import leak_flag_list
from governance.services.leaks import secret_leak_clear, secret_leak_flag
from secrets_app.api.base import ApiView
from secrets_app.api.schema import PROJECT, errors

TAGS = ["governance"]
FLAG = OpenApiParameter("flag", OpenApiTypes.INT, OpenApiParameter.PATH, description="Leak flag id")


class LeakFlagListApi(ApiView):
    @extend_schema(
        operation_id="governance_leak_flags_list",
        tags=TAGS,
        parameters=[PROJECT, LeakFlagListQuery],
        responses={200: LeakFlagListSerializer, **errors(400, 403, 404)},
        description="The project's active leak flags (`all=true`: every flag) (`governance.read`). A flag is "
        "active until cleared or until the secret's value changes.",
    )
    def get(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        include_ended = self.query(LeakFlagListQuery, request)["all"]
        flags = leak_flag_list(scope, include_ended=include_ended)
        return Response(LeakFlagListSerializer({"flags": flags}).data)

    @extend_schema(
        operation_id="governance_leak_flags_create",
        tags=TAGS,
        parameters=[PROJECT],
        request=LeakFlagRequest,
        responses={201: LeakFlagSerializer, **errors(400, 403, 404, 409)},
        description="Flag a secret as leaked, with a reason (`governance.manage`); the owner is told. "
        "The pipeline gate fails while the flag is active.",
    )
    def post(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        data = self.parse(LeakFlagRequest, request.data)
        flag = secret_leak_flag(scope=scope, secret_id=data["secret"], reason=data["reason"])
        flag.active = True  # type: ignore[attr-defined]
        return Response(LeakFlagSerializer(flag).data, status=status.HTTP_201_CREATED)


class LeakFlagClearApi(ApiView):
    @extend_schema(
        operation_id="governance_leak_flag_clear",
        tags=TAGS,
        parameters=[PROJECT, FLAG],
        request=LeakClearRequest,
        responses={200: LeakFlagSerializer, **errors(400, 403, 404, 409)},
        description="Clear an active leak flag (`governance.manage`), with an optional reason.",
    )
    def post(self, request: Request, project: str, flag: int) -> Response:
        scope = self.scope(project)
        data = self.parse(LeakClearRequest, request.data or {})
        cleared = secret_leak_clear(scope=scope, flag_id=flag, reason=data.get("reason", ""))
        cleared.active = False  # type: ignore[attr-defined]
        return Response(LeakFlagSerializer(cleared).data)
