"""Health probes at the site root (included by config/urls.py): no auth, no session, no secrets."""

from __future__ import annotations

from django.urls import path

from secrets_app import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]
