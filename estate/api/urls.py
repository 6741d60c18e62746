"""Estate REST routes, mounted under ``/api/v1/organizations/<organization>/estate/`` (config/urls.py)
in the ``estate-api`` namespace. Scans, the inventory and findings are routed in ``urls_scans.py``;
imports in ``urls_imports.py``."""

from __future__ import annotations

from estate.api.urls_imports import urlpatterns as import_routes
from estate.api.urls_scans import urlpatterns as scan_routes

app_name = "estate-api"

urlpatterns = [*scan_routes, *import_routes]
