"""Routes of the SCIM 2.0 endpoint, included at ``/scim/v2/`` by config/urls.py. No trailing
slashes: SCIM clients (Entra) append ``Users`` / ``Users/{id}`` to the tenant URL."""

from __future__ import annotations

from django.urls import path

from secrets_app.scim import views

app_name = "scim"
urlpatterns = [
    path("ServiceProviderConfig", views.ServiceProviderConfigView.as_view(), name="service-provider-config"),
    path("ResourceTypes", views.ResourceTypesView.as_view(), name="resource-types"),
    path("Schemas", views.SchemasView.as_view(), name="schemas"),
    path("Users", views.UserListView.as_view(), name="user-list"),
    path("Users/<str:id>", views.UserDetailView.as_view(), name="user-detail"),
    path("Groups", views.GroupListView.as_view(), name="group-list"),
    path("Groups/<str:id>", views.GroupDetailView.as_view(), name="group-detail"),
]
