"""Reads of dynamic secrets and leases, filtered by the caller's access (the one place it happens).

Definitions need ``secrets.read`` at their place; leases need ``secrets.read_value`` (see
``dynamic.services.common``). Something the caller may not see is a 404, as if it did not exist.
"""

from __future__ import annotations

import uuid

from django.db.models import Count, Q, QuerySet

from dynamic.models import LIVE_STATUSES, DynamicSecret, Lease, LeaseStatus, TargetAllowlist
from dynamic.services.common import LEASE, READ_DEFINITION, require_lease, require_read_definition
from secrets_app.errors import NotFound
from secrets_app.paths import canonical_path
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.tree import folder_get


def _with_counts(query: QuerySet[DynamicSecret]) -> QuerySet[DynamicSecret]:
    return query.select_related("environment", "folder").annotate(
        live_leases=Count("leases", filter=Q(leases__status__in=LIVE_STATUSES))
    )


def dynamic_secret_list(scope: ProjectScope, *, environment: str, path: str = "/") -> list[DynamicSecret]:
    """The dynamic secrets of one folder (403, audited, without ``secrets.read`` there)."""
    path = canonical_path(path)
    require_read_definition(scope, environment=environment, path=path)
    _, folder = folder_get(scope, environment, path)
    return list(_with_counts(DynamicSecret.objects.filter(folder=folder)).order_by("name"))


def dynamic_secret_get(scope: ProjectScope, *, environment: str, path: str, name: str) -> DynamicSecret:
    """One dynamic secret by name in a folder; NotFound otherwise (also when invisible)."""
    path = canonical_path(path)
    require_read_definition(scope, environment=environment, path=path, resource=name)
    _, folder = folder_get(scope, environment, path)
    secret = _with_counts(DynamicSecret.objects.filter(folder=folder, name=(name or "").lower())).first()
    if secret is None:
        raise NotFound("Dynamic secret not found", fields={"name": ["not found"]})
    return secret


def dynamic_secret_by_id(scope: ProjectScope, ref: str) -> DynamicSecret:
    """One dynamic secret of the project by public id; NotFound when missing or unreadable."""
    try:
        secret = _with_counts(
            DynamicSecret.objects.filter(project=scope.project, public_id=uuid.UUID(str(ref)))
        ).first()
    except ValueError:
        secret = None
    if secret is None or not scope.access.can(
        READ_DEFINITION, environment=secret.environment.slug, path=secret.folder.path, tags=()
    ):
        raise NotFound("Dynamic secret not found")
    return secret


def lease_get(scope: ProjectScope, ref: str) -> Lease:
    """One lease of the project by id; NotFound when missing, 403 (audited) without the lease right."""
    try:
        lease = Lease.objects.filter(project=scope.project, public_id=uuid.UUID(str(ref))).first()
    except ValueError:
        lease = None
    if lease is None:
        raise NotFound("Lease not found")
    require_lease(scope, environment=lease.environment_slug, path=lease.path, resource=str(lease.public_id))
    return lease


def lease_list(
    scope: ProjectScope,
    *,
    secret: DynamicSecret | None = None,
    environment: str | None = None,
    path: str | None = None,
    status: str | None = None,
) -> list[Lease]:
    """Leases of one dynamic secret (``secret``), or of the project filtered by place and status;
    only those at places where the caller holds ``secrets.read_value``."""
    query = Lease.objects.filter(project=scope.project)
    if secret is not None:
        require_lease(
            scope, environment=secret.environment.slug, path=secret.folder.path, resource=str(secret.public_id)
        )
        query = query.filter(dynamic_secret=secret)
    if environment:
        query = query.filter(environment_slug=environment)
    if path:
        query = query.filter(path=canonical_path(path))
    if status == "live":
        query = query.filter(status__in=LIVE_STATUSES)
    elif status:
        query = query.filter(status=status)
    return [
        lease
        for lease in query.order_by("-created_at", "-id")[:1000]
        if scope.access.can(LEASE, environment=lease.environment_slug, path=lease.path, tags=())
    ]


def irrevocable_count(scope: ProjectScope) -> int:
    return Lease.objects.filter(project=scope.project, status=LeaseStatus.IRREVOCABLE).count()


def target_allowlist(organization_id: int) -> list[str]:
    row = TargetAllowlist.objects.filter(organization_id=organization_id).first()
    return list(row.entries) if row is not None else []


def irrevocable_counts(secrets: list[DynamicSecret]) -> dict[int, int]:
    """Irrevocable leases per dynamic secret id, for *secrets* the caller was already allowed to
    list (the folder view flags them next to the live lease count)."""
    rows = (
        Lease.objects.filter(dynamic_secret__in=secrets, status=LeaseStatus.IRREVOCABLE)
        .values("dynamic_secret_id")
        .annotate(count=Count("id"))
    )
    return {row["dynamic_secret_id"]: row["count"] for row in rows}
