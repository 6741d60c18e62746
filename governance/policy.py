"""The governance thresholds of a project: its ``GovernancePolicy`` row, or the defaults."""

from __future__ import annotations

from governance.models import GovernancePolicy


def policy_for(project_id: int) -> GovernancePolicy:
    """The project's policy; an unsaved row with the model's defaults when it has none."""
    found = GovernancePolicy.objects.filter(project_id=project_id).first()
    return found if found is not None else GovernancePolicy(project_id=project_id)


def policies_for(project_ids: list[int]) -> dict[int, GovernancePolicy]:
    """Each project's policy (defaults for those without a row), in one query."""
    found = {row.project_id: row for row in GovernancePolicy.objects.filter(project_id__in=project_ids)}
    return {pid: found.get(pid) or GovernancePolicy(project_id=pid) for pid in project_ids}
