"""The sync API's routes as (method, pattern under /api/v1/), for the schema completeness test."""

from __future__ import annotations

from django.urls import URLPattern


def sync_api_routes() -> set[tuple[str, str]]:
    from syncs.api.urls import connection_urlpatterns, sync_urlpatterns

    found: set[tuple[str, str]] = set()
    for prefix, patterns in (
        ("connections/", connection_urlpatterns),
        ("projects/<str:project>/syncs/", sync_urlpatterns),
    ):
        for pattern in patterns:
            assert isinstance(pattern, URLPattern)
            view = pattern.callback.view_class  # type: ignore[attr-defined]
            for method in ("get", "post", "patch", "put", "delete"):
                if hasattr(view, method):
                    found.add((method, prefix + str(pattern.pattern)))
    return found
