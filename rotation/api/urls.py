"""Routes (config/urls.py): ``/api/v1/projects/<project>/rotations/…``."""

from __future__ import annotations

from django.urls import path

from rotation.api import views

rotation_urlpatterns = [
    path("", views.RotationListApi.as_view(), name="rotation-list"),
    path("<str:rotation>/", views.RotationDetailApi.as_view(), name="rotation-detail"),
    path("<str:rotation>/rotate/", views.RotationRotateApi.as_view(), name="rotation-rotate"),
    path("<str:rotation>/pause/", views.RotationPauseApi.as_view(), name="rotation-pause"),
    path("<str:rotation>/resume/", views.RotationResumeApi.as_view(), name="rotation-resume"),
    path("<str:rotation>/attempts/", views.RotationAttemptListApi.as_view(), name="rotation-attempts"),
]
