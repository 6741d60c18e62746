"""Quarantine reads: the "unused" candidates an admin quarantines from, and the quarantines of a
project with their refused reads. Both need ``governance.read`` in the project (refusals audited);
secrets the caller may not list (a path or tag rule) are left out."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from governance.models import GovernancePolicy, Quarantine, QuarantineStatus, SecretDelivery
from governance.policy import policy_for
from governance.selectors.risks import csv_lines  # the dashboard's CSV writer (CSV-injection safe)
from secrets_app.models import Secret, SecretType
from secrets_app.policy.enforcement import require
from secrets_app.selectors.access import ProjectScope

READ = "governance.read"


@dataclass(frozen=True)
class QuarantineCandidate:
    """A live secret whose value was not delivered for the policy's quarantine_after_days."""

    id: int
    environment: str
    path: str
    key: str
    created_at: datetime.datetime
    last_delivered_at: datetime.datetime | None
    idle_days: int  # since the last delivery, or since creation when never delivered

    @property
    def never_delivered(self) -> bool:
        return self.last_delivered_at is None


@dataclass(frozen=True)
class Candidates:
    policy: GovernancePolicy
    secrets: list[QuarantineCandidate]

    @property
    def offered(self) -> bool:
        """False when the project's policy offers no quarantine (quarantine_after_days unset)."""
        return self.policy.quarantine_after_days is not None


def _listable(scope: ProjectScope, environment: str, path: str, tags: list[str]) -> bool:
    return scope.access.can("secrets.read", environment=environment, path=path, tags=tags)


def quarantine_candidates(scope: ProjectScope, *, now: datetime.datetime | None = None) -> Candidates:
    """Live shared secrets, not quarantined, created at least quarantine_after_days ago and not
    delivered to anyone within that many days (never delivered counts), oldest delivery first.
    Empty when the project's policy offers no quarantine."""
    require(scope, READ)
    policy = policy_for(scope.project.pk)
    if policy.quarantine_after_days is None:
        return Candidates(policy=policy, secrets=[])
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=policy.quarantine_after_days)
    last = Subquery(
        SecretDelivery.objects.filter(secret_id=OuterRef("pk"))
        .order_by("-last_delivered_at")
        .values("last_delivered_at")[:1]
    )
    rows = (
        Secret.objects.filter(
            project=scope.project,
            type=SecretType.SHARED,
            deleted_at__isnull=True,
            quarantined_at__isnull=True,
            created_at__lt=cutoff,
        )
        .annotate(last=last)
        .select_related("environment", "folder")
        .prefetch_related("tags")
    )
    found = []
    for secret in rows:
        delivered = secret.last
        if delivered is not None and delivered >= cutoff:
            continue
        tags = [tag.slug for tag in secret.tags.all()]
        if not _listable(scope, secret.environment.slug, secret.folder.path, tags):
            continue
        found.append(
            QuarantineCandidate(
                id=secret.pk,
                environment=secret.environment.slug,
                path=secret.folder.path,
                key=secret.key,
                created_at=secret.created_at,
                last_delivered_at=delivered,
                idle_days=(now - (delivered or secret.created_at)).days,
            )
        )
    found.sort(key=lambda item: (-item.idle_days, item.environment, item.path, item.key))
    return Candidates(policy=policy, secrets=found)


def quarantine_list(scope: ProjectScope, *, status: str | None = QuarantineStatus.ACTIVE) -> list[Quarantine]:
    """The project's quarantines (newest first), of one status or all (``status=None``), each with
    its secret (environment and folder loaded); ones whose secret the caller may not list are left out."""
    require(scope, READ)
    rows = Quarantine.objects.filter(project=scope.project).select_related(
        "secret__environment", "secret__folder", "started_by", "ended_by"
    )
    if status is not None:
        rows = rows.filter(status=status)
    return [
        row
        for row in rows.prefetch_related("secret__tags").order_by("-started_at", "-id")[:1000]
        if _listable(
            scope, row.secret.environment.slug, row.secret.folder.path, [tag.slug for tag in row.secret.tags.all()]
        )
    ]


CANDIDATE_COLUMNS = ("secret_id", "environment", "path", "key", "created_at", "last_delivered_at", "idle_days")
QUARANTINE_COLUMNS = (
    "secret_id",
    "environment",
    "path",
    "key",
    "status",
    "reason",
    "started_at",
    "started_by",
    "ended_at",
    "refused_reads",
    "last_refused_at",
    "last_refused_to",
    "deletion_proposed_at",
)


def candidate_rows_csv(candidates: Candidates) -> Iterator[str]:
    """The candidates as CSV lines (header first); names and dates only."""
    return csv_lines(
        CANDIDATE_COLUMNS,
        (
            (c.id, c.environment, c.path, c.key, c.created_at, c.last_delivered_at, c.idle_days)
            for c in candidates.secrets
        ),
    )


def quarantine_rows_csv(rows: list[Quarantine]) -> Iterator[str]:
    """The quarantines as CSV lines (header first); names, dates and counts only."""
    return csv_lines(
        QUARANTINE_COLUMNS,
        (
            (
                row.secret_id,
                row.secret.environment.slug,
                row.secret.folder.path,
                row.secret.key,
                row.status,
                row.reason,
                row.started_at,
                row.started_by.get_username() if row.started_by else "",
                row.ended_at,
                row.refused_reads,
                row.last_refused_at,
                row.last_refused_to,
                row.deletion_proposed_at,
            )
            for row in rows
        ),
    )
