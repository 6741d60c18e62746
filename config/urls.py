from __future__ import annotations

from django.urls import include, path

from syncs.api.urls import connection_urlpatterns, sync_urlpatterns

urlpatterns = [
    path("", include("secrets_app.health_urls")),
    path("api/v1/connections/", include((connection_urlpatterns, "syncs-api"), namespace="connections-api")),
    path("api/v1/projects/<str:project>/syncs/", include((sync_urlpatterns, "syncs-api"), namespace="syncs-api")),
    path("api/", include("secrets_app.api.urls")),
    path("compat/infisical/", include("secrets_app.compat.urls")),
    path("scim/v2/", include("secrets_app.scim.urls")),
    path("", include("secrets_app.scim.ui_urls")),
    path("", include("syncs.ui.urls")),
    path("", include("approvals.ui.urls")),
    path("", include("secrets_app.ui.urls")),
]

# Unmatched URLs under /api/ answer the API's JSON error shape; elsewhere Django's page.
handler404 = "secrets_app.api.errors.not_found"
