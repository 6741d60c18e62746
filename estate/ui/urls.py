"""Estate web UI routes (namespace ``estate``), mounted at the site root (config/urls.py): the
estate page (``/org/<org_slug>/estate/``) with its scans, one resource's page, and the import
wizard (``/org/<org_slug>/estate/resources/<id>/import/`` then ``/org/<org_slug>/estate/imports/…``).
Organization admins only (``estate.access.estate_organization``)."""

from __future__ import annotations

from django.urls import path

from estate.ui import views_estate, views_import, views_resource

app_name = "estate"

urlpatterns = [
    path("org/<slug:org_slug>/estate/", views_estate.estate_home, name="home"),
    path("org/<slug:org_slug>/estate/scans/", views_estate.scan_start, name="scan_start"),
    path("org/<slug:org_slug>/estate/scans/<uuid:scan>/", views_estate.scan_status, name="scan_status"),
    path("org/<slug:org_slug>/estate/resources/<int:resource>/", views_resource.resource_page, name="resource"),
    path(
        "org/<slug:org_slug>/estate/resources/<int:resource>/import/",
        views_import.import_new,
        name="import_new",
    ),
    path(
        "org/<slug:org_slug>/estate/imports/<uuid:import_id>/",
        views_import.import_detail,
        name="import_detail",
    ),
]
