"""An organization's audit settings: retention (org admins only)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from secrets_app.api.authentication import IsPerson
from secrets_app.api.base import ApiView
from secrets_app.api.schema import errors
from secrets_app.api.views.people import ORGANIZATION
from secrets_app.services.audit_settings import (
    RETENTION_MAX_DAYS,
    RETENTION_MIN_DAYS,
    audit_retention_set,
    audit_settings_get,
)
from secrets_app.services.people import organization_get_for_principal


class AuditSettingsSerializer(serializers.Serializer):
    retentionDays = serializers.IntegerField(  # noqa: N815 - wire name
        min_value=RETENTION_MIN_DAYS,
        max_value=RETENTION_MAX_DAYS,
        help_text="Events older than this are purged by manage.py audit_purge, whole sealed blocks at a time.",
    )


def _shape(settings: dict[str, int]) -> dict[str, int]:
    return {"retentionDays": settings["retention_days"]}


@extend_schema(tags=["audit"], parameters=[ORGANIZATION])
class AuditSettingsApi(ApiView):
    permission_classes = [IsAuthenticated, IsPerson]

    @extend_schema(operation_id="audit_settings_get", responses={200: AuditSettingsSerializer, **errors(403, 404)})
    def get(self, request: Request, organization: str) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        return Response(_shape(audit_settings_get(principal=self.principal, organization=org)))

    @extend_schema(
        operation_id="audit_settings_update",
        request=AuditSettingsSerializer,
        responses={200: AuditSettingsSerializer, **errors(400, 403, 404)},
        description="Org admins only. Audited as audit.retention_changed (old and new value).",
    )
    def patch(self, request: Request, organization: str) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        data = self.parse(AuditSettingsSerializer, request.data)
        return Response(
            _shape(
                audit_retention_set(principal=self.principal, organization=org, retention_days=data["retentionDays"])
            )
        )
