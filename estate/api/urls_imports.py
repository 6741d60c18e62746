"""Estate REST routes for imports (included by ``estate/api/urls.py``)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
