"""Access requests over REST (people only): ask for time-boxed access, review, cancel, revoke early,
and list one's own open grants. Thin: parse, call one service or selector, serialize."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from approvals.models import AccessRequest, AccessRequestStatus, ReviewStatus
from approvals.selectors.access_requests import (
    ACCESS_LEVELS,
    access_request_get,
    access_requests_visible,
    project_for_requester,
)
from approvals.services.access_requests import (
    access_grant_revoke_early,
    access_request_break_glass,
    access_request_cancel,
    access_request_create,
    access_request_create_break_glass,
    access_request_review,
)
from secrets_app.api.authentication import IsPerson
from secrets_app.api.base import ApiView
from secrets_app.api.fields import StrictSerializer
from secrets_app.api.schema import PROJECT, errors
from secrets_app.errors import ValidationFailed
from secrets_app.selectors.temporary_grants import temporary_grants_for

TAGS = ["access-requests"]
REQUEST_ID = OpenApiParameter("request_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
_DURATION = re.compile(r"^\s*(\d+)\s*([mhd]?)\s*$")


def parse_duration(value: Any) -> int:
    """Minutes from ``90``, ``"90"``, ``"90m"``, ``"2h"`` or ``"1d"`` (Infisical's temporaryRange style).
    Raises ValidationFailed naming ``duration``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _DURATION.match(str(value)) if isinstance(value, str) else None
    if not match:
        raise ValidationFailed("duration", "minutes, or a number with m, h or d (30m, 2h, 1d)")
    amount, unit = int(match.group(1)), match.group(2) or "m"
    return amount * {"m": 1, "h": 60, "d": 1440}[unit]


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string", "example": "2h"}]})
class DurationField(serializers.Field):
    """Minutes as a JSON integer, or a string such as ``"30m"``, ``"2h"``, ``"1d"``."""

    def to_internal_value(self, data: Any) -> int:
        try:
            return parse_duration(data)
        except ValidationFailed as exc:
            raise serializers.ValidationError(exc.fields["duration"][0]) from exc

    def to_representation(self, value: Any) -> Any:
        return value


# --- bodies -----------------------------------------------------------------------------------
class AccessRequestCreateRequest(StrictSerializer):
    environment = serializers.CharField(max_length=64, help_text="Environment slug")
    path = serializers.CharField(max_length=512, help_text="Folder path or glob, e.g. /payments/**")
    access = serializers.ListField(
        child=serializers.ChoiceField(choices=ACCESS_LEVELS), help_text='["read"] or ["read", "write"]'
    )
    duration = DurationField(help_text="How long the access lasts once granted: minutes, or 30m / 2h / 1d")
    reason = serializers.CharField(max_length=1000, help_text="Why (at least 10 characters)")
    breakGlass = serializers.BooleanField(  # noqa: N815
        required=False,
        default=False,
        help_text="Soft policies only, for the policy's bypassers: take the access now without "
        "approvals; every approver is alerted at once.",
    )


class AccessReviewRequest(StrictSerializer):
    status = serializers.ChoiceField(choices=ReviewStatus.values)
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


class AccessEmptyRequest(StrictSerializer):
    pass


class AccessBreakGlassRequest(StrictSerializer):
    breakGlassReason = serializers.CharField(max_length=1000)  # noqa: N815


class AccessRequestListQuery(StrictSerializer):
    status = serializers.ChoiceField(choices=AccessRequestStatus.values, required=False)


# --- shapes -----------------------------------------------------------------------------------
class _PersonRef(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.CharField()


class _GrantShape(serializers.Serializer):
    id = serializers.IntegerField()
    startsAt = serializers.DateTimeField(source="starts_at")  # noqa: N815
    endsAt = serializers.DateTimeField(source="ends_at")  # noqa: N815
    revokedAt = serializers.DateTimeField(source="revoked_at", allow_null=True)  # noqa: N815
    secondsLeft = serializers.IntegerField(source="seconds_left")  # noqa: N815


class _ReviewShape(serializers.Serializer):
    reviewer = serializers.CharField(source="reviewer.email")
    status = serializers.CharField()
    comment = serializers.CharField()
    createdAt = serializers.DateTimeField(source="created_at")  # noqa: N815


class _PolicyShape(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    approvalsRequired = serializers.IntegerField(source="approvals_required")  # noqa: N815
    enforcement = serializers.CharField()
    maxAccessHours = serializers.IntegerField(source="max_access_hours")  # noqa: N815


class AccessRequestSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    project = serializers.CharField(source="project.slug")
    environment = serializers.CharField(source="environment.slug")
    path = serializers.CharField()
    access = serializers.ListField(child=serializers.CharField())
    durationMinutes = serializers.IntegerField(source="duration_minutes")  # noqa: N815
    reason = serializers.CharField()
    status = serializers.CharField()
    breakGlass = serializers.BooleanField(source="break_glass")  # noqa: N815
    requester = _PersonRef()
    policy = _PolicyShape(allow_null=True)
    reviews = _ReviewShape(many=True, source="reviews.all")
    grant = _GrantShape(allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")  # noqa: N815
    expiresAt = serializers.DateTimeField(source="expires_at")  # noqa: N815
    decidedAt = serializers.DateTimeField(source="decided_at", allow_null=True)  # noqa: N815
    decidedBy = serializers.SerializerMethodField()  # noqa: N815

    def get_decidedBy(self, obj: AccessRequest) -> str | None:  # noqa: N802
        return obj.decided_by.email if obj.decided_by else None


class AccessRequestListSerializer(serializers.Serializer):
    requests = AccessRequestSerializer(many=True)


class MyGrantSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.CharField(source="project.slug")
    rules = serializers.ListField(child=serializers.DictField())
    source = serializers.CharField()  # type: ignore[assignment]  # a field named "source", not DRF's option
    startsAt = serializers.DateTimeField(source="starts_at")  # noqa: N815
    endsAt = serializers.DateTimeField(source="ends_at")  # noqa: N815
    secondsLeft = serializers.IntegerField(source="seconds_left")  # noqa: N815


class MyGrantListSerializer(serializers.Serializer):
    grants = MyGrantSerializer(many=True)


# --- views ------------------------------------------------------------------------------------
class _PersonApi(ApiView):
    # Access requests are a person's: machine identities get roles, not temporary approvals.
    permission_classes = [IsAuthenticated, IsPerson]

    def _request(self, project: str, request_id: str) -> AccessRequest:
        found = project_for_requester(self.principal, project)
        return access_request_get(self.principal, found, request_id)


class AccessRequestListApi(_PersonApi):
    @extend_schema(
        operation_id="access_requests_list",
        tags=TAGS,
        parameters=[PROJECT, OpenApiParameter("status", OpenApiTypes.STR, enum=AccessRequestStatus.values)],
        responses={200: AccessRequestListSerializer, **errors(404)},
        description="The project's access requests you may see: your own, those of policies you "
        "approve for, and all of them for project admins.",
    )
    def get(self, request: Request, project: str) -> Response:
        query = self.query(AccessRequestListQuery, request)
        found = project_for_requester(self.principal, project)
        requests = access_requests_visible(self.principal, found).prefetch_related("reviews__reviewer")
        if query.get("status"):
            requests = requests.filter(status=query["status"])
        return Response(AccessRequestListSerializer({"requests": requests[:500]}).data)

    @extend_schema(
        operation_id="access_requests_create",
        tags=TAGS,
        parameters=[PROJECT],
        request=AccessRequestCreateRequest,
        responses={201: AccessRequestSerializer, **errors(400, 403, 404, 409)},
        description="Ask for temporary access at an environment and folder path (glob). Needs an "
        "approval policy governing access there (400 `no_access_policy` otherwise); the duration is "
        "at most the policy's maximum. Open to people of the project's organization. With "
        "`breakGlass` (soft policies, bypassers only) the access is granted at once.",
    )
    def post(self, request: Request, project: str) -> Response:
        data = self.parse(AccessRequestCreateRequest, request.data)
        found = project_for_requester(self.principal, project)
        create = access_request_create_break_glass if data["breakGlass"] else access_request_create
        created = create(
            principal=self.principal,
            project=found,
            environment=data["environment"],
            path=data["path"],
            access=data["access"],
            duration_minutes=data["duration"],
            reason=data["reason"],
        )
        return Response(AccessRequestSerializer(created).data, status=status.HTTP_201_CREATED)


class AccessRequestDetailApi(_PersonApi):
    @extend_schema(
        operation_id="access_requests_retrieve",
        tags=TAGS,
        parameters=[PROJECT, REQUEST_ID],
        responses={200: AccessRequestSerializer, **errors(404)},
    )
    def get(self, request: Request, project: str, request_id: str) -> Response:
        return Response(AccessRequestSerializer(self._request(project, request_id)).data)


class AccessRequestReviewApi(_PersonApi):
    @extend_schema(
        operation_id="access_requests_review",
        tags=TAGS,
        parameters=[PROJECT, REQUEST_ID],
        request=AccessReviewRequest,
        responses={200: AccessRequestSerializer, **errors(400, 403, 404, 409)},
        description="Approve or reject. Only approvers of the policy who hold the requested access "
        "themselves; not your own request unless the policy allows it. Any rejection ends the "
        "request; at the policy's quorum the access is granted at once, for the requested duration.",
    )
    def post(self, request: Request, project: str, request_id: str) -> Response:
        data = self.parse(AccessReviewRequest, request.data)
        found = self._request(project, request_id)
        updated = access_request_review(
            principal=self.principal, request=found, status=data["status"], comment=data["comment"]
        )
        return Response(AccessRequestSerializer(updated).data)


class AccessRequestBreakGlassApi(_PersonApi):
    @extend_schema(
        operation_id="access_requests_break_glass",
        tags=TAGS,
        parameters=[PROJECT, REQUEST_ID],
        request=AccessBreakGlassRequest,
        responses={200: AccessRequestSerializer, **errors(400, 403, 404, 409)},
        description="Soft policies only: the requester, a bypasser of the policy, takes the access "
        "now without approvals, saying why. Every approver is alerted at once.",
    )
    def post(self, request: Request, project: str, request_id: str) -> Response:
        data = self.parse(AccessBreakGlassRequest, request.data)
        found = self._request(project, request_id)
        updated = access_request_break_glass(principal=self.principal, request=found, reason=data["breakGlassReason"])
        return Response(AccessRequestSerializer(updated).data)


class AccessRequestCancelApi(_PersonApi):
    @extend_schema(
        operation_id="access_requests_cancel",
        tags=TAGS,
        parameters=[PROJECT, REQUEST_ID],
        request=AccessEmptyRequest,
        responses={200: AccessRequestSerializer, **errors(403, 404, 409)},
        description="The requester withdraws a pending request.",
    )
    def post(self, request: Request, project: str, request_id: str) -> Response:
        self.parse(AccessEmptyRequest, request.data)
        found = self._request(project, request_id)
        return Response(AccessRequestSerializer(access_request_cancel(principal=self.principal, request=found)).data)


class AccessRequestRevokeApi(_PersonApi):
    @extend_schema(
        operation_id="access_requests_revoke",
        tags=TAGS,
        parameters=[PROJECT, REQUEST_ID],
        request=AccessEmptyRequest,
        responses={200: AccessRequestSerializer, **errors(403, 404, 409)},
        description="End the granted access now (project admins, the policy's approvers, or the "
        "requester giving it back). Effective at the next permission check.",
    )
    def post(self, request: Request, project: str, request_id: str) -> Response:
        self.parse(AccessEmptyRequest, request.data)
        found = self._request(project, request_id)
        updated = access_grant_revoke_early(principal=self.principal, request=found)
        return Response(AccessRequestSerializer(updated).data)


class MyAccessGrantListApi(_PersonApi):
    @extend_schema(
        operation_id="me_access_grants_list",
        tags=TAGS,
        responses={200: MyGrantListSerializer, **errors()},
        description="Your temporary grants open now, soonest to end first, with the seconds left.",
    )
    def get(self, request: Request) -> Response:
        return Response(MyGrantListSerializer({"grants": temporary_grants_for(request.user)}).data)
