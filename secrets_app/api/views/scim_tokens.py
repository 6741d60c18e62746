"""An organization's SCIM provisioning tokens: org admins create (shown once), list and revoke them."""

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
from secrets_app.api.serializers.scim import (
    ScimTokenCreatedSerializer,
    ScimTokenCreateRequest,
    ScimTokenListSerializer,
    ScimTokenSerializer,
)
from secrets_app.services.people import organization_get_for_principal
from secrets_app.services.scim_tokens import scim_token_create, scim_token_list, scim_token_revoke

ORGANIZATION = OpenApiParameter(
    "organization", OpenApiTypes.STR, OpenApiParameter.PATH, description="Organization slug"
)
TAGS = ["scim"]


@extend_schema(tags=TAGS, parameters=[ORGANIZATION])
class ScimTokenListApi(ApiView):
    permission_classes = [IsAuthenticated, IsPerson]
    # The creation response holds the token: it must never be stored for an idempotent replay.
    idempotency_storable = False

    @extend_schema(
        operation_id="scim_tokens_list",
        responses={200: ScimTokenListSerializer, **errors(403, 404)},
        description="Org admins only. The tokens themselves are never listed.",
    )
    def get(self, request: Request, organization: str) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        tokens = scim_token_list(principal=self.principal, organization=org)
        return Response(ScimTokenListSerializer({"tokens": tokens}).data)

    @extend_schema(
        operation_id="scim_tokens_create",
        request=ScimTokenCreateRequest,
        responses={201: ScimTokenCreatedSerializer, **errors(400, 403, 404)},
        description="Org admins only. Create a SCIM bearer token for the organization's directory; the token "
        "is in this response only. `Idempotency-Key` is refused here (400): the response holds a credential.",
    )
    def post(self, request: Request, organization: str) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        data = self.parse(ScimTokenCreateRequest, request.data)
        token, raw = scim_token_create(principal=self.principal, organization=org, name=data["name"])
        body = {
            **ScimTokenSerializer(token).data,
            "token": raw,
            "tenantUrl": request.build_absolute_uri("/scim/v2/"),
        }
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema(tags=TAGS, parameters=[ORGANIZATION, ID])
class ScimTokenDetailApi(ApiView):
    permission_classes = [IsAuthenticated, IsPerson]

    @extend_schema(
        operation_id="scim_tokens_revoke",
        responses={204: None, **errors(403, 404)},
        description="Org admins only. The directory's next request with this token is refused (401).",
    )
    def delete(self, request: Request, organization: str, id: int) -> Response:  # noqa: A002 - the route's name
        org = organization_get_for_principal(self.principal, organization)
        scim_token_revoke(principal=self.principal, organization=org, token_id=id)
        return Response(status=status.HTTP_204_NO_CONTENT)
