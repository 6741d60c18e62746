from __future__ import annotations

from django.apps import AppConfig


class DynamicConfig(AppConfig):
    name = "dynamic"
    label = "dynamic"
    verbose_name = "Dynamic secrets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dynamic.services.ado_runs import record_run_claims
        from secrets_app.events import machine_login_verified

        # A pipeline token issued by Azure DevOps binds the leases its access token takes to its run.
        machine_login_verified.connect(record_run_claims, dispatch_uid="dynamic.ado_run_claims")
