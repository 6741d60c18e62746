"""Routes of the rotation pages (included by config/urls.py, namespace ``rotation_ui``)."""

from __future__ import annotations

from django.urls import path

from rotation.ui import views

app_name = "rotation_ui"

_ONE = "projects/<slug:slug>/rotations/<uuid:rotation_id>/"

urlpatterns = [
    path("projects/<slug:slug>/rotations/", views.rotation_list_page, name="list"),
    path("projects/<slug:slug>/rotations/new/", views.rotation_new, name="new"),
    path(
        "projects/<slug:slug>/rotations/reveal-settings/", views.rotation_reveal_settings_view, name="reveal_settings"
    ),
    path(_ONE, views.rotation_page, name="detail"),
    path(f"{_ONE}edit/", views.rotation_edit, name="edit"),
    path(f"{_ONE}delete/", views.rotation_delete_view, name="delete"),
    path(f"{_ONE}rotate/", views.rotation_rotate_view, name="rotate"),
    path(f"{_ONE}pause/", views.rotation_pause_view, name="pause"),
    path(f"{_ONE}resume/", views.rotation_resume_view, name="resume"),
]
