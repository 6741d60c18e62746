"""Editing a project's governance policy (its thresholds): ``governance.manage``, audited
``governance.policy_updated`` naming each changed field with its old and new value (numbers only)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from governance.models import GovernancePolicy
from secrets_app.errors import ValidationFailed
from secrets_app.policy.enforcement import require
from secrets_app.selectors.access import ProjectScope

# field -> (smallest, largest, may be None)
POLICY_FIELDS: dict[str, tuple[int, int, bool]] = {
    "stale_after_days": (1, 3650, False),
    "max_consumers": (1, 100000, False),
    "expiring_within_days": (0, 3650, False),
    "revealed_within_days": (0, 3650, False),
    "quarantine_after_days": (1, 3650, True),
    "delete_after_quarantine_days": (1, 3650, False),
}


def governance_policy_get(scope: ProjectScope) -> GovernancePolicy:
    """The project's policy (``governance.read``); the defaults, unsaved, when it has none."""
    from governance.policy import policy_for

    require(scope, "governance.read")
    return policy_for(scope.project.pk)


def governance_policy_update(*, scope: ProjectScope, changes: dict[str, Any]) -> GovernancePolicy:
    """Set the given thresholds (others stay). ValidationFailed naming the field for an unknown
    field or a value out of range; nothing is written then."""
    require(scope, "governance.manage")
    clean: dict[str, int | None] = {}
    for name, value in changes.items():
        if name not in POLICY_FIELDS:
            raise ValidationFailed(name, "is not a governance policy setting")
        low, high, nullable = POLICY_FIELDS[name]
        if value is None:
            if not nullable:
                raise ValidationFailed(name, "may not be empty")
            clean[name] = None
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValidationFailed(name, f"must be a whole number from {low} to {high}")
        clean[name] = value
    with transaction.atomic():
        policy, _created = GovernancePolicy.objects.select_for_update().get_or_create(project_id=scope.project.pk)
        changed = {
            name: [getattr(policy, name), value] for name, value in clean.items() if getattr(policy, name) != value
        }
        for name, (_old, new) in changed.items():
            setattr(policy, name, new)
        policy.save()
        scope.audit("governance.policy_updated", resource_type="governance_policy", metadata={"changed": changed})
    return policy
