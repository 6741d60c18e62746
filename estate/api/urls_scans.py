"""Estate REST routes for scans, the summary, the inventory and findings (included by
``estate/api/urls.py`` under ``/api/v1/organizations/<organization>/estate/``)."""

from __future__ import annotations

from django.urls import URLPattern, path

from estate.api import views_scans

urlpatterns: list[URLPattern] = [
    path("scans/", views_scans.ScanListApi.as_view(), name="scans"),
    path("scans/<uuid:scan>/", views_scans.ScanDetailApi.as_view(), name="scan-detail"),
    path("scans/<uuid:scan>/cancel/", views_scans.ScanCancelApi.as_view(), name="scan-cancel"),
    path("summary/", views_scans.EstateSummaryApi.as_view(), name="summary"),
    path("resources/", views_scans.ResourceListApi.as_view(), name="resources"),
    path("resources/<int:resource>/", views_scans.ResourceDetailApi.as_view(), name="resource-detail"),
    path("findings/", views_scans.FindingListApi.as_view(), name="findings"),
]
