"""Environment parity: before promoting (staging → prod), which keys are missing in the target,
which are extra there, and which hold the *same value* in both (a warning: prod should not share
staging's credentials).

Two entry points:

- ``parity_between`` compares as the system, with no permission check (the pipeline gate decides
  for a gate an admin configured; it audits its own decision).
- ``environment_parity`` is for people and tokens: it needs ``secrets.read`` in both environments
  at the path (the decision point ``require``), compares only what the caller may list, and says
  "same value" only for keys whose values it may read in both (``secrets.read_value``); anything
  else is reported as *unknown*, never inferred. One audit event, ``environment.parity_checked``,
  names the environments, counts and keys (a comparison reads values: it is recorded like one).

Only shared secrets take part (a personal override is one person's, not the environment's).
Quarantined secrets count as present, and are marked. Values are compared by
``governance.values.equal_value_groups`` (in-process keyed digests): no value or digest is kept,
returned or recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db.models import Q

from governance.values import equal_value_groups
from secrets_app.errors import ValidationFailed
from secrets_app.keyring import keyring
from secrets_app.models import Environment, Project, Secret, SecretType
from secrets_app.paths import canonical_path, path_matches, validate_path_glob
from secrets_app.policy import ProjectAccess
from secrets_app.policy.enforcement import require
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.tree import environment_get

PARITY_CHECKED = "environment.parity_checked"
AUDITED_KEYS_LIMIT = 200

Place = tuple[str, str]  # (folder path, key)


class Unknown:
    """Why a key's parity could not be decided for the caller."""

    PRESENCE = "presence"  # present on one side; the caller may not list the other side there
    VALUE = "value"  # present in both; the caller may not read the value in one of them


@dataclass
class ParityReport:
    """``missing``: in source, not in target. ``extra``: in target, not in source. ``same_value``:
    present in both with equal values (a warning). ``unknown``: (path, key, reason) the caller
    could not decide (``Unknown``). ``quarantined``: environment slug -> places quarantined there
    (present, but a read would be refused). ``ok`` is true when nothing is missing, and nothing
    could be (no key is unknown for ``Unknown.PRESENCE``)."""

    source: str
    target: str
    paths: list[str]
    recursive: bool
    missing: list[Place] = field(default_factory=list)
    extra: list[Place] = field(default_factory=list)
    same_value: list[Place] = field(default_factory=list)
    unknown: list[tuple[str, str, str]] = field(default_factory=list)
    quarantined: dict[str, list[Place]] = field(default_factory=dict)
    compared: int = 0  # keys present in both whose values were compared

    @property
    def ok(self) -> bool:
        return not self.missing and not any(reason == Unknown.PRESENCE for _, _, reason in self.unknown)

    def is_quarantined(self, environment: str, place: Place) -> bool:
        return place in self.quarantined.get(environment, [])

    def counts(self) -> dict[str, int]:
        return {
            "missing": len(self.missing),
            "extra": len(self.extra),
            "same_value": len(self.same_value),
            "unknown": len(self.unknown),
            "compared": self.compared,
        }


@dataclass(frozen=True)
class _Found:
    id: int
    tags: frozenset[str]
    quarantined: bool


def path_selection(paths: Iterable[str], recursive: bool) -> tuple[Q | None, list[str]]:
    """A filter on ``folder__path`` for *paths* (canonical folders, or segment globs with ``*``;
    None: no filter) and the globs every row must finally match (the filter is a cheap superset)."""
    prefixes: list[tuple[str, bool]] = []  # (folder path, and the folders below it)
    globs: list[str] = []
    for raw in paths:
        if "*" in raw or "?" in raw:
            glob = validate_path_glob(raw, field="paths")
            globs.append(glob)
            fixed = []
            for segment in glob.split("/")[1:]:
                if "*" in segment or "?" in segment:
                    break
                fixed.append(segment)
            prefixes.append(("/" + "/".join(fixed), True))
            continue
        path = canonical_path(raw, field="paths")
        globs.append((path.rstrip("/") + "/**") if recursive else path)
        prefixes.append((path, recursive))
    if any(prefix == "/" and below for prefix, below in prefixes):
        return None, globs
    query = Q(pk__in=[])
    for prefix, below in prefixes:
        query |= Q(folder__path=prefix)
        if below:
            query |= Q(folder__path__startswith=prefix + "/")
    return query, globs


def _secrets_at(environment: Environment, query: Q | None, globs: list[str]) -> dict[Place, _Found]:
    """(path, key) -> the live shared secret there, for the folders *query* / *globs* select."""
    live = Secret.objects.filter(environment=environment, deleted_at__isnull=True, type=SecretType.SHARED)
    if query is not None:
        live = live.filter(query)
    rows = live.values_list("id", "folder__path", "key", "quarantined_at")
    found: dict[Place, _Found] = {}
    for secret_id, path, key, quarantined_at in rows:
        if not any(path_matches(glob, path) for glob in globs):
            continue
        found[(path, key)] = _Found(id=secret_id, tags=frozenset(), quarantined=quarantined_at is not None)
    if found:
        tags: dict[int, set[str]] = {}
        through = Secret.tags.through.objects.filter(secret_id__in=[item.id for item in found.values()])
        for secret_id, slug in through.values_list("secret_id", "tag__slug"):
            tags.setdefault(secret_id, set()).add(slug)
        found = {
            place: _Found(id=item.id, tags=frozenset(tags.get(item.id, ())), quarantined=item.quarantined)
            for place, item in found.items()
        }
    return found


def _same_groups(ids: list[int]) -> dict[int, int]:
    """secret id -> equality group number, for the secrets whose value equals another's."""
    return {secret_id: index for index, group in enumerate(equal_value_groups(ids)) for secret_id in group}


def _mark_quarantined(report: ParityReport, side: str, found: dict[Place, _Found]) -> None:
    marked = sorted(place for place, item in found.items() if item.quarantined)
    if marked:
        report.quarantined[side] = marked


def parity_between(
    *,
    project: Project,
    source_environment: Environment,
    target_environment: Environment,
    paths: list[str] | None = None,
    recursive: bool = True,
    compare_values: bool = True,
) -> ParityReport:
    """Parity from *source_environment* to *target_environment* at *paths* (canonical folders,
    with their subfolders when *recursive*, or segment globs such as ``/backend/**``; None: the
    whole environment). No permission check and no audit: the caller acts as the system.
    With ``compare_values=False`` only keys are compared (two queries, nothing decrypted:
    ``same_value`` stays empty and ``compared`` 0), for a caller on a time budget.
    Raises SealedError when sealed and ValidationFailed (``paths``) for a bad path."""
    keyring.root()
    if source_environment.project_id != project.pk or target_environment.project_id != project.pk:
        raise ValueError("both environments must belong to the project")
    selected = list(paths) if paths else ["/"]
    query, globs = path_selection(selected, recursive)
    source = _secrets_at(source_environment, query, globs)
    target = _secrets_at(target_environment, query, globs)
    report = ParityReport(
        source=source_environment.slug, target=target_environment.slug, paths=selected, recursive=recursive
    )
    report.missing = sorted(set(source) - set(target))
    report.extra = sorted(set(target) - set(source))
    both = sorted(set(source) & set(target)) if compare_values else []
    groups = _same_groups([source[place].id for place in both] + [target[place].id for place in both])
    for place in both:
        group = groups.get(source[place].id)
        if group is not None and groups.get(target[place].id) == group:
            report.same_value.append(place)
    report.compared = len(both)
    _mark_quarantined(report, report.source, source)
    _mark_quarantined(report, report.target, target)
    return report


# --- for people and tokens -------------------------------------------------------------------------


def _absence_known(access: ProjectAccess, environment: str, path: str) -> bool:
    """Whether "no such key here" is a fact for this caller: it may list untagged secrets at the
    place and no deny rule limited to tags hides some of them."""
    if not access.can("secrets.read", environment=environment, path=path, tags=frozenset()):
        return False
    return not any(
        rule.is_deny
        and rule.tags
        and rule.covers_action("secrets.read")
        and (not rule.environments or environment in rule.environments)
        and path_matches(rule.path, path)
        for rule in access.rules
    )


def _visible(access: ProjectAccess, environment: str, found: dict[Place, _Found]) -> dict[Place, _Found]:
    return {
        place: item
        for place, item in found.items()
        if access.can("secrets.read", environment=environment, path=place[0], tags=item.tags)
    }


def environment_parity(
    scope: ProjectScope, *, source: str, target: str, path: str = "/", recursive: bool = True
) -> ParityReport:
    """Parity from environment *source* to *target* at *path* as the caller sees it. NotFound for an
    environment the caller may not see, PermissionDenied (audited) without ``secrets.read`` at the
    path in both, ValidationFailed naming ``source``/``target``/``path`` for bad input. Recorded
    as one ``environment.parity_checked`` event before the report is returned."""
    keyring.root()
    if source == target:
        raise ValidationFailed("target", f"must differ from the source environment '{source}'")
    canonical = canonical_path(path, field="path")
    source_env = environment_get(scope, source)
    target_env = environment_get(scope, target)
    for slug in (source_env.slug, target_env.slug):
        require(scope, "secrets.read", environment=slug, path=canonical, some_tags=True)
    access = scope.access
    query, globs = path_selection([canonical], recursive)
    src = _visible(access, source_env.slug, _secrets_at(source_env, query, globs))
    tgt = _visible(access, target_env.slug, _secrets_at(target_env, query, globs))
    report = ParityReport(source=source_env.slug, target=target_env.slug, paths=[canonical], recursive=recursive)
    for place in sorted(set(src) - set(tgt)):
        if _absence_known(access, target_env.slug, place[0]):
            report.missing.append(place)
        else:
            report.unknown.append((*place, Unknown.PRESENCE))
    for place in sorted(set(tgt) - set(src)):
        if _absence_known(access, source_env.slug, place[0]):
            report.extra.append(place)
        else:
            report.unknown.append((*place, Unknown.PRESENCE))
    both = sorted(set(src) & set(tgt))
    comparable = [
        place
        for place in both
        if access.can("secrets.read_value", environment=source_env.slug, path=place[0], tags=src[place].tags)
        and access.can("secrets.read_value", environment=target_env.slug, path=place[0], tags=tgt[place].tags)
    ]
    groups = _same_groups([src[place].id for place in comparable] + [tgt[place].id for place in comparable])
    for place in both:
        if place not in comparable:
            report.unknown.append((*place, Unknown.VALUE))
            continue
        group = groups.get(src[place].id)
        if group is not None and groups.get(tgt[place].id) == group:
            report.same_value.append(place)
    report.unknown.sort()
    report.compared = len(comparable)
    _mark_quarantined(report, report.source, src)
    _mark_quarantined(report, report.target, tgt)
    _audit_parity(scope, report, comparable)
    return report


def _label(place: Place) -> str:
    return f"{place[0]}:{place[1]}"


def _audit_parity(scope: ProjectScope, report: ParityReport, compared: list[Place]) -> None:
    """One INSERT, atomic by itself: the report is returned only if it succeeded. Keys and counts,
    never values."""
    scope.audit(
        PARITY_CHECKED,
        environment=report.target,
        path=report.paths[0],
        resource_type="environment",
        resource_id=f"{report.source}->{report.target}",
        metadata={
            "source": report.source,
            "target": report.target,
            "recursive": report.recursive,
            **report.counts(),
            "missing_keys": [_label(place) for place in report.missing][:AUDITED_KEYS_LIMIT],
            "extra_keys": [_label(place) for place in report.extra][:AUDITED_KEYS_LIMIT],
            "same_value_keys": [_label(place) for place in report.same_value][:AUDITED_KEYS_LIMIT],
            "keys": [_label(place) for place in compared][:AUDITED_KEYS_LIMIT],
        },
    )


def parity_rows_csv(report: ParityReport) -> Iterator[str]:
    """The report as CSV: one row per finding (missing, extra, same_value, unknown), names only."""
    from governance.selectors.risks import csv_lines

    rows: list[tuple[str, str, str, str]] = []
    rows += [("missing", path, key, f"in {report.source}, not in {report.target}") for path, key in report.missing]
    rows += [("extra", path, key, f"in {report.target}, not in {report.source}") for path, key in report.extra]
    rows += [("same_value", path, key, "the same value in both") for path, key in report.same_value]
    rows += [("unknown", path, key, reason) for path, key, reason in report.unknown]
    return csv_lines(("finding", "path", "key", "detail"), rows)
