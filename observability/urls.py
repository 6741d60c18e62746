"""``/metrics`` at the site root (included by config/urls.py)."""

from __future__ import annotations

from django.urls import path

from observability import views

urlpatterns = [path("metrics", views.metrics, name="metrics")]
