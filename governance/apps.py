from __future__ import annotations

from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    """The governance dashboard and what acts on it (docs/governance.md): delivery bookkeeping and
    per-secret risk precomputed by beat from the audit log, quarantine, least-privilege proposals,
    environment parity and the Azure DevOps pipeline gate. Its own app: it reads the core, audit,
    dynamic and rotation data and notifies through ``notifications``; none of them imports it
    (the core asks it about quarantine through ``secrets_app.models.Secret.quarantined_at`` only)."""

    name = "governance"
    label = "governance"
    verbose_name = "Governance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A refused read of a quarantined secret is counted and alerts the owner (docs/governance.md).
        from governance.services.quarantine import quarantine_refusal_record
        from secrets_app.quarantine import quarantine_refusal_register

        quarantine_refusal_register(quarantine_refusal_record)
        import governance.gate.tasks  # noqa: F401  (the pipeline gate's callback and its reconciler)
        import governance.tasks_quarantine  # noqa: F401  (registers the beat task with Celery)
