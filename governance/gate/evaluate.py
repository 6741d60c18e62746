"""The pipeline gate's policy: is it safe for this pipeline to read its secrets now?

"The secrets the pipeline will read" are the live shared secrets under the gate's paths in its
environment whose *values* the gate's identity may read (``secrets.read_value``, asked of the
permission decision point per secret, with its tags). Each of them must be:

- not overdue for rotation (its policy "every N days" from the last value change, or a reveal mark,
  as ``secrets_app.selectors.rotation_policies`` computes it), and not owned by a rotation whose
  retries are exhausted (``RotationStatus.FAILED``);
- not flagged as leaked (an active ``LeakFlag``: ``governance.selectors.leaks``);
- not quarantined (``Secret.quarantined_at``);

and, when the gate names ``parity_from``, every key of that environment under the paths must exist
in the gate's (``governance.selectors.parity``); and no lease of a dynamic secret under the paths
may be irrevocable (``LeaseStatus.IRREVOCABLE``: revocation retries exhausted).

Each check can be turned off per gate. The evaluation is a handful of indexed queries over the
selected folders (no audit-log scan), so it answers well within the 3 s an ApiResponse check
allows (measured in tests/governance/test_gate_evaluate.py). Reasons name the key, the path and
what to do: never a value.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Max, Q
from django.utils import timezone

from governance.models import PipelineGate
from secrets_app.models import Secret, SecretType
from secrets_app.paths import path_matches

MAX_FINDINGS = 50  # in an answer (ADO shows the check's output in the run's checks panel: keep it small)


class Code:
    ROTATION_OVERDUE = "rotation_overdue"
    ROTATION_FAILED = "rotation_failed"
    LEAKED = "leaked"
    QUARANTINED = "quarantined"
    PARITY_MISSING = "parity_missing"
    LEASE_IRREVOCABLE = "lease_irrevocable"
    RUN_NOT_PROVEN = "run_not_proven"
    NOTHING_READABLE = "nothing_readable"


@dataclass
class Finding:
    code: str
    message: str
    key: str = ""
    path: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "key": self.key, "path": self.path, "message": self.message}


@dataclass
class Evaluation:
    """``status`` pass | fail; ``reasons`` one line per finding (what a person must fix)."""

    status: str
    reason: str
    findings: list[Finding] = field(default_factory=list)
    checked: int = 0  # secrets the pipeline will read

    @property
    def reasons(self) -> list[str]:
        return [finding.message for finding in self.findings]

    @property
    def codes(self) -> list[str]:
        return sorted({finding.code for finding in self.findings})


def path_globs(paths: Iterable[str]) -> list[str]:
    """The gate's paths as segment globs: a folder means that folder and everything below it
    (``/backend`` → ``/backend/**``; ``/`` → everything); a glob (``/apps/*/db``) is kept as it is."""
    from governance.selectors.parity import path_selection

    return path_selection(list(paths or ["/"]), True)[1]


def _selected(path: str, globs: list[str]) -> bool:
    return any(path_matches(glob, path) for glob in globs)


def folder_ids(environment_id: int, globs: list[str]) -> list[int]:
    """The environment's folders under the gate's paths (folders are few; secrets are many)."""
    from secrets_app.models import Folder

    folders = Folder.objects.filter(environment_id=environment_id).values_list("id", "path")
    return [folder_id for folder_id, path in folders if _selected(path, globs)]


def _day(moment: datetime.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment else "?"


def _where(key: str, path: str) -> str:
    return f"{key} ({path})"


@dataclass
class _Row:
    id: int
    key: str
    path: str
    version: int
    interval: int | None
    marked_at: datetime.datetime | None
    quarantined_at: datetime.datetime | None
    last_change: datetime.datetime | None
    tags: set[str] = field(default_factory=set)


def pipeline_secrets(gate: PipelineGate) -> list[_Row]:
    """The secrets the gate's pipeline will read (see the module docstring), path then key."""
    from secrets_app.principals import Principal
    from secrets_app.selectors.access import project_access

    globs = path_globs(gate.paths)
    rows = (
        Secret.objects.filter(
            folder_id__in=folder_ids(gate.environment_id, globs), deleted_at__isnull=True, type=SecretType.SHARED
        )
        .annotate(last_change=Max("versions__created_at"))
        .values_list(
            "id",
            "key",
            "folder__path",
            "version",
            "rotation_interval_days",
            "rotation_due_at",
            "quarantined_at",
            "last_change",
        )
    )
    found = {row[0]: _Row(*row) for row in rows}
    if not found:
        return []
    through = Secret.tags.through.objects.filter(secret_id__in=list(found))
    for secret_id, slug in through.values_list("secret_id", "tag__slug"):
        found[secret_id].tags.add(slug)
    access = project_access(Principal.for_identity(gate.identity), gate.project)
    slug = gate.environment.slug
    readable = [
        row
        for row in found.values()
        if access.can("secrets.read_value", environment=slug, path=row.path, tags=sorted(row.tags))
    ]
    return sorted(readable, key=lambda row: (row.path, row.key))


def _rotation_findings(rows: list[_Row], gate: PipelineGate, now: datetime.datetime) -> list[Finding]:
    from rotation.models import Rotation, RotationStatus
    from secrets_app.selectors.rotation_policies import DueStatus, due_status, rotation_due_at

    findings = []
    for row in rows:
        due_at = rotation_due_at(last_change=row.last_change, interval_days=row.interval, marked_at=row.marked_at)
        if due_at is None or due_status(due_at, now=now) != DueStatus.OVERDUE:
            continue
        policy = f"every {row.interval} days" if row.interval else "rotate after a reveal"
        findings.append(
            Finding(
                Code.ROTATION_OVERDUE,
                f"{_where(row.key, row.path)}: rotation overdue since {_day(due_at)} (policy: {policy})",
                row.key,
                row.path,
            )
        )
    by_place = {(row.path, row.key): row for row in rows}
    failed = Rotation.objects.filter(environment_id=gate.environment_id, status=RotationStatus.FAILED).values_list(
        "name", "folder__path", "secrets_mapping", "last_attempted_at"
    )
    for name, path, mapping, attempted in failed:
        for key in sorted({str(value) for value in (mapping or {}).values() if value}):
            if (path, key) in by_place:
                findings.append(
                    Finding(
                        Code.ROTATION_FAILED,
                        f"{_where(key, path)}: rotation {name!r} failed (last attempt {_day(attempted)}); "
                        "fix it and rotate again",
                        key,
                        path,
                    )
                )
    return findings


def _leak_findings(rows: list[_Row]) -> list[Finding]:
    from governance.selectors.leaks import active_leak_flags

    by_id = {row.id: row for row in rows}
    findings = []
    seen: set[int] = set()
    for secret_id, flagged_at in active_leak_flags(secret_ids=list(by_id)).values_list("secret_id", "flagged_at"):
        if secret_id in seen:
            continue
        seen.add(secret_id)
        row = by_id[secret_id]
        findings.append(
            Finding(
                Code.LEAKED,
                f"{_where(row.key, row.path)}: flagged as leaked on {_day(flagged_at)}; rotate the value "
                "(or an admin clears the flag)",
                row.key,
                row.path,
            )
        )
    return sorted(findings, key=lambda finding: (finding.path, finding.key))


def _quarantine_findings(rows: list[_Row]) -> list[Finding]:
    return [
        Finding(
            Code.QUARANTINED,
            f"{_where(row.key, row.path)}: quarantined since {_day(row.quarantined_at)}; restore it or stop reading it",
            row.key,
            row.path,
        )
        for row in rows
        if row.quarantined_at is not None
    ]


def _parity_findings(gate: PipelineGate) -> list[Finding]:
    source = gate.parity_from
    if source is None or source.pk == gate.environment_id:
        return []
    target = gate.environment
    missing = _missing_keys(gate)
    return [
        Finding(
            Code.PARITY_MISSING,
            f"{_where(key, path)}: missing in {target.slug} (present in {source.slug})",
            key,
            path,
        )
        for path, key in missing
    ]


def _missing_keys(gate: PipelineGate) -> list[tuple[str, str]]:
    """(path, key) present in ``parity_from`` under the gate's paths and absent from its environment.

    Keys only, in two indexed queries: ``governance.selectors.parity.parity_between`` also compares
    every value (decrypting both sides: 0.7 s at 1,000 keys), which the gate does not need for its
    "parity holds" rule and cannot afford within an ApiResponse check's 3 s."""
    assert gate.parity_from is not None
    globs = path_globs(gate.paths)

    def places(environment_id: int) -> set[tuple[str, str]]:
        live = Secret.objects.filter(
            folder_id__in=folder_ids(environment_id, globs), deleted_at__isnull=True, type=SecretType.SHARED
        ).values_list("folder__path", "key")
        return set(live)

    return sorted(places(gate.parity_from.pk) - places(gate.environment_id))


def _lease_findings(gate: PipelineGate) -> list[Finding]:
    from dynamic.models import Lease, LeaseStatus

    globs = path_globs(gate.paths)
    leases = Lease.objects.filter(
        Q(project_id=gate.project_id) | Q(project_id_snapshot=gate.project_id),
        environment_slug=gate.environment.slug,
        status=LeaseStatus.IRREVOCABLE,
    ).values_list("dynamic_secret_name", "path", "expire_at", "public_id")
    found: dict[tuple[str, str], int] = {}
    for name, path, _expire_at, _lease_id in leases:
        if _selected(path, globs):
            found[(path, name)] = found.get((path, name), 0) + 1
    return [
        Finding(
            Code.LEASE_IRREVOCABLE,
            f"{_where(name, path)}: {count} lease{'s' if count > 1 else ''} of this dynamic secret could not be "
            "revoked; force-revoke it (after removing the credential at the target)",
            name,
            path,
        )
        for (path, name), count in sorted(found.items())
    ]


def gate_evaluate(gate: PipelineGate, *, now: datetime.datetime | None = None) -> Evaluation:
    """Evaluate *gate*'s policy now. Never raises for a finding: it reports it."""
    now = now or timezone.now()
    rows = pipeline_secrets(gate)
    if not rows:
        # A pipeline that reads nothing here is almost always a gate pointing at the wrong
        # identity, environment or paths: passing would hide that behind a green check.
        paths = ", ".join(gate.paths or ["/"])
        message = (
            f"the gate's identity {gate.identity.name} may read no secret under {paths} in "
            f"{gate.environment.slug}: check the gate's identity, environment and paths"
        )
        return Evaluation(status="fail", reason=message, findings=[Finding(Code.NOTHING_READABLE, message)], checked=0)
    findings: list[Finding] = []
    if gate.require_rotation_current:
        findings += _rotation_findings(rows, gate, now)
    if gate.require_no_leaks:
        findings += _leak_findings(rows)
    if gate.require_no_quarantined:
        findings += _quarantine_findings(rows)
    if gate.parity_from_id is not None:
        findings += _parity_findings(gate)
    if gate.require_no_irrevocable_leases:
        findings += _lease_findings(gate)
    plural = "s" if len(rows) != 1 else ""
    if findings:
        problems = "problem" if len(findings) == 1 else "problems"
        reason = f"{len(findings)} {problems} with the {len(rows)} secret{plural} this pipeline reads: " + "; ".join(
            finding.message for finding in findings[:3]
        )
        if len(findings) > 3:
            reason += f"; and {len(findings) - 3} more"
        return Evaluation(status="fail", reason=reason, findings=findings, checked=len(rows))
    return Evaluation(
        status="pass",
        reason=f"{len(rows)} secret{plural} checked in {gate.environment.slug}: policy holds",
        checked=len(rows),
    )


def findings_payload(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    return [finding.as_dict() for finding in list(findings)[:MAX_FINDINGS]]
