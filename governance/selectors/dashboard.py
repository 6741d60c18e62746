"""The dashboard's figures and charts, read from the precomputed governance tables (``SecretRisk``,
``DeliveryDay``, ``GovernanceSnapshot``) and a few grouped counts of the core's own tables.

Never the audit log: a page costs a fixed, small number of aggregate queries whatever the number of
secrets or events (the dashboard of 10,000 secrets and 1 million audit rows renders in well under a
second, ``make bench``). The caller's reach is a ``DashboardScope`` (``governance.selectors.scope``):
every query here is filtered to its project ids."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, IntegerField, Max, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from governance.models import DeliveryDay, GovernanceSnapshot, SecretRisk
from governance.selectors.scope import DashboardScope
from secrets_app.models import MachineIdentity

# The risk flags, in the order the dashboard shows them: (SecretRisk field, label).
FLAGS: tuple[tuple[str, str], ...] = (
    ("never_delivered", "Never delivered"),
    ("stale", "Stale (not delivered lately)"),
    ("expiring", "Expiring soon"),
    ("expired", "Expired"),
    ("rotation_overdue", "Rotation overdue"),
    ("owner_missing", "Owner missing"),
    ("owner_deactivated", "Owner deactivated"),
    ("over_shared", "Over-shared"),
    ("same_value", "Same value across environments"),
    ("revealed_recently", "Revealed recently"),
    ("leaked", "Leaked"),
    ("quarantined", "Quarantined"),
)
FLAG_NAMES = tuple(name for name, _ in FLAGS)

# Age since the last change (the newest version): (key, label, lower bound in days, upper bound).
AGE_BUCKETS: tuple[tuple[str, str, int, int | None], ...] = (
    ("lt30", "< 30 days", 0, 30),
    ("30_90", "30–90 days", 30, 90),
    ("90_180", "90–180 days", 90, 180),
    ("180_365", "180–365 days", 180, 365),
    ("gt365", "> 1 year", 365, None),
)

# The counted figures (snapshot keys too): (key, label).
COUNTS: tuple[tuple[str, str], ...] = (
    ("secrets", "Secrets"),
    ("identities", "Machine identities"),
    ("people", "People"),
    ("syncs_healthy", "Syncs healthy"),
    ("syncs_failing", "Syncs failing"),
    ("dynamic_secrets", "Dynamic secrets"),
    ("live_leases", "Live leases"),
    ("rotations_ok", "Rotations OK"),
    ("rotations_failing", "Rotations failing"),
    ("rotations_overdue", "Rotations overdue"),
    ("pending_approvals", "Pending approvals"),
    ("leaked", "Leak flags"),
    ("quarantined", "Quarantined"),
)

# Counted from SecretRisk (the risk list's rows), not from the core's tables.
LISTED = ("secrets", "leaked", "quarantined")
TREND_DAYS = 7  # deltas compare with the snapshot this many days ago
CHART_DAYS = 30  # reads over time and the stale trend
TOP_CONSUMERS = 10


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    value: int
    previous: int | None  # the value TREND_DAYS ago (None: no snapshot that old)

    @property
    def delta(self) -> int | None:
        return None if self.previous is None else self.value - self.previous


def _risk_aggregates(project_ids: tuple[int, ...], now: datetime.datetime) -> dict[str, Any]:
    aggregates: dict[str, Any] = {
        "secrets": Count("secret_id"),
        "computed_at": Max("computed_at"),
        "at_risk": Count("secret_id", filter=_any_flag()),
    }
    for name in FLAG_NAMES:
        aggregates[f"flag_{name}"] = Count("secret_id", filter=Q(**{name: True}))
    for key, *_ in AGE_BUCKETS:
        aggregates[f"age_{key}"] = Count("secret_id", filter=age_q(key, now))
    return aggregates


def age_q(bucket: str, now: datetime.datetime) -> Q:
    """Secrets whose last change falls in the age bucket *bucket* (a key of AGE_BUCKETS)."""
    _, _, low, high = next(b for b in AGE_BUCKETS if b[0] == bucket)
    condition = Q(changed_at__lte=now - datetime.timedelta(days=low))
    if high is not None:
        condition &= Q(changed_at__gt=now - datetime.timedelta(days=high))
    return condition


def _any_flag() -> Q:
    condition = Q()
    for name in FLAG_NAMES:
        condition |= Q(**{name: True})
    return condition


def _risk_rows(scope: DashboardScope, now: datetime.datetime) -> list[dict[str, Any]]:
    """Per project and environment: the number of secrets, of each flag, and of each age bucket (one query)."""
    return list(
        SecretRisk.objects.filter(project_id__in=scope.project_ids)
        .values("project_id", "environment_id", "environment__slug", "environment__position")
        .annotate(**_risk_aggregates(scope.project_ids, now))
        .order_by("project_id", "environment__position", "environment_id")
    )


# Where each count lives in a ``GovernanceSnapshot.figures`` (governance.services.snapshots).
FIGURE_PATHS: dict[str, str] = {
    "secrets": "secrets",
    "identities": "identities",
    "people": "people",
    "syncs_healthy": "syncs.healthy",
    "syncs_failing": "syncs.failing",
    "dynamic_secrets": "dynamic_secrets",
    "live_leases": "leases.live",
    "rotations_ok": "rotations.ok",
    "rotations_failing": "rotations.failing",
    "rotations_overdue": "rotations.overdue",
    "pending_approvals": "approvals_pending",
    "leaked": "leak_flags",
    "quarantined": "quarantined",
    **{name: f"flags.{name}" for name in FLAG_NAMES if name not in ("leaked", "quarantined")},
}


def flatten_figures(figures: dict[str, Any]) -> dict[str, int]:
    """A snapshot's (or ``organization_figures``') nested figures as the dashboard's flat keys."""
    flat: dict[str, int] = {}
    for key, path in FIGURE_PATHS.items():
        node: Any = figures
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, int | float) and not isinstance(node, bool):
            flat[key] = int(node)
    found = figures.get("flags")
    flags: dict[str, Any] = found if isinstance(found, dict) else {}
    for name in ("leaked", "quarantined"):
        if isinstance(flags.get(name), int):
            flat[f"flag_{name}"] = int(flags[name])
    return flat


def _core_counts(scope: DashboardScope, now: datetime.datetime) -> dict[int, dict[str, int]]:
    """Per project id (0: the organization's own totals): the counts of the core's tables, with the
    definitions the daily snapshots use, so today's value and last week's compare like for like
    (a fixed number of grouped queries over the organization)."""
    from governance.services.snapshots import organization_figures

    figures = organization_figures(scope.organization.pk, now=now)
    return {pid: flatten_figures(values) for pid, values in figures.items()}


def _snapshots(scope: DashboardScope, since: datetime.date) -> dict[datetime.date, dict[str, Any]]:
    """Figures per day since *since*: the organization's own row when the caller sees the whole
    organization, else the sum of its projects' rows (one query)."""
    rows = GovernanceSnapshot.objects.filter(organization_id=scope.organization.pk, day__gte=since)
    if scope.whole_organization and scope.project is None:
        rows = rows.filter(project__isnull=True)
    else:
        rows = rows.filter(project_id__in=scope.project_ids)
    days: dict[datetime.date, dict[str, Any]] = {}
    for day, figures in rows.order_by("day").values_list("day", "figures"):
        summed = days.setdefault(day, {})
        for key, value in flatten_figures(figures or {}).items():
            summed[key] = summed.get(key, 0) + value
    return days


def _previous(days: dict[datetime.date, dict[str, Any]], today: datetime.date) -> dict[str, Any] | None:
    """The newest snapshot at least TREND_DAYS old."""
    target = today - datetime.timedelta(days=TREND_DAYS)
    older = [day for day in days if day <= target]
    return days[max(older)] if older else None


def dashboard_figures(scope: DashboardScope, *, now: datetime.datetime | None = None) -> dict[str, Any]:
    """Everything the dashboard shows, for the scope's projects: counts with their trend, risk flag
    counts, per project and environment rows, and the charts' data. Plain data (JSON-ready except
    ``Figure`` objects in ``counts`` and dates)."""
    now = now or timezone.now()
    today = now.date()
    risk = _risk_rows(scope, now)
    core = _core_counts(scope, now)
    snapshots = _snapshots(scope, today - datetime.timedelta(days=CHART_DAYS))
    previous = _previous(snapshots, today)

    flags = dict.fromkeys(FLAG_NAMES, 0)
    ages = {key: 0 for key, *_ in AGE_BUCKETS}
    per_project: dict[int, dict[str, Any]] = {}
    by_id = {p.pk: p for p in scope.projects}
    for project in scope.projects:
        per_project[project.pk] = {
            "project": project,
            "slug": project.slug,
            "name": project.name,
            "secrets": 0,
            "at_risk": 0,
            "flagged": dict.fromkeys(FLAG_NAMES, 0),
            "environments": [],
            **{key: core.get(project.pk, {}).get(key, 0) for key, _ in COUNTS if key not in LISTED},
        }
    for row in risk:
        entry = per_project[row["project_id"]]
        entry["secrets"] += row["secrets"]
        entry["at_risk"] += row["at_risk"]
        env_flags = {name: row[f"flag_{name}"] for name in FLAG_NAMES}
        entry["environments"].append({"slug": row["environment__slug"], "secrets": row["secrets"], "flags": env_flags})
        for name in FLAG_NAMES:
            entry["flagged"][name] += env_flags[name]
            flags[name] += env_flags[name]
        for key in ages:
            ages[key] += row[f"age_{key}"]
    totals: dict[str, int] = defaultdict(int)
    if scope.project is None and scope.whole_organization:
        totals.update(core.get(0, {}))  # the organization's own (people and identities in no project too)
    else:
        for entry in per_project.values():
            for key, _ in COUNTS:
                if key not in LISTED:
                    totals[key] += entry[key]
    # The counts behind a list are the list's own rows (SecretRisk), so a click shows that many.
    totals["secrets"] = sum(entry["secrets"] for entry in per_project.values())
    totals["leaked"] = flags["leaked"]
    totals["quarantined"] = flags["quarantined"]

    def was(key: str) -> int | None:
        if previous is None or key not in previous:
            return None
        return int(previous[key])

    counts = [Figure(key, label, totals[key], was(key)) for key, label in COUNTS]
    flag_figures = [Figure(name, label, flags[name], was(name)) for name, label in FLAGS]
    return {
        "computed_at": max((row["computed_at"] for row in risk if row["computed_at"]), default=None),
        "counts": counts,
        "flags": flag_figures,
        "projects": [per_project[pid] for pid in by_id],
        "charts": {
            "age": [{"bucket": key, "label": label, "count": ages[key]} for key, label, *_ in AGE_BUCKETS],
            "reads": reads_per_environment(scope, today=today),
            "top_consumers": top_consumers(scope, today=today),
            "stale_trend": [
                {"day": day, "stale": figures.get("stale", 0), "never_delivered": figures.get("never_delivered", 0)}
                for day, figures in sorted(snapshots.items())
            ],
        },
    }


def reads_per_environment(scope: DashboardScope, *, today: datetime.date, days: int = CHART_DAYS) -> dict[str, Any]:
    """Read events that delivered values, per environment slug and day, over the last *days* days
    (today included): ``{"days": [...], "series": [{"environment", "values", "total"}]}`` (one query)."""
    start = today - datetime.timedelta(days=days - 1)
    axis = [start + datetime.timedelta(days=i) for i in range(days)]
    rows = (
        DeliveryDay.objects.filter(project_id__in=scope.project_ids, day__gte=start, day__lte=today)
        .values("environment", "day")
        .annotate(events=Coalesce(Sum("events"), 0, output_field=IntegerField()))
    )
    series: dict[str, dict[datetime.date, int]] = defaultdict(dict)
    for row in rows:
        series[row["environment"]][row["day"]] = row["events"]
    return {
        "days": axis,
        "series": [
            {"environment": env, "values": [values.get(day, 0) for day in axis], "total": sum(values.values())}
            for env, values in sorted(series.items())
        ],
    }


def top_consumers(
    scope: DashboardScope, *, today: datetime.date, days: int = CHART_DAYS, limit: int = TOP_CONSUMERS
) -> list[dict[str, Any]]:
    """The consumers that were delivered the most over the last *days* days: read events and keys
    delivered, most events first (one query, plus one for the identities' public ids)."""
    start = today - datetime.timedelta(days=days - 1)
    rows = list(
        DeliveryDay.objects.filter(project_id__in=scope.project_ids, day__gte=start, day__lte=today)
        .values("consumer_kind", "consumer_id")
        .annotate(
            events=Coalesce(Sum("events"), 0, output_field=IntegerField()),
            keys=Coalesce(Sum("keys"), 0, output_field=IntegerField()),
            label=Max("consumer_label"),
        )
        .order_by("-events", "-keys", "consumer_kind", "consumer_id")[:limit]
    )
    identity_ids = [row["consumer_id"] for row in rows if row["consumer_kind"] == "identity"]
    public = (
        dict(MachineIdentity.objects.filter(pk__in=identity_ids).values_list("pk", "public_id")) if identity_ids else {}
    )
    return [
        {
            "kind": row["consumer_kind"],
            "id": row["consumer_id"],
            "label": row["label"] or f"{row['consumer_kind']} {row['consumer_id']}",
            "identity_public_id": public.get(row["consumer_id"]) if row["consumer_kind"] == "identity" else None,
            "events": row["events"],
            "keys": row["keys"],
        }
        for row in rows
    ]
