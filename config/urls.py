from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("", include("secrets_app.health_urls")),
    path("api/", include("secrets_app.api.urls")),
    path("compat/infisical/", include("secrets_app.compat.urls")),
    path("", include("secrets_app.ui.urls")),
]
