"""Estate REST routes, mounted under ``/api/v1/organizations/<organization>/estate/`` (config/urls.py)
in the ``estate-api`` namespace. Scans and the inventory live in ``views_scans.py``; imports in
``views_imports.py``."""

from __future__ import annotations

from django.urls import path  # noqa: F401

app_name = "estate-api"

urlpatterns: list = []
