"""Routes of the sync pages (included by config/urls.py, namespace ``syncs_ui``)."""

from __future__ import annotations

from django.urls import path

from syncs.ui import views

app_name = "syncs_ui"

urlpatterns = [
    path("projects/<slug:slug>/syncs/", views.sync_list_page, name="sync_list"),
    path("projects/<slug:slug>/syncs/<uuid:sync_id>/", views.sync_detail_page, name="sync_detail"),
    path("projects/<slug:slug>/syncs/<uuid:sync_id>/run/", views.sync_run_view, name="sync_run"),
    path("projects/<slug:slug>/syncs/<uuid:sync_id>/drift/", views.sync_drift_view, name="sync_drift"),
    path("projects/<slug:slug>/syncs/<uuid:sync_id>/delete/", views.sync_delete_view, name="sync_delete"),
    path("org/<slug:org_slug>/connections/", views.connection_page, name="connections"),
    path(
        "org/<slug:org_slug>/connections/<uuid:connection_id>/test/", views.connection_test_view, name="connection_test"
    ),
    path(
        "org/<slug:org_slug>/connections/<uuid:connection_id>/delete/",
        views.connection_delete_view,
        name="connection_delete",
    ),
]
