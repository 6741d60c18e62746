"""The day's figures of each organization and project (``GovernanceSnapshot``): counts the dashboard
shows and, one row per day, their trends (e.g. the stale-secret trend).

Every figure is a grouped count over the whole organization, so a refresh is a fixed number of
queries per organization whatever its number of projects. Within a day each refresh overwrites
that day's rows (delete and insert, under a lock); earlier days are never touched.

Figures (``figures`` JSON, the same keys for an organization and a project):

- ``secrets``: live shared secrets; ``environments``: {slug: live secrets} (an organization's adds
  up environments of the same slug) and, for an organization, ``projects``: {slug: live secrets};
- ``identities``: active machine identities (of the organization / members of the project);
  ``people``: active members of the organization / of the project (directly or through a group);
- ``syncs``: {total, healthy, failing} (failing: the last run failed or it is retrying);
- ``dynamic_secrets``, ``leases``: {live, irrevocable};
- ``rotations``: {total, ok, failing, overdue} (failing: retrying or failed; overdue: an unpaused
  rotation whose slot passed an hour ago without a run);
- ``approvals_pending``: open change requests + pending access requests;
- ``leak_flags``: active flags; ``quarantined``: quarantined live secrets;
- ``flags``: {flag: secrets with it} for every risk flag, and ``at_risk``: secrets with any flag;
- ``deliveries``: {events, keys} delivered that day.
"""

from __future__ import annotations

import datetime
from collections import Counter
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from governance.models import DeliveryDay, GovernanceSnapshot, SecretRisk
from governance.selectors.leaks import active_leak_flags
from governance.services.risk import FLAGS, ROTATION_GRACE
from secrets_app.models import (
    BookkeepingCursor,
    GroupMembership,
    IdentityProjectMembership,
    MachineIdentity,
    Organization,
    OrganizationMembership,
    Secret,
    SecretType,
)
from secrets_app.models.roles import ProjectMembership

LOCK = "governance-snapshots"
ORG = 0  # the organization's own bucket in the per-project counters


class _Figures:
    """Counters keyed by project id (and ``ORG`` for the organization's total)."""

    def __init__(self, project_slugs: dict[int, str]) -> None:
        self.slugs = project_slugs
        self.figures: dict[int, dict[str, Any]] = {pid: self._empty() for pid in [ORG, *project_slugs]}
        self.figures[ORG]["projects"] = {slug: 0 for slug in project_slugs.values()}

    @staticmethod
    def _empty() -> dict[str, Any]:
        return {
            "secrets": 0,
            "environments": {},
            "identities": 0,
            "people": 0,
            "syncs": {"total": 0, "healthy": 0, "failing": 0},
            "dynamic_secrets": 0,
            "leases": {"live": 0, "irrevocable": 0},
            "rotations": {"total": 0, "ok": 0, "failing": 0, "overdue": 0},
            "approvals_pending": 0,
            "leak_flags": 0,
            "quarantined": 0,
            "flags": {flag: 0 for flag in FLAGS},
            "at_risk": 0,
            "deliveries": {"events": 0, "keys": 0},
        }

    def add(self, project_id: int | None, path: str, amount: int, *, organization: bool = True) -> None:
        """Add *amount* at *path* ("a.b") to the project (when it is one of the organization's) and,
        unless *organization* is False, to the organization's total."""
        targets = [ORG] if organization else []
        if project_id in self.figures and project_id != ORG:
            targets.append(project_id)
        for target in targets:
            node = self.figures[target]
            *parents, leaf = path.split(".")
            for name in parents:
                node = node.setdefault(name, {})
            node[leaf] = node.get(leaf, 0) + amount


def _count_secrets(figures: _Figures, organization_id: int) -> None:
    rows = (
        Secret.objects.filter(project__organization_id=organization_id, deleted_at__isnull=True, type=SecretType.SHARED)
        .values("project_id", "environment__slug")
        .annotate(n=Count("id"), quarantined=Count("id", filter=Q(quarantined_at__isnull=False)))
    )
    for row in rows:
        project_id, slug = row["project_id"], row["environment__slug"]
        figures.add(project_id, "secrets", row["n"])
        figures.add(project_id, f"environments.{slug}", row["n"])
        figures.add(project_id, "quarantined", row["quarantined"])
        figures.figures[ORG]["projects"][figures.slugs[project_id]] += row["n"]


def _count_members(figures: _Figures, organization_id: int) -> None:
    figures.figures[ORG]["identities"] = MachineIdentity.objects.filter(
        organization_id=organization_id, is_active=True
    ).count()
    figures.figures[ORG]["people"] = OrganizationMembership.objects.filter(
        organization_id=organization_id, user__is_active=True
    ).count()
    identities = (
        IdentityProjectMembership.objects.filter(project__organization_id=organization_id, identity__is_active=True)
        .values("project_id")
        .annotate(n=Count("identity_id", distinct=True))
    )
    for row in identities:
        figures.add(row["project_id"], "identities", row["n"], organization=False)
    # People of a project: its members and the members of its groups, each once.
    people: dict[int, set[int]] = {}
    direct = ProjectMembership.objects.filter(project__organization_id=organization_id, user__is_active=True)
    grouped = GroupMembership.objects.filter(
        group__organization_id=organization_id, user__is_active=True, group__project_memberships__isnull=False
    )
    for project_id, user_id in [
        *direct.values_list("project_id", "user_id"),
        *grouped.values_list("group__project_memberships__project_id", "user_id"),
    ]:
        people.setdefault(project_id, set()).add(user_id)
    for project_id, users in people.items():
        figures.add(project_id, "people", len(users), organization=False)


def _count_operations(figures: _Figures, organization_id: int, now: datetime.datetime) -> None:
    from approvals.models import AccessRequest, AccessRequestStatus, ChangeRequest, RequestStatus
    from dynamic.models import LIVE_STATUSES, DynamicSecret, Lease, LeaseStatus
    from rotation.models import Rotation
    from syncs.models import SecretSync, SyncStatus

    in_org = {"project__organization_id": organization_id}
    syncs = (
        SecretSync.objects.filter(**in_org)
        .values("project_id")
        .annotate(total=Count("id"), failing=Count("id", filter=Q(status=SyncStatus.FAILED) | Q(attempts__gt=0)))
    )
    for row in syncs:
        figures.add(row["project_id"], "syncs.total", row["total"])
        figures.add(row["project_id"], "syncs.failing", row["failing"])
        figures.add(row["project_id"], "syncs.healthy", row["total"] - row["failing"])
    for row in DynamicSecret.objects.filter(**in_org).values("project_id").annotate(n=Count("id")):
        figures.add(row["project_id"], "dynamic_secrets", row["n"])
    leases = (
        Lease.objects.filter(organization_id_snapshot=organization_id, status__in=LIVE_STATUSES)
        .values("project_id_snapshot")
        .annotate(live=Count("id"), irrevocable=Count("id", filter=Q(status=LeaseStatus.IRREVOCABLE)))
    )
    for row in leases:
        figures.add(row["project_id_snapshot"], "leases.live", row["live"])
        figures.add(row["project_id_snapshot"], "leases.irrevocable", row["irrevocable"])
    failing = Q(status__in=("retrying", "failed"))
    overdue = ~failing & Q(paused=False, next_run_at__lt=now - ROTATION_GRACE)
    rotations = (
        Rotation.objects.filter(**in_org)
        .values("project_id")
        .annotate(total=Count("id"), failing=Count("id", filter=failing), overdue=Count("id", filter=overdue))
    )
    for row in rotations:
        figures.add(row["project_id"], "rotations.total", row["total"])
        figures.add(row["project_id"], "rotations.failing", row["failing"])
        figures.add(row["project_id"], "rotations.overdue", row["overdue"])
        figures.add(row["project_id"], "rotations.ok", row["total"] - row["failing"] - row["overdue"])
    changes = ChangeRequest.objects.filter(status=RequestStatus.OPEN, **in_org)
    accesses = AccessRequest.objects.filter(status=AccessRequestStatus.PENDING, **in_org)
    for queryset in (changes, accesses):
        for row in queryset.values("project_id").annotate(n=Count("id")):
            figures.add(row["project_id"], "approvals_pending", row["n"])
    leaks = Counter(
        active_leak_flags().filter(project__organization_id=organization_id).values_list("project_id", flat=True)
    )
    for project_id, n in leaks.items():
        figures.add(project_id, "leak_flags", n)


def _count_risk(figures: _Figures, organization_id: int, day: datetime.date) -> None:
    aggregates = {flag: Count("secret_id", filter=Q(**{flag: True})) for flag in FLAGS}
    rows = (
        SecretRisk.objects.filter(organization_id=organization_id)
        .values("project_id")
        .annotate(at_risk=Count("secret_id", filter=Q(score__gt=0)), **aggregates)
    )
    for row in rows:
        for flag in FLAGS:
            figures.add(row["project_id"], f"flags.{flag}", row[flag])
        figures.add(row["project_id"], "at_risk", row["at_risk"])
    days = (
        DeliveryDay.objects.filter(organization_id=organization_id, day=day)
        .values("project_id")
        .annotate(events=Sum("events"), keys=Sum("keys"))
    )
    for row in days:
        figures.add(row["project_id"], "deliveries.events", row["events"] or 0)
        figures.add(row["project_id"], "deliveries.keys", row["keys"] or 0)


def organization_figures(organization_id: int, *, now: datetime.datetime | None = None) -> dict[int, dict[str, Any]]:
    """project id -> figures, and 0 -> the organization's (computed now, not stored)."""
    from secrets_app.models import Project

    now = now or timezone.now()
    slugs = dict(Project.objects.filter(organization_id=organization_id).values_list("pk", "slug"))
    figures = _Figures(slugs)
    _count_secrets(figures, organization_id)
    _count_members(figures, organization_id)
    _count_operations(figures, organization_id, now)
    _count_risk(figures, organization_id, now.astimezone(datetime.UTC).date())
    return figures.figures


def snapshots_refresh(*, organization_id: int | None = None) -> int:
    """Write today's snapshot of each organization (or one) and of each of its projects, replacing
    any written earlier today. Returns how many rows were written."""
    now = timezone.now()
    day = now.astimezone(datetime.UTC).date()
    organizations = Organization.objects.order_by("pk").values_list("pk", flat=True)
    if organization_id is not None:
        organizations = organizations.filter(pk=organization_id)
    written = 0
    for org_id in organizations:
        with transaction.atomic():
            BookkeepingCursor.objects.select_for_update().get_or_create(name=LOCK)
            figures = organization_figures(org_id, now=now)
            rows = [
                GovernanceSnapshot(
                    organization_id=org_id,
                    project_id=None if key == ORG else key,
                    day=day,
                    figures=values,
                    computed_at=now,
                )
                for key, values in figures.items()
            ]
            GovernanceSnapshot.objects.filter(organization_id=org_id, day=day).delete()
            GovernanceSnapshot.objects.bulk_create(rows)
            written += len(rows)
    return written
