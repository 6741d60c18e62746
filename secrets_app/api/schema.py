"""OpenAPI pieces shared by the views: the bearer scheme, the error body, common parameters."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers


class PersonalTokenScheme(OpenApiAuthenticationExtension):
    target_class = "secrets_app.api.authentication.PersonalTokenAuthentication"
    name = "personalToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "srp_…",
            "description": "A personal API token (POST /api/v1/tokens/, or the web UI): `Authorization: Bearer srp_…`",
        }


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. validation_error, not_found")
    message = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False, help_text="Field name → problems"
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()
    requestId = serializers.CharField(help_text="Also in the X-Request-Id header; quote it when reporting a problem")


def errors(*statuses: int) -> dict[int, type[serializers.Serializer]]:
    """Responses entries for the error statuses an operation may answer (401 is always possible)."""
    return {status: ErrorSerializer for status in sorted({401, *statuses})}


PROJECT = OpenApiParameter("project", OpenApiTypes.STR, OpenApiParameter.PATH, description="Project slug or id (UUID)")
ENVIRONMENT = OpenApiParameter("environment", OpenApiTypes.STR, OpenApiParameter.PATH, description="Environment slug")
KEY = OpenApiParameter("key", OpenApiTypes.STR, OpenApiParameter.PATH, description="Secret key (URL-encoded)")
SLUG = OpenApiParameter("slug", OpenApiTypes.STR, OpenApiParameter.PATH)
ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    pattern=r"^[!-~]{1,255}$",
    description="Makes a retry safe: the same key with the same request replays the first answer; "
    "with a different request it is refused (422). Kept 24 hours.",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    pattern=r'^(W/)?"?[0-9]{1,9}"?$',
    description="Check-and-set: the version you read (the ETag of GET). A stale version answers 412.",
)
