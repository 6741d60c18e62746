from __future__ import annotations

from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from approvals.gate import change_request_gate
        from secrets_app.write_gate import write_gate_register

        write_gate_register(change_request_gate)

        # "Request access" on the core's 403/404 pages inside a project of one's organization.
        from approvals.ui.access_requests import request_access_offer
        from secrets_app.ui.framework import refusal_offer_register

        refusal_offer_register(request_access_offer)
