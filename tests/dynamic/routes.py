"""The dynamic secrets API's routes as (method, pattern under /api/v1/), for the schema and access tests."""

from __future__ import annotations

from django.urls import URLPattern


def dynamic_api_routes() -> set[tuple[str, str]]:
    from dynamic.api.urls import dynamic_secret_urlpatterns, lease_urlpatterns, target_urlpatterns

    found: set[tuple[str, str]] = set()
    for prefix, patterns in (
        ("projects/<str:project>/dynamic-secrets/", dynamic_secret_urlpatterns),
        ("projects/<str:project>/leases/", lease_urlpatterns),
        ("organizations/<str:organization>/dynamic-secret-targets/", target_urlpatterns),
    ):
        for pattern in patterns:
            assert isinstance(pattern, URLPattern)
            view = pattern.callback.view_class  # type: ignore[attr-defined]
            for method in ("get", "post", "patch", "put", "delete"):
                if hasattr(view, method):
                    found.add((method, prefix + str(pattern.pattern)))
    return found


def ado_run_api_routes() -> set[tuple[str, str]]:
    """The run-scoped lease routes: the run hook's configuration and its receiver."""
    from dynamic.api.urls import ado_hook_receiver_urlpatterns, ado_run_hook_urlpatterns

    found: set[tuple[str, str]] = set()
    for prefix, patterns in (
        ("organizations/<str:organization>/ado-run-hooks/", ado_run_hook_urlpatterns),
        ("hooks/azure-devops/", ado_hook_receiver_urlpatterns),
    ):
        for pattern in patterns:
            assert isinstance(pattern, URLPattern)
            view = pattern.callback.view_class  # type: ignore[attr-defined]
            for method in ("get", "post", "patch", "put", "delete"):
                if hasattr(view, method):
                    found.add((method, prefix + str(pattern.pattern)))
    return found
