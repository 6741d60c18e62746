"""Routes of Infisical's Secret Rotation v2 under ``/compat/infisical/`` (config/urls.py), with the
optional trailing slash of every compat route. ``rotation-name/{name}`` has one segment more than
``{rotationId}``, so the two never meet."""

from __future__ import annotations

from rotation.compat.views import (
    SecretRotationListView,
    TypedRotationByNameView,
    TypedRotationItemView,
    TypedRotationListView,
    TypedRotationRotateView,
)
from secrets_app.compat.urls import route

TYPE = r"(?P<kind_type>[^/]+)"
ROTATION = r"(?P<rotation_id>[^/]+)"
NAME = r"(?P<name>[^/]+)"

urlpatterns = [
    route(r"api/v2/secret-rotations", SecretRotationListView.as_view(), "secret-rotations"),
    route(rf"api/v2/secret-rotations/{TYPE}", TypedRotationListView.as_view(), "secret-rotations-of-type"),
    route(
        rf"api/v2/secret-rotations/{TYPE}/rotation-name/{NAME}",
        TypedRotationByNameView.as_view(),
        "secret-rotation-by-name",
    ),
    route(rf"api/v2/secret-rotations/{TYPE}/{ROTATION}", TypedRotationItemView.as_view(), "secret-rotation"),
    route(
        rf"api/v2/secret-rotations/{TYPE}/{ROTATION}/rotate-secrets",
        TypedRotationRotateView.as_view(),
        "secret-rotation-rotate",
    ),
]
