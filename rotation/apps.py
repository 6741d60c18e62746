from __future__ import annotations

from django.apps import AppConfig


class RotationConfig(AppConfig):
    """Rotation of stored credentials (docs/rotation.md). Its own app, like ``dynamic``: it depends
    on the core (secret writes), ``dynamic`` (targets, sealing style, database drivers) and
    ``notifications``; none of them imports it."""

    name = "rotation"
    label = "rotation"
    verbose_name = "Rotation"
    default_auto_field = "django.db.models.BigAutoField"
