"""The approvals API's routes as (method, pattern under /api/v1/), for the schema and access tests."""

from __future__ import annotations

from django.urls import URLPattern


def approval_api_routes() -> set[tuple[str, str]]:
    from approvals.api.access_request_urls import access_request_urlpatterns, my_access_grant_urlpatterns
    from approvals.api.urls import change_request_urlpatterns, policy_urlpatterns

    found: set[tuple[str, str]] = set()
    for prefix, patterns in (
        ("projects/<str:project>/approval-policies/", policy_urlpatterns),
        ("projects/<str:project>/change-requests/", change_request_urlpatterns),
        ("projects/<str:project>/access-requests/", access_request_urlpatterns),
        ("me/access-grants/", my_access_grant_urlpatterns),
    ):
        for pattern in patterns:
            assert isinstance(pattern, URLPattern)
            view = pattern.callback.view_class  # type: ignore[attr-defined]
            for method in ("get", "post", "patch", "put", "delete"):
                if hasattr(view, method):
                    found.add((method, prefix + str(pattern.pattern)))
    return found
