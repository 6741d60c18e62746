from __future__ import annotations

from django.apps import AppConfig


class EstateConfig(AppConfig):
    """The Azure DevOps estate: discovery of what secrets already live in Azure DevOps, findings,
    and guided import into Strongroom (docs/ado-migration.md)."""

    name = "estate"
    default_auto_field = "django.db.models.BigAutoField"
