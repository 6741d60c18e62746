"""The governance API's routes as (method, pattern under /api/v1/), for the schema test: every part
of governance (dashboard, parity, least privilege, quarantine, leak flags, pipeline gate)."""

from __future__ import annotations

from django.urls import URLPattern


def governance_api_routes() -> set[tuple[str, str]]:
    from governance.api.urls import urlpatterns

    found: set[tuple[str, str]] = set()
    for pattern in urlpatterns:
        assert isinstance(pattern, URLPattern)
        view = pattern.callback.view_class  # type: ignore[attr-defined]
        for method in ("get", "post", "patch", "put", "delete"):
            if hasattr(view, method):
                found.add((method, str(pattern.pattern)))
    return found
