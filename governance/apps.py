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
