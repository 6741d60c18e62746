"""The audit streams API (organization admins only). Thin: parse, call one service or selector,
serialize. Access is decided by ``audit.streams.selectors`` (and checked again by every service)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from audit.streams.api.serializers import (
    EmptyRequest,
    KindListSerializer,
    ParkedEventListSerializer,
    StreamCreateRequest,
    StreamListSerializer,
    StreamReplayRequest,
    StreamSerializer,
    StreamTestSerializer,
    StreamUpdateRequest,
)
from audit.streams.models import AuditStream
from audit.streams.registry import STREAM_KINDS
from audit.streams.selectors import parked_events, stream_get_for, stream_list, streams_admin_require
from audit.streams.services import (
    stream_create,
    stream_delete,
    stream_pause,
    stream_replay,
    stream_resume,
    stream_test,
    stream_update,
)
from secrets_app.api.base import ApiView
from secrets_app.api.schema import errors
from secrets_app.models import Organization
from secrets_app.plugins import kinds_described, plugins_description
from secrets_app.services.people import organization_get_for_principal

TAGS = ["audit streams"]
ORGANIZATION = OpenApiParameter(
    "organization", OpenApiTypes.STR, OpenApiParameter.PATH, description="Organization slug"
)
STREAM = OpenApiParameter("stream", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Stream id")
JSON = "application/json"


def kind_list() -> list[dict[str, Any]]:
    """Every stream kind this server can load, with its declared fields (from the plugin)."""
    kinds = []
    for name, _ in STREAM_KINDS.kinds():
        plugin = STREAM_KINDS.get(name)
        destination = set(plugin.url_fields)
        kinds.append(
            {
                "kind": plugin.kind,
                "label": plugin.label,
                "description": plugin.description,
                "fields": [
                    {
                        "name": field.name,
                        "group": field.group,
                        "label": field.label,
                        "secret": field.secret,
                        "required": field.required,
                        "input": "password" if field.secret else field.input,
                        "choices": [choice for choice, _ in field.choices],
                        "help": field.help,
                        "placeholder": field.placeholder,
                        "destination": field.name in destination,
                    }
                    for field in plugin.fields
                ],
            }
        )
    return kinds


class _OrganizationApi(ApiView):
    """Organization admins (people or a platform superuser). Members get 403 (audited), outsiders 404."""

    permission_classes = [IsAuthenticated]

    def organization(self, slug: str) -> Organization:
        return organization_get_for_principal(self.principal, slug)

    def stream(self, organization: str, stream: str) -> AuditStream:
        return stream_get_for(self.principal, self.organization(organization), stream)

    def body(self, stream: AuditStream, *, code: int = 200) -> Response:
        stream.refresh_from_db()
        return Response(StreamSerializer(stream).data, status=code)


class StreamListApi(_OrganizationApi):
    @extend_schema(
        operation_id="audit_streams_list",
        tags=TAGS,
        parameters=[ORGANIZATION],
        responses={(200, JSON): StreamListSerializer, **errors(403, 404)},
        description="The organization's audit streams with their status (lag, last success, last error, counts).",
    )
    def get(self, request: Request, organization: str) -> Response:
        found = self.organization(organization)
        streams_admin_require(self.principal, found)
        return Response(StreamListSerializer({"streams": stream_list(found)}).data)

    @extend_schema(
        operation_id="audit_streams_create",
        tags=TAGS,
        parameters=[ORGANIZATION],
        request=StreamCreateRequest,
        responses={(201, JSON): StreamSerializer, **errors(400, 403, 404, 409)},
        description=kinds_described(
            "Add a stream. A test event is sent first (`test`, default true) and a refusal answers 400 "
            "`stream_test_failed` with the reason, saving nothing. Destinations must be public addresses (outbound "
            "guard). `start`: `end` (default) delivers events from now on, `beginning` every event the log holds. "
            "`credentials` are encrypted and never returned.\n\nKinds and their fields:\n\n",
            lambda: plugins_description(STREAM_KINDS),
        ),
    )
    def post(self, request: Request, organization: str) -> Response:
        found = self.organization(organization)
        streams_admin_require(self.principal, found)
        data = self.parse(StreamCreateRequest, request.data)
        created = stream_create(
            principal=self.principal,
            organization=found,
            kind=data["kind"],
            name=data["name"],
            config=data["config"],
            credentials=data["credentials"],
            lag_alert_seconds=data["lagAlertSeconds"],
            start=data["start"],
            test=data["test"],
        )
        return self.body(created, code=status.HTTP_201_CREATED)


class StreamDetailApi(_OrganizationApi):
    @extend_schema(
        operation_id="audit_streams_retrieve",
        tags=TAGS,
        parameters=[ORGANIZATION, STREAM],
        responses={(200, JSON): StreamSerializer, **errors(403, 404)},
    )
    def get(self, request: Request, organization: str, stream: str) -> Response:
        return Response(StreamSerializer(self.stream(organization, stream)).data)

    @extend_schema(
        operation_id="audit_streams_update",
        tags=TAGS,
        parameters=[ORGANIZATION, STREAM],
        request=StreamUpdateRequest,
        responses={(200, JSON): StreamSerializer, **errors(400, 403, 404, 409)},
        description="Rename, replace the settings (`config` as a whole), replace secret fields (one left out or "
        "empty keeps its stored value) or the lag alert threshold. New settings are tested first (`test`); the "
        "stream keeps its position.",
    )
    def patch(self, request: Request, organization: str, stream: str) -> Response:
        found = self.stream(organization, stream)
        data = self.parse(StreamUpdateRequest, request.data)
        stream_update(
            principal=self.principal,
            stream=found,
            name=data.get("name"),
            config=data.get("config"),
            credentials=data.get("credentials"),
            lag_alert_seconds=data.get("lagAlertSeconds"),
            test=data["test"],
        )
        return self.body(found)

    @extend_schema(
        operation_id="audit_streams_delete",
        tags=TAGS,
        parameters=[ORGANIZATION, STREAM],
        responses={204: None, **errors(403, 404)},
        description="Delete the stream and its parked events. The destination keeps what it received.",
    )
    def delete(self, request: Request, organization: str, stream: str) -> Response:
        stream_delete(principal=self.principal, stream=self.stream(organization, stream))
        return Response(status=status.HTTP_204_NO_CONTENT)


class StreamTestApi(_OrganizationApi):
    @extend_schema(
        operation_id="audit_streams_test",
        tags=TAGS,
        parameters=[ORGANIZATION, STREAM],
        request={JSON: OpenApiTypes.OBJECT},
        responses={(200, JSON): StreamTestSerializer, **errors(403, 404)},
        description="Send a test event with the stored settings; `ok` false carries a safe reason. Recorded on "
        "the stream (`lastTestStatus`) and in the audit log.",
    )
    def post(self, request: Request, organization: str, stream: str) -> Response:
        found = self.stream(organization, stream)
        self.parse(EmptyRequest, request.data or {})
        ok, message = stream_test(principal=self.principal, stream=found)
        return Response({"ok": ok, "message": message})


class StreamPauseApi(_OrganizationApi):
    @extend_schema(
        operation_id="audit_streams_pause",
        tags=TAGS,
        parameters=[ORGANIZATION, STREAM],
        request={JSON: OpenApiTypes.OBJECT},
        responses={(200, JSON): StreamSerializer, **errors(403, 404)},
        description="Stop delivering. The position is kept; events accumulate as lag. Idempotent.",
    )
    def post(self, request: Request, organization: str, stream: str) -> Response:
        found = self.stream(organization, stream)
        self.parse(EmptyRequest, request.data or {})
        return self.body(stream_pause(principal=self.principal, stream=found))


class StreamResumeApi(_OrganizationApi):
    @extend_schema(
        operation_id="audit_streams_resume",
        tags=TAGS,
        parameters=[ORGANIZATION, STREAM],
        request={JSON: OpenApiTypes.OBJECT},
        responses={(200, JSON): StreamSerializer, **errors(403, 404)},
        description="Deliver again from where the stream stopped, at once (a pending backoff is cleared). Idempotent.",
    )
    def post(self, request: Request, organization: str, stream: str) -> Response:
        found = self.stream(organization, stream)
        self.parse(EmptyRequest, request.data or {})
        return self.body(stream_resume(principal=self.principal, stream=found))


class StreamReplayApi(_OrganizationApi):
    @extend_schema(
        operation_id="audit_streams_replay",
        tags=TAGS,
        parameters=[ORGANIZATION, STREAM],
        request=StreamReplayRequest,
        responses={(200, JSON): StreamSerializer, **errors(400, 403, 404)},
        description="Deliver again from `fromEventId` or `since` (exactly one): the cursor moves to just before "
        "the organization's first event at or after that point, backoff is cleared and parked events from there "
        "on are tried again. Only moves back (a point after the stream's position is a 400). The destination "
        "receives duplicates; each event carries its id for de-duplication.",
    )
    def post(self, request: Request, organization: str, stream: str) -> Response:
        found = self.stream(organization, stream)
        data = self.parse(StreamReplayRequest, request.data)
        replayed = stream_replay(
            principal=self.principal,
            stream=found,
            from_event_id=data.get("fromEventId"),
            since=data.get("since"),
        )
        return self.body(replayed)


class StreamParkedApi(_OrganizationApi):
    @extend_schema(
        operation_id="audit_streams_parked_list",
        tags=TAGS,
        parameters=[ORGANIZATION, STREAM],
        responses={(200, JSON): ParkedEventListSerializer, **errors(403, 404)},
        description="Events the destination refused for good (e.g. 413 for that event alone), oldest first, "
        "with the reason. Replay from an event id at or before one to try it again.",
    )
    def get(self, request: Request, organization: str, stream: str) -> Response:
        return Response(ParkedEventListSerializer({"parked": parked_events(self.stream(organization, stream))}).data)


class StreamKindListApi(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="audit_stream_kinds_list",
        tags=TAGS,
        responses={(200, JSON): KindListSerializer, **errors()},
        description="The stream kinds this server offers and their fields (for a client building a form). "
        "Secret fields are write-only.",
    )
    def get(self, request: Request) -> Response:
        return Response(KindListSerializer({"kinds": kind_list()}).data)
