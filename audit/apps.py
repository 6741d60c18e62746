from __future__ import annotations

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from audit.maintenance import register_sqlite_function

        # The SQLite append-only triggers call a function that only exists on our connections.
        connection_created.connect(register_sqlite_function, dispatch_uid="audit.register_sqlite_function")
