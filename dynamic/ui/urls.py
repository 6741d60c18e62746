"""Routes of the dynamic secret pages (included by config/urls.py, namespace ``dynamic_ui``)."""

from __future__ import annotations

from django.urls import path

from dynamic.ui import targets, views

app_name = "dynamic_ui"

urlpatterns = [
    path("org/<slug:org_slug>/dynamic-targets/", targets.target_allowlist_page, name="targets"),
    path("projects/<slug:slug>/dynamic-secrets/new/", views.dynamic_secret_new, name="secret_new"),
    path("projects/<slug:slug>/dynamic-secrets/<uuid:secret_id>/", views.dynamic_secret_page, name="secret"),
    path("projects/<slug:slug>/dynamic-secrets/<uuid:secret_id>/edit/", views.dynamic_secret_edit, name="secret_edit"),
    path(
        "projects/<slug:slug>/dynamic-secrets/<uuid:secret_id>/delete/",
        views.dynamic_secret_delete_view,
        name="secret_delete",
    ),
    path("projects/<slug:slug>/dynamic-secrets/<uuid:secret_id>/leases/", views.lease_create_view, name="lease_create"),
    path("projects/<slug:slug>/leases/", views.lease_list_page, name="leases"),
    path("projects/<slug:slug>/leases/<uuid:lease_id>/renew/", views.lease_renew_view, name="lease_renew"),
    path("projects/<slug:slug>/leases/<uuid:lease_id>/revoke/", views.lease_revoke_view, name="lease_revoke"),
    path(
        "projects/<slug:slug>/leases/<uuid:lease_id>/force-revoke/",
        views.lease_force_revoke_view,
        name="lease_force_revoke",
    ),
]
