from __future__ import annotations

from django.apps import AppConfig


class SyncsConfig(AppConfig):
    name = "syncs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from syncs import receivers  # noqa: F401  (connects to secrets_app.events.secret_changed)
