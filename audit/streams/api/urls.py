"""Routes: ``/api/v1/organizations/<org>/audit-streams/…`` and ``/api/v1/audit-stream-kinds/`` (config/urls.py)."""

from __future__ import annotations

from django.urls import path

from audit.streams.api import views

stream_urlpatterns = [
    path("", views.StreamListApi.as_view(), name="audit-stream-list"),
    path("<str:stream>/", views.StreamDetailApi.as_view(), name="audit-stream-detail"),
    path("<str:stream>/test/", views.StreamTestApi.as_view(), name="audit-stream-test"),
    path("<str:stream>/pause/", views.StreamPauseApi.as_view(), name="audit-stream-pause"),
    path("<str:stream>/resume/", views.StreamResumeApi.as_view(), name="audit-stream-resume"),
    path("<str:stream>/replay/", views.StreamReplayApi.as_view(), name="audit-stream-replay"),
    path("<str:stream>/parked/", views.StreamParkedApi.as_view(), name="audit-stream-parked"),
]

kind_urlpatterns = [
    path("", views.StreamKindListApi.as_view(), name="audit-stream-kind-list"),
]
