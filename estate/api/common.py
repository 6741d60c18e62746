"""What every estate API view shares: the OpenAPI parameters and tag, the access sentence, and the
base view whose ``organization`` is the one access decision (``estate.access.estate_organization``)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from estate.access import estate_organization
from secrets_app.api.base import ApiView
from secrets_app.models import Organization

TAGS = ["estate"]
ORGANIZATION = OpenApiParameter(
    "organization", OpenApiTypes.STR, OpenApiParameter.PATH, description="Organization slug"
)
RESOURCE = OpenApiParameter("resource", OpenApiTypes.INT, OpenApiParameter.PATH, description="Resource id")
ADMINS = "Organization admins only (a member who is not an admin: 403, audited; anyone else: 404)."


class EstateApiView(ApiView):
    """An estate route: every handler starts with ``self.organization(slug)``."""

    def organization(self, organization: str) -> Organization:
        return estate_organization(self.principal, organization)
