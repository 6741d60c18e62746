"""Temporary access grants: extra rules a person (or machine identity) holds in a project for a
window of time (what an approved access request grants).

Enforcement is not here: ``selectors.access.project_access`` adds the rules of the grants whose
window is open at the time of each check, so a grant stops working at ``ends_at`` whether or not
any worker runs. ``temporary_grants_tidy`` only records the end of each grant (``access.expired``)
for the audit log and the UI.

These services record; they do not decide who may grant. The caller (an approval workflow, an
admin action) checks that before calling.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.models import ActorType
from audit.services import AuditActor, audit_record
from secrets_app.errors import ValidationFailed
from secrets_app.models import MachineIdentity, Project, TemporaryAccessGrant
from secrets_app.paths import validate_path_glob
from secrets_app.policy import is_known_action_pattern

SYSTEM_ACTOR = AuditActor(type=ActorType.SYSTEM, id="temporary-grants", label="system:temporary-grants")
RULE_KEYS = {"effect", "action", "environments", "path", "tags"}


def _actor(user: Any) -> AuditActor:
    if user is None:
        return SYSTEM_ACTOR
    return AuditActor(type=ActorType.USER, id=str(user.pk), label=user.email or user.get_username())


def _clean_rules(rules: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    if not rules:
        raise ValidationFailed("rules", "a grant needs at least one rule")
    cleaned: list[dict[str, Any]] = []
    for index, rule in enumerate(rules):
        unknown = set(rule) - RULE_KEYS
        if unknown:
            raise ValidationFailed(f"rules[{index}]", f"unknown keys {sorted(unknown)}")
        effect = rule.get("effect", "allow")
        action = str(rule.get("action") or "")
        if effect not in ("allow", "deny"):
            raise ValidationFailed(f"rules[{index}].effect", "must be allow or deny")
        if not is_known_action_pattern(action):
            raise ValidationFailed(f"rules[{index}].action", f"unknown action {action!r}")
        cleaned.append(
            {
                "effect": effect,
                "action": action,
                "environments": sorted(str(env) for env in rule.get("environments") or []),
                "path": validate_path_glob(str(rule.get("path") or "/**"), field=f"rules[{index}].path"),
                "tags": sorted(str(tag) for tag in rule.get("tags") or []),
            }
        )
    return cleaned


def _grant_metadata(grant: TemporaryAccessGrant) -> dict[str, Any]:
    """Ids, actions, environments and paths only: never the reason (free text)."""
    return {
        "grantee": f"user:{grant.user_id}" if grant.user_id else f"identity:{grant.identity_id}",
        "source": grant.source,
        "starts_at": grant.starts_at.isoformat(),
        "ends_at": grant.ends_at.isoformat(),
        "rules": [
            {"effect": r["effect"], "action": r["action"], "environments": r["environments"], "path": r["path"]}
            for r in grant.rules
        ],
    }


def temporary_grant_create(
    *,
    project: Project,
    user: Any = None,
    identity: MachineIdentity | None = None,
    rules: Sequence[dict[str, Any]],
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    reason: str = "",
    source: str = "",
    created_by: Any = None,
) -> TemporaryAccessGrant:
    """Grant *rules* in *project* to one person (*user*) or machine *identity* from *starts_at*
    until *ends_at*; audited ``access.granted`` in the same transaction. Raises ValidationFailed for
    an empty window, unknown actions or bad paths."""
    if (user is None) == (identity is None):
        raise ValidationFailed("user", "a grant is for exactly one person or machine identity")
    if ends_at <= starts_at:
        raise ValidationFailed("ends_at", "must be after starts_at")
    cleaned = _clean_rules(rules)
    with transaction.atomic():
        grant = TemporaryAccessGrant.objects.create(
            project=project,
            user=user,
            identity=identity,
            rules=cleaned,
            reason=(reason or "")[:500],
            source=source[:120],
            starts_at=starts_at,
            ends_at=ends_at,
            created_by=created_by,
        )
        audit_record(
            action="access.granted",
            actor=_actor(created_by),
            organization_id=project.organization_id,
            project_id=project.pk,
            resource_type="temporary_grant",
            resource_id=str(grant.pk),
            metadata=_grant_metadata(grant),
        )
    return grant


def temporary_grant_revoke(*, grant: TemporaryAccessGrant, by: Any) -> TemporaryAccessGrant:
    """End a grant now (effective at the next permission check); audited ``access.revoked``.
    Idempotent: a grant already revoked or ended is returned unchanged and nothing is recorded."""
    now = timezone.now()
    with transaction.atomic():
        updated = TemporaryAccessGrant.objects.filter(pk=grant.pk, revoked_at__isnull=True, ends_at__gt=now).update(
            revoked_at=now, revoked_by=by
        )
        grant.refresh_from_db()
        if updated == 1:
            audit_record(
                action="access.revoked",
                actor=_actor(by),
                organization_id=grant.project.organization_id,
                project_id=grant.project_id,
                resource_type="temporary_grant",
                resource_id=str(grant.pk),
                metadata={**_grant_metadata(grant), "revoked_at": now.isoformat()},
            )
    return grant


def temporary_grants_tidy(*, limit: int = 500) -> int:
    """Beat: record ``access.expired`` once for each grant that has ended (not revoked). Display
    only: the permission check already ignores it. Claimed with a compare-and-set so two runs never
    record one grant twice. Returns how many were recorded."""
    now = timezone.now()
    ended = list(
        TemporaryAccessGrant.objects.filter(ends_at__lte=now, revoked_at__isnull=True, ended_recorded_at__isnull=True)
        .select_related("project")
        .order_by("ends_at", "id")[:limit]
    )
    recorded = 0
    for grant in ended:
        with transaction.atomic():
            claimed = TemporaryAccessGrant.objects.filter(pk=grant.pk, ended_recorded_at__isnull=True).update(
                ended_recorded_at=now
            )
            if claimed != 1:
                continue
            audit_record(
                action="access.expired",
                actor=SYSTEM_ACTOR,
                organization_id=grant.project.organization_id,
                project_id=grant.project_id,
                resource_type="temporary_grant",
                resource_id=str(grant.pk),
                metadata=_grant_metadata(grant),
            )
            recorded += 1
    return recorded
