from __future__ import annotations

from django.apps import AppConfig


class SyncsConfig(AppConfig):
    name = "syncs"
    default_auto_field = "django.db.models.BigAutoField"
