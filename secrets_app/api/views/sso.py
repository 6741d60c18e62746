"""An organization's single sign-on configuration (org admins only)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from secrets_app.api.authentication import IsPerson
from secrets_app.api.base import ApiView
from secrets_app.api.schema import errors
from secrets_app.api.serializers.sso import SsoConfigRequest, SsoConfigSerializer
from secrets_app.api.views.people import ORGANIZATION
from secrets_app.services.people import organization_get_for_principal
from secrets_app.services.sso import sso_config_delete, sso_config_get, sso_config_set


@extend_schema(tags=["sso"], parameters=[ORGANIZATION])
class SsoConfigApi(ApiView):
    permission_classes = [IsAuthenticated, IsPerson]

    @extend_schema(operation_id="sso_get", responses={200: SsoConfigSerializer, **errors(403, 404)})
    def get(self, request: Request, organization: str) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        return Response(SsoConfigSerializer(sso_config_get(principal=self.principal, organization=org)).data)

    @extend_schema(
        operation_id="sso_set",
        request=SsoConfigRequest,
        responses={200: SsoConfigSerializer, **errors(400, 403, 404, 409)},
        description=(
            "Org admins only. Create or replace the OIDC configuration; audited as sso.configured. "
            "Requiring SSO needs at least one break-glass admin."
        ),
    )
    def put(self, request: Request, organization: str) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        data = self.parse(SsoConfigRequest, request.data)
        config = sso_config_set(
            principal=self.principal,
            organization=org,
            issuer_url=data["issuer"],
            client_id=data["clientId"],
            client_secret=data.get("clientSecret"),
            allowed_domains=data["allowedDomains"],
            allowed_group_ids=data["allowedGroupIds"],
            claim_email=data["claimEmail"],
            claim_name=data["claimName"],
            claim_groups=data["claimGroups"],
            require_sso=data["requireSso"],
            break_glass_emails=data["breakGlassEmails"],
        )
        return Response(SsoConfigSerializer(config).data)

    @extend_schema(
        operation_id="sso_delete",
        request=None,
        responses={204: None, **errors(403, 404)},
        description="Org admins only. Turn single sign-on off; audited as sso.removed.",
    )
    def delete(self, request: Request, organization: str) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        sso_config_delete(principal=self.principal, organization=org)
        return Response(status=status.HTTP_204_NO_CONTENT)
