"""Organization people (org admins add, change and deactivate them) and password change."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from secrets_app.api.authentication import IsPerson
from secrets_app.api.base import ApiView
from secrets_app.api.schema import ID, errors
from secrets_app.api.serializers.people import (
    PasswordChangeRequest,
    PersonAddRequest,
    PersonCreatedSerializer,
    PersonDeactivateRequest,
    PersonListSerializer,
    PersonSerializer,
    PersonUnlockRequest,
    PersonUpdateRequest,
)
from secrets_app.models import OrganizationMembership
from secrets_app.services.lockout import person_unlock
from secrets_app.services.people import (
    organization_get_for_principal,
    password_change,
    person_add,
    person_deactivate,
    person_list,
    person_set_role,
)

ORGANIZATION = OpenApiParameter(
    "organization", OpenApiTypes.STR, OpenApiParameter.PATH, description="Organization slug"
)
TAGS = ["people"]


@extend_schema(tags=TAGS, parameters=[ORGANIZATION])
class PersonListApi(ApiView):
    permission_classes = [IsAuthenticated, IsPerson]
    # The creation response may hold a generated password: never stored for idempotent replay.
    idempotency_storable = False

    @extend_schema(operation_id="people_list", responses={200: PersonListSerializer, **errors(404)})
    def get(self, request: Request, organization: str) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        return Response(PersonListSerializer({"people": person_list(principal=self.principal, organization=org)}).data)

    @extend_schema(
        operation_id="people_add",
        request=PersonAddRequest,
        responses={201: PersonCreatedSerializer, **errors(400, 403, 404, 409)},
        description="Org admins only. Without a password, one is generated and returned once.",
    )
    def post(self, request: Request, organization: str) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        data = self.parse(PersonAddRequest, request.data)
        user, generated = person_add(
            principal=self.principal,
            organization=org,
            email=data["email"],
            role=data["role"],
            password=data.get("password"),
        )
        membership = OrganizationMembership.objects.select_related("user").get(organization=org, user=user)
        body = {**PersonSerializer(membership).data, "temporaryPassword": generated}
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema(tags=TAGS, parameters=[ORGANIZATION, ID])
class PersonDetailApi(ApiView):
    permission_classes = [IsAuthenticated, IsPerson]

    @extend_schema(
        operation_id="people_update",
        request=PersonUpdateRequest,
        responses={200: PersonSerializer, **errors(400, 403, 404)},
    )
    def patch(self, request: Request, organization: str, id: int) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        data = self.parse(PersonUpdateRequest, request.data)
        membership = person_set_role(principal=self.principal, organization=org, user_id=id, role=data["role"])
        return Response(PersonSerializer(membership).data)


@extend_schema(tags=TAGS, parameters=[ORGANIZATION, ID])
class PersonDeactivateApi(ApiView):
    permission_classes = [IsAuthenticated, IsPerson]

    @extend_schema(
        operation_id="people_deactivate",
        request=PersonDeactivateRequest,
        responses={200: PersonSerializer, **errors(400, 403, 404)},
        description="Disable the account and revoke its personal tokens; its sessions end on their next request.",
    )
    def post(self, request: Request, organization: str, id: int) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        data = self.parse(PersonDeactivateRequest, request.data)
        person_deactivate(principal=self.principal, organization=org, user_id=id, reason=data["reason"])
        membership = OrganizationMembership.objects.select_related("user").get(organization=org, user_id=id)
        return Response(PersonSerializer(membership).data)


@extend_schema(tags=TAGS, parameters=[ORGANIZATION, ID])
class PersonUnlockApi(ApiView):
    permission_classes = [IsAuthenticated, IsPerson]

    @extend_schema(
        operation_id="people_unlock",
        request=PersonUnlockRequest,
        responses={200: PersonSerializer, **errors(400, 403, 404, 503)},
        description=(
            "Org admins only. Lift the person's failed-login lockout (and forget their failures); "
            "audited as user.unlocked. 503 when the lockout store cannot be reached."
        ),
    )
    def post(self, request: Request, organization: str, id: int) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        data = self.parse(PersonUnlockRequest, request.data)
        person_unlock(principal=self.principal, organization=org, user_id=id, reason=data["reason"])
        membership = OrganizationMembership.objects.select_related("user").get(organization=org, user_id=id)
        return Response(PersonSerializer(membership).data)


@extend_schema(tags=["me"])
class PasswordChangeApi(ApiView):
    permission_classes = [IsAuthenticated, IsPerson]

    @extend_schema(
        operation_id="me_password_change", request=PasswordChangeRequest, responses={204: None, **errors(400)}
    )
    def post(self, request: Request) -> Response:
        data = self.parse(PasswordChangeRequest, request.data)
        password_change(user=request.user, current_password=data["currentPassword"], new_password=data["newPassword"])
        return Response(status=status.HTTP_204_NO_CONTENT)
