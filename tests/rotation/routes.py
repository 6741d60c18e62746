"""The rotation API's routes as (method, pattern under /api/v1/), for the schema and access tests, and
the Infisical-compatible ones under /compat/infisical/ (for the access and audit tests; like every compat
route they are plain Django views, outside the OpenAPI schema, and listed in docs/compat.md)."""

from __future__ import annotations

from django.urls import URLPattern

PREFIX = "projects/<str:project>/rotations/"


def rotation_api_routes() -> set[tuple[str, str]]:
    from rotation.api.urls import rotation_urlpatterns

    found: set[tuple[str, str]] = set()
    for pattern in rotation_urlpatterns:
        assert isinstance(pattern, URLPattern)
        view = pattern.callback.view_class  # type: ignore[attr-defined]
        for method in ("get", "post", "patch", "put", "delete"):
            if hasattr(view, method):
                found.add((method, PREFIX + str(pattern.pattern)))
    return found


COMPAT_PREFIX = "compat/infisical/"


def rotation_compat_routes() -> set[tuple[str, str]]:
    """Infisical's Secret Rotation v2 routes (rotation/compat/) as (method, regex under /compat/infisical/)."""
    from rotation.compat.urls import urlpatterns

    found: set[tuple[str, str]] = set()
    for pattern in urlpatterns:
        view = pattern.callback.view_class  # type: ignore[attr-defined]
        for method in ("get", "post", "patch", "put", "delete"):
            if hasattr(view, method):
                found.add((method, COMPAT_PREFIX + str(pattern.pattern)))
    return found
