"""The governance dashboard API (read-only). Thin: parse the query, call a selector, serialize."""

from __future__ import annotations

from rest_framework.permissions import IsAuthenticated

from secrets_app.api.base import ApiView


class _DashboardApi(ApiView):
    permission_classes = [IsAuthenticated]


class OrganizationDashboardApi(_DashboardApi):
    pass


class OrganizationTopConsumersApi(_DashboardApi):
    pass


class OrganizationRiskListApi(_DashboardApi):
    pass


class ProjectDashboardApi(_DashboardApi):
    pass


class ProjectRiskListApi(_DashboardApi):
    pass


class ProjectTopConsumersApi(_DashboardApi):
    pass


class SecretConsumersApi(_DashboardApi):
    pass
