"""Routes of the notifications pages (included by config/urls.py, namespace ``notifications_ui``)."""

from __future__ import annotations

from django.urls import path

from notifications.ui import views

app_name = "notifications_ui"

urlpatterns = [
    path("org/<slug:org_slug>/notifications/", views.notifications_page, name="page"),
    path("org/<slug:org_slug>/notifications/<uuid:channel_id>/", views.channel_page, name="channel"),
    path("org/<slug:org_slug>/notifications/<uuid:channel_id>/test/", views.channel_test_view, name="channel_test"),
    path(
        "org/<slug:org_slug>/notifications/<uuid:channel_id>/delete/", views.channel_delete_view, name="channel_delete"
    ),
    path("org/<slug:org_slug>/notifications/<uuid:channel_id>/routes/", views.route_add_view, name="route_add"),
    path(
        "org/<slug:org_slug>/notifications/<uuid:channel_id>/routes/<int:route_id>/delete/",
        views.route_delete_view,
        name="route_delete",
    ),
]
