"""E-mail invitations into an organization: org admins list, create, resend and revoke them.
The invitee accepts in the browser (``/invite/<token>/``); the link is never in an API answer."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from secrets_app.api.authentication import IsPerson
from secrets_app.api.base import ApiView
from secrets_app.api.schema import errors
from secrets_app.api.serializers.invitations import (
    InvitationCreateRequest,
    InvitationListSerializer,
    InvitationResendRequest,
    InvitationSerializer,
)
from secrets_app.selectors.invitations import invitation_list_pending
from secrets_app.services.invitations import invitation_create, invitation_resend, invitation_revoke
from secrets_app.services.people import organization_get_for_principal

ORGANIZATION = OpenApiParameter(
    "organization", OpenApiTypes.STR, OpenApiParameter.PATH, description="Organization slug"
)
INVITATION = OpenApiParameter("invitation", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Invitation id")
TAGS = ["people"]


@extend_schema(tags=TAGS, parameters=[ORGANIZATION])
class InvitationListApi(ApiView):
    permission_classes = [IsAuthenticated, IsPerson]

    @extend_schema(
        operation_id="invitations_list",
        responses={200: InvitationListSerializer, **errors(403, 404)},
        description="Org admins only. Pending invitations (expired ones included: they can be resent).",
    )
    def get(self, request: Request, organization: str) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        pending = invitation_list_pending(principal=self.principal, organization=org)
        return Response(InvitationListSerializer({"invitations": pending}).data)

    @extend_schema(
        operation_id="invitations_create",
        request=InvitationCreateRequest,
        responses={201: InvitationSerializer, **errors(400, 403, 404, 409)},
        description=(
            "Org admins only. E-mails a single-use link (expires after STRONGROOM_INVITATION_TTL_HOURS) with "
            "which the person sets a password and joins with the role. 409 when e-mail is not configured "
            "on the server (add the person with a password instead), the address is a member already or has "
            "a pending invitation. A mail server failure is reported in sendError (resend later)."
        ),
    )
    def post(self, request: Request, organization: str) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        data = self.parse(InvitationCreateRequest, request.data)
        invitation = invitation_create(
            principal=self.principal, organization=org, email=data["email"], role=data["role"]
        )
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=TAGS, parameters=[ORGANIZATION, INVITATION])
class InvitationDetailApi(ApiView):
    permission_classes = [IsAuthenticated, IsPerson]

    @extend_schema(
        operation_id="invitations_revoke",
        responses={200: InvitationSerializer, **errors(403, 404, 409)},
        description="Org admins only. Revoke a pending invitation: its link stops working.",
    )
    def delete(self, request: Request, organization: str, invitation: str) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        revoked = invitation_revoke(principal=self.principal, organization=org, public_id=invitation)
        return Response(InvitationSerializer(revoked).data)


@extend_schema(tags=TAGS, parameters=[ORGANIZATION, INVITATION])
class InvitationResendApi(ApiView):
    permission_classes = [IsAuthenticated, IsPerson]

    @extend_schema(
        operation_id="invitations_resend",
        request=InvitationResendRequest,
        responses={200: InvitationSerializer, **errors(400, 403, 404, 409)},
        description="Org admins only. E-mail a new link (the previous one stops working), valid for a full period again.",
    )
    def post(self, request: Request, organization: str, invitation: str) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        self.parse(InvitationResendRequest, request.data)
        resent = invitation_resend(principal=self.principal, organization=org, public_id=invitation)
        return Response(InvitationSerializer(resent).data)
