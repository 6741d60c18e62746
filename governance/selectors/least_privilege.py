"""Least-privilege proposals: for each machine identity in a project, what its role grants against
what it was actually *delivered* (and wrote) over the last N days, and a narrower rule set.

Granted: the compiled rules of its membership (built-in or custom role, ``membership_rules``).
Delivered: ``SecretDelivery`` rows of the identity (``last_delivered_at`` within N days), filled by
the deliveries engine from the audit log. Requested and written: one bounded query on the audit
log for the project (the identity's read and write events in the window, grouped by action,
environment and folder: ``project_id`` and ``action`` are indexed), so a recursive read from a
folder above what it was delivered still passes the folder's gate after narrowing.

The proposal (``Proposal``):

- nothing delivered and nothing written in N days: **remove** (the built-in ``no-access``);
- else **narrow**: ``secrets.read`` + ``secrets.read_value`` in the environments where values
  were delivered, at the tightest globs covering the delivered folders (``/backend/api/**``; a
  folder below another one delivered is covered by it); ``secrets.read`` alone (names) at exactly
  the other folders its reads started from (a recursive read from above, an import); write
  actions only where writes were seen (read-only otherwise). Every proposed rule is intersected with the current rules (their tags
  and paths kept) and the current deny rules are carried over, so applying never widens access
  (checked with the containment proof ``grants_beyond``);
- **keep** when the current rules grant nothing beyond the proposal (after an apply, re-reading
  the proposal proposes nothing further).

"Delivered" is the honest word: a list or ``run`` delivers every key of the folder, used or not.
"""

from __future__ import annotations

import datetime
import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db.models import Count, Max
from django.utils import timezone

from audit.models import ActorType, AuditEvent
from governance.models import ConsumerKind, SecretDelivery
from secrets_app.errors import NotFound, ValidationFailed
from secrets_app.models import IdentityProjectMembership, MachineIdentity, Project
from secrets_app.paths import path_matches, path_segments
from secrets_app.policy import Rule, grants_beyond
from secrets_app.policy.enforcement import require
from secrets_app.policy.globs import glob_subsumes
from secrets_app.selectors.access import ProjectScope, membership_rules

DEFAULT_DAYS = 30
MAX_DAYS = 365
READ_VALUE_ACTIONS = ("secrets.read", "secrets.read_value")
READ_EVENTS = ("secret.values_read", "secret.value_read", "secret.listed")
# audit action of a write -> the permission it used
WRITE_EVENTS: dict[str, tuple[str, ...]] = {
    "secret.created": ("secrets.create",),
    "secret.updated": ("secrets.edit",),
    "secret.deleted": ("secrets.delete",),
    "secret.bulk_upserted": ("secrets.create", "secrets.edit"),
    "secret.rolled_back": ("secrets.rollback",),
}
# Past this many separate folders in one environment, one glob at their common ancestor.
MAX_GLOBS_PER_ENVIRONMENT = 8


class ProposalKind:
    NARROW = "narrow"
    REMOVE = "remove"
    KEEP = "keep"


@dataclass
class DeliveredFolder:
    environment: str
    path: str
    keys: list[str]
    deliveries: int
    last_delivered_at: datetime.datetime


@dataclass
class WrittenFolder:
    environment: str
    path: str
    actions: list[str]  # audit actions (secret.created, …)
    events: int
    last_at: datetime.datetime


@dataclass
class Proposal:
    kind: str
    rules: tuple[Rule, ...] = ()
    reasons: list[str] = field(default_factory=list)

    @property
    def descriptions(self) -> list[str]:
        return [rule.describe() for rule in self.rules]

    @property
    def fingerprint(self) -> str:
        """Short digest of the proposal (kind and rules): an apply names the proposal it saw, so a
        proposal that changed in between is refused instead of applied unseen."""
        text = "\n".join([self.kind, *sorted(self.descriptions)])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class IdentityAccess:
    """Granted vs delivered for one identity in one project, and the proposal."""

    identity: MachineIdentity
    membership: IdentityProjectMembership
    role: str
    granted: tuple[Rule, ...]
    delivered: list[DeliveredFolder]
    written: list[WrittenFolder]
    requested: list[tuple[str, str]]  # (environment, folder) its reads started from
    proposal: Proposal
    days: int

    @property
    def granted_descriptions(self) -> list[str]:
        return [rule.describe() for rule in self.granted]

    @property
    def delivered_keys(self) -> int:
        return sum(len(folder.keys) for folder in self.delivered)

    @property
    def delivered_environments(self) -> list[str]:
        return sorted({folder.environment for folder in self.delivered})


def clean_days(days: int | str | None) -> int:
    """The window in days (default 30); ValidationFailed naming ``days`` outside 1..365."""
    if days in (None, ""):
        return DEFAULT_DAYS
    try:
        value = int(days)
    except (TypeError, ValueError):
        raise ValidationFailed("days", "must be a whole number of days") from None
    if not 1 <= value <= MAX_DAYS:
        raise ValidationFailed("days", f"must be between 1 and {MAX_DAYS}")
    return value


# --- the proposal (pure) ---------------------------------------------------------------------------


def _glob_of(folder: str) -> str:
    return "/**" if folder == "/" else folder + "/**"


def _is_below(path: str, ancestor: str) -> bool:
    return ancestor == "/" or path == ancestor or path.startswith(ancestor + "/")


def tight_globs(folders: set[str]) -> list[str]:
    """The fewest ``<folder>/**`` globs covering *folders* (a folder below another is covered by
    it); past MAX_GLOBS_PER_ENVIRONMENT, one glob at their common ancestor."""
    kept: list[str] = []
    for folder in sorted(folders, key=lambda item: (len(path_segments(item)), item)):
        if not any(_is_below(folder, ancestor) for ancestor in kept):
            kept.append(folder)
    if len(kept) > MAX_GLOBS_PER_ENVIRONMENT:
        common = path_segments(kept[0])
        for folder in kept[1:]:
            segments = path_segments(folder)
            size = 0
            while size < min(len(common), len(segments)) and common[size] == segments[size]:
                size += 1
            common = common[:size]
        kept = ["/" + "/".join(common)]
    return [_glob_of(folder) for folder in sorted(kept)]


def _intersect(wanted: Rule, held: Rule) -> Rule | None:
    """The part of *wanted* (one allow, one environment or all) that *held* (an allow) grants."""
    if not held.covers_action(wanted.action):
        return None
    if held.environments and not (wanted.environments and wanted.environments <= held.environments):
        return None
    if glob_subsumes(held.path, wanted.path):
        path = wanted.path
    elif glob_subsumes(wanted.path, held.path):
        path = held.path
    else:
        return None
    return Rule("allow", wanted.action, wanted.environments, path, held.tags)


def _merged(rules: list[Rule]) -> tuple[Rule, ...]:
    """Allow rules differing only in their environments become one rule naming them all."""
    groups: dict[tuple[str, str, str, frozenset[str]], set[str]] = defaultdict(set)
    order: list[tuple[str, str, str, frozenset[str]]] = []
    for rule in rules:
        key = (rule.effect, rule.action, rule.path, rule.tags)
        if key not in groups:
            order.append(key)
        groups[key] |= set(rule.environments)
    return tuple(
        Rule(effect, action, frozenset(groups[(effect, action, path, tags)]), path, tags)
        for effect, action, path, tags in order
    )


def propose(
    granted: tuple[Rule, ...],
    delivered: list[DeliveredFolder],
    written: list[WrittenFolder],
    requested: list[tuple[str, str]],
) -> Proposal:
    """The narrower rule set for an identity holding *granted* (pure; see the module docstring)."""
    allows = [rule for rule in granted if not rule.is_deny]
    if not delivered and not written:
        if not allows:
            return Proposal(ProposalKind.KEEP, (), ["It holds no rights here already."])
        reasons = ["Nothing was delivered to it and it wrote nothing here."]
        if requested:
            listed = ", ".join(f"{path} in {environment}" for environment, path in sorted(set(requested))[:5])
            reasons.append(f"It only listed names ({listed}).")
        return Proposal(ProposalKind.REMOVE, (), reasons)
    wanted: list[Rule] = []
    folders: dict[str, set[str]] = defaultdict(set)
    for folder in delivered:
        folders[folder.environment].add(folder.path)
    value_globs: dict[str, list[str]] = {env: tight_globs(paths) for env, paths in folders.items()}
    for environment, globs in sorted(value_globs.items()):
        for glob in globs:
            wanted.extend(Rule("allow", action, frozenset({environment}), glob) for action in READ_VALUE_ACTIONS)
    for environment, start in sorted(set(requested)):
        # Names at the folder a read started from (a recursive read from above, an import, a list
        # of names): the read passes that folder's check; its values stay out of reach.
        if not any(path_matches(glob, start) for glob in value_globs.get(environment, [])):
            wanted.append(Rule("allow", "secrets.read", frozenset({environment}), start))
    writes: dict[tuple[str, str], set[str]] = defaultdict(set)
    written_folders: dict[str, set[str]] = defaultdict(set)
    for change in written:
        written_folders[change.environment].add(change.path)
    for environment, paths in written_folders.items():
        for glob in tight_globs(paths):
            for change in written:
                if change.environment == environment and path_matches(glob, change.path):
                    for action in change.actions:
                        writes[(environment, glob)].update(WRITE_EVENTS.get(action, ()))
    for (environment, glob), actions in sorted(writes.items()):
        wanted.extend(Rule("allow", action, frozenset({environment}), glob) for action in sorted(actions))
    inside = [found for rule in wanted for held in allows if (found := _intersect(rule, held)) is not None]
    proposed_allows = _merged(list(dict.fromkeys(inside)))
    denies = tuple(
        rule for rule in granted if rule.is_deny and any(rule.covers_action(allow.action) for allow in proposed_allows)
    )
    rules = proposed_allows + denies
    if grants_beyond(rules, granted):
        # Never reached with the rules above; if it were, proposing nothing beats widening.
        return Proposal(ProposalKind.KEEP, (), ["No narrower rule set inside the current role was found."])
    if not grants_beyond(granted, rules):
        return Proposal(ProposalKind.KEEP, rules, ["The role grants nothing beyond what it used."])
    reasons = ["Read-only: it wrote nothing here."] if not written else []
    return Proposal(ProposalKind.NARROW, rules, reasons)


# --- reads ----------------------------------------------------------------------------------------


def _since(days: int, now: datetime.datetime | None) -> datetime.datetime:
    return (now or timezone.now()) - datetime.timedelta(days=days)


def _delivered(project: Project, identity_ids: list[int], since: datetime.datetime) -> dict[int, list[DeliveredFolder]]:
    rows = (
        SecretDelivery.objects.filter(
            project=project,
            consumer_kind=ConsumerKind.IDENTITY,
            consumer_id__in=identity_ids,
            last_delivered_at__gte=since,
        )
        .values_list(
            "consumer_id", "secret__environment__slug", "secret__folder__path", "secret__key", "deliveries",
            "last_delivered_at",
        )
        .order_by("consumer_id", "secret__environment__position", "secret__folder__path", "secret__key")
    )  # fmt: skip
    found: dict[int, dict[tuple[str, str], DeliveredFolder]] = defaultdict(dict)
    for consumer_id, environment, path, key, count, last in rows:
        folder = found[consumer_id].get((environment, path))
        if folder is None:
            found[consumer_id][(environment, path)] = DeliveredFolder(environment, path, [key], count, last)
            continue
        if key not in folder.keys:
            folder.keys.append(key)
        folder.deliveries += count
        folder.last_delivered_at = max(folder.last_delivered_at, last)
    return {consumer_id: list(folders.values()) for consumer_id, folders in found.items()}


def _activity(
    project: Project, identity_ids: list[int], since: datetime.datetime
) -> tuple[dict[int, list[WrittenFolder]], dict[int, list[tuple[str, str]]]]:
    """The identities' writes and the folders their reads started from, in one grouped query on
    the project's audit events of those actions in the window."""
    rows = (
        AuditEvent.objects.filter(
            project_id=project.pk,
            action__in=[*WRITE_EVENTS, *READ_EVENTS],
            occurred_at__gte=since,
            outcome="allow",
            actor_type=ActorType.IDENTITY,
            actor_id__in=[str(identity_id) for identity_id in identity_ids],
        )
        .values("actor_id", "action", "environment", "path")
        .annotate(events=Count("id"), last_at=Max("occurred_at"))
        .order_by("actor_id", "environment", "path", "action")
    )
    writes: dict[int, dict[tuple[str, str], WrittenFolder]] = defaultdict(dict)
    starts: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for row in rows:
        identity_id = int(row["actor_id"])
        place = (row["environment"], row["path"] or "/")
        if row["action"] in READ_EVENTS:
            if place not in starts[identity_id]:
                starts[identity_id].append(place)
            continue
        seen = writes[identity_id].get(place)
        if seen is None:
            writes[identity_id][place] = WrittenFolder(
                place[0], place[1], [row["action"]], row["events"], row["last_at"]
            )
        else:
            seen.actions.append(row["action"])
            seen.events += row["events"]
            seen.last_at = max(seen.last_at, row["last_at"])
    return {key: list(value.values()) for key, value in writes.items()}, dict(starts)


def _memberships(project: Project) -> list[IdentityProjectMembership]:
    return list(
        IdentityProjectMembership.objects.filter(project=project)
        .select_related("identity", "custom_role")
        .prefetch_related("custom_role__rules")
        .order_by("identity__name")
    )


def identity_accesses(
    *, project: Project, memberships: list[IdentityProjectMembership], days: int, now: datetime.datetime | None = None
) -> list[IdentityAccess]:
    """Granted vs delivered and the proposal for each of *memberships* (no permission check: the
    callers below and ``least_privilege_apply`` check). Three queries whatever the count."""
    if not memberships:
        return []
    since = _since(days, now)
    ids = [membership.identity_id for membership in memberships]
    delivered = _delivered(project, ids, since)
    written, requested = _activity(project, ids, since)
    result = []
    for membership in memberships:
        granted = membership_rules(membership)
        mine_delivered = delivered.get(membership.identity_id, [])
        mine_written = written.get(membership.identity_id, [])
        mine_requested = requested.get(membership.identity_id, [])
        result.append(
            IdentityAccess(
                identity=membership.identity,
                membership=membership,
                role=membership.role_slug,
                granted=granted,
                delivered=mine_delivered,
                written=mine_written,
                requested=mine_requested,
                proposal=propose(granted, mine_delivered, mine_written, mine_requested),
                days=days,
            )
        )
    return result


def least_privilege_proposals(scope: ProjectScope, *, days: int | str | None = None) -> list[IdentityAccess]:
    """Every machine identity of the project with its proposal. Needs ``governance.read``."""
    window = clean_days(days)
    require(scope, "governance.read")
    return identity_accesses(project=scope.project, memberships=_memberships(scope.project), days=window)


def identity_membership_get(project: Project, identity_ref: str | uuid.UUID) -> IdentityProjectMembership:
    """The identity's membership in *project*, by the identity's public id; NotFound otherwise."""
    try:
        public_id = uuid.UUID(str(identity_ref))
    except ValueError:
        raise NotFound("Identity not found") from None
    membership = (
        IdentityProjectMembership.objects.filter(project=project, identity__public_id=public_id)
        .select_related("identity", "custom_role")
        .prefetch_related("custom_role__rules")
        .first()
    )
    if membership is None:
        raise NotFound("Identity not found in this project")
    return membership


def identity_access(
    scope: ProjectScope, identity_ref: str | uuid.UUID, *, days: int | str | None = None
) -> IdentityAccess:
    """One identity's granted vs delivered and proposal. Needs ``governance.read``; NotFound for an
    identity that is not in the project."""
    window = clean_days(days)
    require(scope, "governance.read")
    membership = identity_membership_get(scope.project, identity_ref)
    return identity_accesses(project=scope.project, memberships=[membership], days=window)[0]


def proposal_rows_csv(accesses: list[IdentityAccess]) -> Iterator[str]:
    """One row per identity: its role, what was delivered to it, and the proposal (rules in words)."""
    from governance.selectors.risks import csv_lines

    rows = [
        (
            access.identity.name,
            access.role,
            " | ".join(rule.describe() for rule in access.granted),
            " | ".join(f"{item.environment}:{item.path} ({len(item.keys)} keys)" for item in access.delivered),
            access.proposal.kind,
            " | ".join(rule.describe() for rule in access.proposal.rules),
            " ".join(access.proposal.reasons),
        )
        for access in accesses
    ]
    header = ("identity", "role", "granted", "delivered", "proposal", "proposed_rules", "reasons")
    return csv_lines(header, rows)
