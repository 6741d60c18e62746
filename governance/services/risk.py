"""Per-secret risk: one ``SecretRisk`` row per live shared secret, recomputed by beat from what is
already recorded (secrets and versions, deliveries, rotations, leak flags, policies).

A refresh of one organization is a fixed number of statements whatever its size: the secrets with
their newest version, the deliveries, the owners, the rotations, the leak flags and the policies
are read in one query each; values are compared per project in memory (``governance.values``:
keyed digests that are never stored); the rows are written with one upsert (``services.upsert``),
and rows of secrets that are no longer live are deleted.

Personal overrides are left out: they belong to one person and are not what the dashboard governs.

Weights (``WEIGHTS``): the score is the sum of the weights of the flags that are set, for sorting
the list "most at risk first". A leak outweighs everything else; then an expired value, an overdue
rotation and a production value shared with another environment.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from governance.models import ConsumerKind, SecretDelivery, SecretRisk
from governance.policy import policies_for
from governance.selectors.leaks import leaked_secret_ids
from governance.services.upsert import replace_all, rows_upsert
from governance.values import equal_value_groups
from secrets_app.models import BookkeepingCursor, Organization, Secret, SecretType, SecretVersion
from secrets_app.selectors.rotation_policies import rotation_due_at

logger = logging.getLogger("strongroom.governance")

LOCK = "governance-risk"
WEIGHTS: dict[str, int] = {
    "leaked": 40,
    "expired": 25,
    "rotation_overdue": 20,
    "same_value": 15,
    "over_shared": 10,
    "owner_deactivated": 10,
    "owner_missing": 8,
    "revealed_recently": 8,
    "expiring": 8,
    "quarantined": 5,
    "stale": 5,
    "never_delivered": 3,
}
FLAGS = tuple(WEIGHTS)
# A scheduled rotation counts as overdue when its slot passed this long ago without a run (the
# dispatcher runs every minute; a worker may be busy).
ROTATION_GRACE = datetime.timedelta(hours=1)
FAILING_ROTATION_STATUSES = ("retrying", "failed")
FIELDS = [
    "organization_id",
    "project",
    "environment",
    "path",
    "key",
    "version",
    "created_at",
    "changed_at",
    "last_rotated_at",
    "rotation_due_at",
    "expires_at",
    "last_delivered_at",
    "last_delivered_to",
    "consumers",
    "owner_id",
    "owner_label",
    "last_revealed_at",
    "last_revealed_by",
    "same_value_in",
    "quarantined_at",
    *FLAGS,
    "score",
    "computed_at",
]


@dataclass
class _Usage:
    last_at: datetime.datetime | None = None
    last_to: str = ""
    consumers: int = 0
    revealed_at: datetime.datetime | None = None
    revealed_by: str = ""


@dataclass
class _Managed:
    """What the rotation app says about a secret it keeps current."""

    due_at: datetime.datetime | None = None
    failing: bool = False
    last_rotated_at: datetime.datetime | None = None
    names: list[str] = field(default_factory=list)


def _usage(organization_id: int) -> dict[int, _Usage]:
    found: dict[int, _Usage] = defaultdict(_Usage)
    rows = SecretDelivery.objects.filter(project__organization_id=organization_id).values_list(
        "secret_id", "consumer_kind", "consumer_label", "last_delivered_at", "last_revealed_at"
    )
    for secret_id, kind, label, last_at, revealed_at in rows.iterator(chunk_size=5000):
        usage = found[secret_id]
        usage.consumers += 1
        if usage.last_at is None or last_at > usage.last_at:
            usage.last_at, usage.last_to = last_at, label
        if kind == ConsumerKind.USER and revealed_at is not None:
            if usage.revealed_at is None or revealed_at > usage.revealed_at:
                usage.revealed_at, usage.revealed_by = revealed_at, label
    return found


def _managed(organization_id: int) -> dict[tuple[int, str], _Managed]:
    """(folder id, key) -> the rotation that owns it."""
    from rotation.models import Rotation

    found: dict[tuple[int, str], _Managed] = {}
    rows = Rotation.objects.filter(project__organization_id=organization_id).values(
        "folder_id", "secrets_mapping", "paused", "next_run_at", "status", "last_rotated_at", "name"
    )
    for row in rows:
        due = None if row["paused"] else row["next_run_at"]
        failing = row["status"] in FAILING_ROTATION_STATUSES
        for key in (row["secrets_mapping"] or {}).values():
            entry = found.setdefault((row["folder_id"], str(key)), _Managed())
            entry.names.append(row["name"])
            entry.failing = entry.failing or failing
            if due is not None and (entry.due_at is None or due < entry.due_at):
                entry.due_at = due
            if row["last_rotated_at"] and (
                entry.last_rotated_at is None or row["last_rotated_at"] > entry.last_rotated_at
            ):
                entry.last_rotated_at = row["last_rotated_at"]
    return found


def _owners(user_ids: set[int]) -> dict[int, tuple[str, bool]]:
    users = get_user_model().objects.filter(pk__in=user_ids)
    return {pk: (username, active) for pk, username, active in users.values_list("pk", "username", "is_active")}


def _same_values(secrets: list[Any], env_slugs: dict[int, str]) -> dict[int, list[str]]:
    """secret id -> slugs of the other environments of its project holding the same key at the same
    path with an equal value."""
    places: dict[tuple[int, str, str], list[dict[str, Any]]] = defaultdict(list)
    for secret in secrets:
        places[(secret["project_id"], secret["folder__path"], secret["key"])].append(secret)
    by_project: dict[int, list[int]] = defaultdict(list)
    for (project_id, _, _), group in places.items():
        if len(group) > 1:
            by_project[project_id].extend(secret["id"] for secret in group)
    place_of = {secret["id"]: (secret["folder__path"], secret["key"]) for secret in secrets}
    env_of = {secret["id"]: secret["environment_id"] for secret in secrets}
    found: dict[int, list[str]] = {}
    for project_id, ids in by_project.items():
        try:
            groups = equal_value_groups(ids)
        except Exception:  # noqa: BLE001 - a sealed keyring or a bad ciphertext skips the comparison only
            logger.warning("governance: could not compare values of project %s", project_id)
            continue
        for equal in groups:
            for secret_id in equal:
                others = {
                    env_slugs[env_of[other]]
                    for other in equal
                    if other != secret_id and place_of[other] == place_of[secret_id]
                }
                if others:
                    found[secret_id] = sorted(others)
    return found


def _organization_refresh(organization_id: int, now: datetime.datetime) -> int:
    # One refresh at a time: a slower, older one must not overwrite a newer one's rows.
    with transaction.atomic():
        BookkeepingCursor.objects.select_for_update().get_or_create(name=LOCK)
        return _organization_compute(organization_id, now)


def _organization_compute(organization_id: int, now: datetime.datetime) -> int:
    secrets = list(
        Secret.objects.filter(
            project__organization_id=organization_id, deleted_at__isnull=True, type=SecretType.SHARED
        ).values(
            "id",
            "project_id",
            "environment_id",
            "environment__slug",
            "folder_id",
            "folder__path",
            "key",
            "version",
            "created_at",
            "created_by_id",
            "owner_label",
            "rotation_owner_id",
            "rotation_interval_days",
            "rotation_due_at",
            "last_rotated_at",
            "expires_at",
            "quarantined_at",
        )
    )
    changed = dict(
        SecretVersion.objects.filter(
            secret__project__organization_id=organization_id,
            secret__deleted_at__isnull=True,
            version=F("secret__version"),
        ).values_list("secret_id", "created_at")
    )
    usage = _usage(organization_id)
    managed = _managed(organization_id)
    owners = _owners({s["rotation_owner_id"] or s["created_by_id"] for s in secrets} - {None})
    project_ids = sorted({s["project_id"] for s in secrets})
    policies = policies_for(project_ids)
    leaked = leaked_secret_ids(project_ids=project_ids)
    env_slugs = {s["environment_id"]: s["environment__slug"] for s in secrets}
    same = _same_values(secrets, env_slugs)

    rows = []
    for s in secrets:
        policy = policies[s["project_id"]]
        changed_at = changed.get(s["id"], s["created_at"])
        used = usage.get(s["id"]) or _Usage()
        rotation = managed.get((s["folder_id"], s["key"]))
        due = rotation_due_at(
            last_change=changed_at, interval_days=s["rotation_interval_days"], marked_at=s["rotation_due_at"]
        )
        last_rotated = s["last_rotated_at"]
        overdue = due is not None and due <= now
        if rotation is not None:
            if rotation.due_at is not None and (due is None or rotation.due_at < due):
                due = rotation.due_at
            overdue = (
                overdue or rotation.failing or (rotation.due_at is not None and rotation.due_at <= now - ROTATION_GRACE)
            )
            if rotation.last_rotated_at and (last_rotated is None or rotation.last_rotated_at > last_rotated):
                last_rotated = rotation.last_rotated_at
        owner_id = s["rotation_owner_id"] or s["created_by_id"]
        owner_label, owner_active = owners.get(owner_id, ("", True)) if owner_id else (s["owner_label"], True)
        expires = s["expires_at"]
        flags = {
            "never_delivered": used.last_at is None,
            "stale": used.last_at is not None and used.last_at < now - datetime.timedelta(days=policy.stale_after_days),
            "expiring": expires is not None
            and now < expires <= now + datetime.timedelta(days=policy.expiring_within_days),
            "expired": expires is not None and expires <= now,
            "rotation_overdue": overdue,
            "owner_missing": not owner_label,
            "owner_deactivated": bool(owner_id) and not owner_active,
            "over_shared": used.consumers > policy.max_consumers,
            "same_value": s["id"] in same,
            "revealed_recently": used.revealed_at is not None
            and used.revealed_at >= now - datetime.timedelta(days=policy.revealed_within_days),
            "leaked": s["id"] in leaked,
            "quarantined": s["quarantined_at"] is not None,
        }
        rows.append(
            {
                "secret": s["id"],
                "organization_id": organization_id,
                "project": s["project_id"],
                "environment": s["environment_id"],
                "path": s["folder__path"],
                "key": s["key"],
                "version": s["version"],
                "created_at": s["created_at"],
                "changed_at": changed_at,
                "last_rotated_at": last_rotated,
                "rotation_due_at": due,
                "expires_at": expires,
                "last_delivered_at": used.last_at,
                "last_delivered_to": used.last_to[:200],
                "consumers": used.consumers,
                "owner_id": owner_id,
                "owner_label": (owner_label or "")[:200],
                "last_revealed_at": used.revealed_at,
                "last_revealed_by": used.revealed_by[:200],
                "same_value_in": same.get(s["id"], []),
                "quarantined_at": s["quarantined_at"],
                **flags,
                "score": sum(WEIGHTS[name] for name, on in flags.items() if on),
                "computed_at": now,
            }
        )
    rows_upsert(SecretRisk, rows, conflict=["secret"], updates=replace_all(SecretRisk, FIELDS))
    # Rows of secrets deleted (or turned personal) since the last refresh.
    SecretRisk.objects.filter(organization_id=organization_id).filter(
        Q(secret__deleted_at__isnull=False) | ~Q(secret__type=SecretType.SHARED)
    ).delete()
    return len(rows)


def risk_refresh(*, organization_id: int | None = None) -> int:
    """Recompute the risk rows of one organization (or all). Idempotent; rows of secrets that were
    deleted (or became personal) since are removed. Returns how many rows were written."""
    now = timezone.now()
    organizations = Organization.objects.order_by("pk").values_list("pk", flat=True)
    if organization_id is not None:
        organizations = organizations.filter(pk=organization_id)
    return sum(_organization_refresh(pk, now) for pk in organizations)


__all__ = ["FLAGS", "WEIGHTS", "risk_refresh"]
