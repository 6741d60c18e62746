"""Routes of the audit streams pages (included by config/urls.py, namespace ``audit_streams_ui``)."""

from __future__ import annotations

from django.urls import path

from audit.streams.ui import views

app_name = "audit_streams_ui"

STREAM = "org/<slug:org_slug>/audit/streams/<uuid:stream_id>/"

urlpatterns = [
    path("org/<slug:org_slug>/audit/streams/", views.streams_page, name="page"),
    path(STREAM, views.stream_page, name="stream"),
    path(STREAM + "test/", views.stream_test_view, name="test"),
    path(STREAM + "pause/", views.stream_pause_view, name="pause"),
    path(STREAM + "resume/", views.stream_resume_view, name="resume"),
    path(STREAM + "replay/", views.stream_replay_view, name="replay"),
    path(STREAM + "delete/", views.stream_delete_view, name="delete"),
]
