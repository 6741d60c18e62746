"""The estate API's routes as (method, pattern under /api/v1/), for the route-wide tests (access
matrix, schema): scans, the inventory and findings, and imports."""

from __future__ import annotations

from django.urls import URLPattern

PREFIX = "organizations/<str:organization>/estate/"


def estate_api_routes() -> set[tuple[str, str]]:
    from estate.api.urls import urlpatterns

    found: set[tuple[str, str]] = set()
    for pattern in urlpatterns:
        assert isinstance(pattern, URLPattern)
        view = pattern.callback.view_class  # type: ignore[attr-defined]
        for method in ("get", "post", "patch", "put", "delete"):
            if hasattr(view, method):
                found.add((method, PREFIX + str(pattern.pattern)))
    return found
