"""Routes: ``/api/v1/connections/…`` and ``/api/v1/projects/<project>/syncs/…`` (config/urls.py)."""

from __future__ import annotations

from django.urls import path

from syncs.api import views

connection_urlpatterns = [
    path("", views.ConnectionListApi.as_view(), name="connection-list"),
    path("<str:connection>/", views.ConnectionDetailApi.as_view(), name="connection-detail"),
    path("<str:connection>/test/", views.ConnectionTestApi.as_view(), name="connection-test"),
]

sync_urlpatterns = [
    path("", views.SyncListApi.as_view(), name="sync-list"),
    path("<str:sync>/", views.SyncDetailApi.as_view(), name="sync-detail"),
    path("<str:sync>/run/", views.SyncTriggerApi.as_view(), name="sync-trigger"),
    path("<str:sync>/runs/", views.SyncRunListApi.as_view(), name="sync-runs"),
    path("<str:sync>/drift/", views.SyncDriftApi.as_view(), name="sync-drift"),
    path("<str:sync>/drift/adopt/", views.SyncDriftAdoptApi.as_view(), name="sync-drift-adopt"),
]
