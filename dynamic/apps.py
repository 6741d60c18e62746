from __future__ import annotations

from django.apps import AppConfig


class DynamicConfig(AppConfig):
    name = "dynamic"
    label = "dynamic"
    verbose_name = "Dynamic secrets"
    default_auto_field = "django.db.models.BigAutoField"
