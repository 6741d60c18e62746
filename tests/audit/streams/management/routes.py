"""The audit streams API's routes as (method, pattern under /api/v1/), for the schema and access tests."""

from __future__ import annotations

from django.urls import URLPattern

STREAMS_PREFIX = "organizations/<str:organization>/audit-streams/"
KINDS_PREFIX = "audit-stream-kinds/"


def audit_stream_api_routes() -> set[tuple[str, str]]:
    from audit.streams.api.urls import kind_urlpatterns, stream_urlpatterns

    found: set[tuple[str, str]] = set()
    for prefix, patterns in ((STREAMS_PREFIX, stream_urlpatterns), (KINDS_PREFIX, kind_urlpatterns)):
        for pattern in patterns:
            assert isinstance(pattern, URLPattern)
            view = pattern.callback.view_class  # type: ignore[attr-defined]
            for method in ("get", "post", "patch", "put", "delete"):
                if hasattr(view, method):
                    found.add((method, prefix + str(pattern.pattern)))
    return found
