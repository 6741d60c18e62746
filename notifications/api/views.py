"""Notification channels and deliveries (organization admins only). Thin: parse, call, serialize."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from notifications.api.serializers import (
    ChannelCreateRequest,
    ChannelListSerializer,
    ChannelSerializer,
    ChannelTestSerializer,
    ChannelUpdateRequest,
    DeliveryListQuery,
    DeliveryListSerializer,
    EmptyRequest,
)
from notifications.channels.registry import CHANNELS
from notifications.selectors import (
    administered_organizations,
    channel_get_for,
    channel_list,
    delivery_list,
    organization_for_notifications,
)
from notifications.services import channel_create, channel_delete, channel_test, channel_update
from secrets_app.api.authentication import IsPerson
from secrets_app.api.base import ApiView
from secrets_app.api.schema import errors
from secrets_app.models import Organization
from secrets_app.plugins import kinds_described, plugins_description

TAGS = ["notifications"]
CHANNEL_ID = OpenApiParameter("channel", OpenApiTypes.UUID, OpenApiParameter.PATH)


class _AdminApi(ApiView):
    permission_classes = [IsAuthenticated, IsPerson]

    def organizations(self) -> list[Organization]:
        organizations = list(administered_organizations(self.principal))
        if not organizations:
            organization_for_notifications(self.principal, None)  # raises the audited 403
        return organizations


class ChannelListApi(_AdminApi):
    @extend_schema(
        operation_id="notification_channels_list",
        tags=TAGS,
        responses={200: ChannelListSerializer, **errors(403)},
        description="Channels of every organization you administer.",
    )
    def get(self, request: Request) -> Response:
        return Response(ChannelListSerializer({"channels": channel_list(self.organizations())}).data)

    @extend_schema(
        operation_id="notification_channels_create",
        tags=TAGS,
        request=ChannelCreateRequest,
        responses={201: ChannelSerializer, **errors(400, 403, 404, 409)},
        description=kinds_described(
            "Save a channel and send a test message at once (`lastTestStatus`). `credentials` are "
            "encrypted and never returned. Routes: `project` (null = every project), `events` (prefix "
            "matching: `approvals.*`), `digest`.\n\nKinds and their fields:\n\n",
            lambda: plugins_description(CHANNELS),
        ),
    )
    def post(self, request: Request) -> Response:
        data = self.parse(ChannelCreateRequest, request.data)
        organization = organization_for_notifications(self.principal, data.get("organization") or None)
        channel = channel_create(
            principal=self.principal,
            organization=organization,
            kind=data["kind"],
            name=data["name"],
            enabled=data["enabled"],
            config=data["config"],
            credentials=data["credentials"],
            routes=[dict(route) for route in data["routes"]],
        )
        return Response(ChannelSerializer(channel_get_for(self.principal, str(channel.public_id))).data, status=201)


class ChannelDetailApi(_AdminApi):
    @extend_schema(
        operation_id="notification_channels_retrieve",
        tags=TAGS,
        parameters=[CHANNEL_ID],
        responses={200: ChannelSerializer, **errors(404)},
    )
    def get(self, request: Request, channel: str) -> Response:
        return Response(ChannelSerializer(channel_get_for(self.principal, channel)).data)

    @extend_schema(
        operation_id="notification_channels_update",
        tags=TAGS,
        parameters=[CHANNEL_ID],
        request=ChannelUpdateRequest,
        responses={200: ChannelSerializer, **errors(400, 403, 404, 409)},
        description="Rename, enable/disable, change settings (tested at once), replace secret fields (a "
        "field left out keeps its stored value) or replace the routes as a whole.",
    )
    def patch(self, request: Request, channel: str) -> Response:
        data = self.parse(ChannelUpdateRequest, request.data)
        found = channel_get_for(self.principal, channel)
        channel_update(
            principal=self.principal,
            channel=found,
            name=data.get("name"),
            enabled=data.get("enabled"),
            config=data.get("config"),
            credentials=data.get("credentials"),
            routes=[dict(route) for route in data["routes"]] if "routes" in data else None,
        )
        return Response(ChannelSerializer(channel_get_for(self.principal, channel)).data)

    @extend_schema(
        operation_id="notification_channels_delete",
        tags=TAGS,
        parameters=[CHANNEL_ID],
        responses={204: None, **errors(403, 404)},
    )
    def delete(self, request: Request, channel: str) -> Response:
        channel_delete(principal=self.principal, channel=channel_get_for(self.principal, channel))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChannelTestApi(_AdminApi):
    @extend_schema(
        operation_id="notification_channels_test",
        tags=TAGS,
        parameters=[CHANNEL_ID],
        request={"application/json": OpenApiTypes.OBJECT},
        responses={200: ChannelTestSerializer, **errors(404)},
        description="Send a test message with the stored settings; `ok` false carries a safe reason.",
    )
    def post(self, request: Request, channel: str) -> Response:
        self.parse(EmptyRequest, request.data or {})
        ok, message = channel_test(principal=self.principal, channel=channel_get_for(self.principal, channel))
        return Response({"ok": ok, "message": message})


class DeliveryListApi(_AdminApi):
    @extend_schema(
        operation_id="notification_deliveries_list",
        tags=TAGS,
        parameters=[DeliveryListQuery],
        responses={200: DeliveryListSerializer, **errors(403, 404)},
        description="Recent deliveries (newest first) of the organizations you administer; "
        "`status=failed` lists the ones that failed for good.",
    )
    def get(self, request: Request) -> Response:
        query = self.query(DeliveryListQuery, request)
        organizations = self.organizations()
        if query.get("organization"):
            organizations = [organization_for_notifications(self.principal, query["organization"])]
        deliveries = delivery_list(organizations, status=query.get("status"), limit=query["limit"])
        return Response(DeliveryListSerializer({"deliveries": deliveries}).data)
