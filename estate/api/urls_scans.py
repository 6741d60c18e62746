"""Estate REST routes for scans (included by ``estate/api/urls.py``)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
