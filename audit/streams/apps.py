from __future__ import annotations

from django.apps import AppConfig


class AuditStreamsConfig(AppConfig):
    """Audit streams are their own app (label ``audit_streams``): unlike the audit core, which imports
    no other app, a stream belongs to an organization and seals its credentials with the root key."""

    name = "audit.streams"
    label = "audit_streams"
    default_auto_field = "django.db.models.BigAutoField"
