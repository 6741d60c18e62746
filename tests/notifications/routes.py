"""The notifications API's routes as (method, pattern under /api/v1/), for the schema completeness test."""

from __future__ import annotations

from django.urls import URLPattern


def notification_api_routes() -> set[tuple[str, str]]:
    from notifications.api.urls import channel_urlpatterns, delivery_urlpatterns

    found: set[tuple[str, str]] = set()
    for prefix, patterns in (
        ("notification-channels/", channel_urlpatterns),
        ("notification-deliveries/", delivery_urlpatterns),
    ):
        for pattern in patterns:
            assert isinstance(pattern, URLPattern)
            view = pattern.callback.view_class  # type: ignore[attr-defined]
            for method in ("get", "post", "patch", "put", "delete"):
                if hasattr(view, method):
                    found.add((method, prefix + str(pattern.pattern)))
    return found
