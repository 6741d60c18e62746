"""Running one estate scan in a worker: claim, walk, record, diff, findings (read only: a scan never
writes to Azure DevOps).

- **Claim**: compare-and-set QUEUED → RUNNING (``attempts`` + 1); a duplicate message is a no-op.
- **Walk**: projects (paged), then per project its variable groups (+ who may use each), pipelines
  (``includeAllProperties``), service connections (+ permissions) and secure files (+ permissions),
  read by a small thread pool (``STRONGROOM_ESTATE_CONCURRENCY`` projects at once; the client also
  caps requests in flight at that number). Threads only do HTTP; this thread alone writes the
  database, one transaction per finished project (its rows, the diff so far, ``done_projects``).
- **Heartbeat and cancel**: this thread wakes at least every second to store ``progress`` and the
  heartbeat with a compare-and-set on RUNNING; when that fails (the scan was cancelled, or
  re-queued by the reconciler) the walk stops between two requests and nothing more is written.
- **Resume**: a RUNNING scan whose worker died is re-queued by the reconciler (same row); the next
  attempt skips ``done_projects``. Their rows already carry ``last_seen_scan`` = this scan, so the
  removal step treats them as seen.
- **Complete**: rows of the connection not seen by this scan get ``removed_at`` (the diff: added,
  changed, removed), findings are recomputed, counts stored, SUCCEEDED and ``estate.scan_completed``
  audited in one transaction.
- **Errors**: ``AuthError``/``ConfigError`` fail at once; a ``TransientError`` is what remains after
  the client's own retries (429 Retry-After, 5xx backoff), so it fails too: a person re-runs the scan
  (a new scan starts afresh; rows and findings carry over by key). FAILED stores the provider's
  message (safe by construction: operation and status only) and audits ``estate.scan_failed``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.models import ActorType, Outcome
from audit.services import AuditActor, audit_record
from estate.ado.rest import AdoRest
from estate.models import EstateResource, EstateScan, ResourceKind, ScanStatus
from estate.services.discover import ProjectRead, ProjectReader, ResourceRecord, ScanStopped
from estate.services.findings import findings_compute, findings_store
from secrets_app.errors import DomainError
from syncs.models import ConnectionKind, SecretSync
from syncs.providers.base import ProviderError

logger = logging.getLogger("strongroom.estate")

HEARTBEAT_SECONDS = 1.0


class _Lost(Exception):
    """The scan is no longer ours (cancelled, or re-queued by the reconciler)."""


def scan_actor(scan: EstateScan) -> AuditActor:
    return AuditActor(type=ActorType.SYSTEM, id=f"estate_scan:{scan.pk}", label="estate scan")


def fingerprint(details: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of a resource's details (names and flags only)."""
    return hashlib.sha256(json.dumps(details, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass
class _SyncTargets:
    """Strongroom syncs of the organization writing to this Azure DevOps organization, by
    (project name or id, group name), lower case."""

    by_target: dict[tuple[str, str], SecretSync] = field(default_factory=dict)

    @classmethod
    def load(cls, scan: EstateScan) -> _SyncTargets:
        targets = cls()
        syncs = SecretSync.objects.filter(
            project__organization_id=scan.organization_id, connection__kind=ConnectionKind.AZURE_DEVOPS
        ).select_related("connection")
        for sync in syncs:
            url = str(sync.connection.config.get("organization_url", "")).strip().rstrip("/")
            if url.lower() != scan.org_url.lower():
                continue
            destination = sync.destination or {}
            group = str(destination.get("group_name") or "").lower()
            for project in (destination.get("project"), destination.get("project_id")):
                if project and group:
                    targets.by_target[(str(project).lower(), group)] = sync
        return targets

    def find(self, record: ResourceRecord) -> SecretSync | None:
        if record.kind != ResourceKind.VARIABLE_GROUP or not self.by_target:
            return None
        group = record.name.lower()
        return self.by_target.get((record.project_id.lower(), group)) or self.by_target.get(
            (record.project_name.lower(), group)
        )


class ScanRunner:
    """One attempt of one claimed scan."""

    def __init__(self, scan: EstateScan, rest: AdoRest) -> None:
        self.scan = scan
        self.rest = rest
        self.stop = threading.Event()
        self.syncs = _SyncTargets.load(scan)
        self.progress: dict[str, Any] = dict(scan.progress or {})
        self.diff: dict[str, int] = {"added": 0, "changed": 0, "removed": 0, **(scan.diff or {})}
        self.done: list[str] = list(scan.done_projects or [])

    # --- bookkeeping ---------------------------------------------------------------------------
    def _beat(self, **progress: Any) -> None:
        """Store progress + heartbeat while still RUNNING; raise _Lost otherwise."""
        self.progress.update(progress)
        self.progress.update(requests=self.rest.stats.requests, throttled=self.rest.stats.throttled)
        if not EstateScan.objects.filter(pk=self.scan.pk, status=ScanStatus.RUNNING).update(
            heartbeat_at=timezone.now(), progress=self.progress
        ):
            raise _Lost

    def _record_project(self, read: ProjectRead, project: dict[str, Any], now: datetime.datetime) -> None:
        """One finished project's rows, in one transaction with its ``done_projects`` entry. A
        project deleted during the scan records nothing (its rows are removed at completion)."""
        unique: dict[tuple[str, str], ResourceRecord] = {}
        for record in [] if read.missing else read.records:
            unique.setdefault((record.kind, record.external_id), record)  # a page overlap lists one twice
        records = list(unique.values())
        if not read.missing:
            records.insert(
                0,
                ResourceRecord(
                    ResourceKind.PROJECT,
                    read.project_id,
                    read.project_name,
                    read.project_id,
                    read.project_name,
                    {"state": str(project.get("state") or ""), "visibility": str(project.get("visibility") or "")},
                ),
            )
        scan = self.scan
        with transaction.atomic():
            if not EstateScan.objects.select_for_update().filter(pk=scan.pk, status=ScanStatus.RUNNING).exists():
                raise _Lost
            existing = {
                (row.kind, row.external_id): row
                for row in EstateResource.objects.filter(
                    connection_id=scan.connection_id, ado_project_id=read.project_id
                )
            }
            create: list[EstateResource] = []
            update: list[EstateResource] = []
            touch: list[int] = []
            for record in records:
                digest = fingerprint(record.details)
                sync = self.syncs.find(record)
                row = existing.get((record.kind, record.external_id))
                if row is None:
                    create.append(
                        EstateResource(
                            organization_id=scan.organization_id,
                            connection_id=scan.connection_id,
                            kind=record.kind,
                            ado_project_id=record.project_id,
                            ado_project_name=record.project_name[:256],
                            external_id=record.external_id[:128],
                            name=record.name[:512],
                            details=record.details,
                            secret_count=record.secret_count,
                            variable_count=record.variable_count,
                            fingerprint=digest,
                            first_seen_scan=scan,
                            last_seen_scan=scan,
                            first_seen_at=now,
                            last_seen_at=now,
                            changed_at=now,
                            managed_by_sync=sync,
                        )
                    )
                    continue
                if row.last_seen_scan_id != scan.pk and (row.fingerprint != digest or row.removed_at is not None):
                    self.diff["changed"] += 1
                    row.changed_at = now
                same = (
                    row.fingerprint == digest
                    and row.removed_at is None
                    and row.name == record.name[:512]
                    and row.ado_project_name == record.project_name[:256]
                    and row.managed_by_sync_id == (sync.pk if sync else None)
                )
                if same:  # the common case of a re-scan: one UPDATE for all of them below
                    touch.append(row.pk)
                    continue
                row.ado_project_name, row.name = record.project_name[:256], record.name[:512]
                row.details, row.fingerprint = record.details, digest
                row.secret_count, row.variable_count = record.secret_count, record.variable_count
                row.last_seen_scan, row.last_seen_at, row.removed_at = scan, now, None
                row.managed_by_sync = sync
                update.append(row)
            if touch:
                EstateResource.objects.filter(pk__in=touch).update(last_seen_scan=scan, last_seen_at=now)
            EstateResource.objects.bulk_create(create, batch_size=500)
            EstateResource.objects.bulk_update(
                update,
                [
                    "ado_project_name",
                    "name",
                    "details",
                    "fingerprint",
                    "secret_count",
                    "variable_count",
                    "last_seen_scan",
                    "last_seen_at",
                    "removed_at",
                    "changed_at",
                    "managed_by_sync",
                ],
                batch_size=500,
            )
            self.diff["added"] += len(create)
            self.done.append(read.project_id)
            EstateScan.objects.filter(pk=scan.pk).update(
                done_projects=self.done, diff=self.diff, heartbeat_at=timezone.now()
            )

    # --- the walk ------------------------------------------------------------------------------
    def run(self) -> None:
        self._beat(phase="projects")
        projects = list(self.rest.items("_apis/projects", {"stateFilter": "wellFormed"}, what="list the projects"))
        todo = [p for p in projects if str(p.get("id")) not in set(self.done)]
        self._beat(phase="resources", projects_total=len(projects), projects_done=len(projects) - len(todo))
        reader = ProjectReader(self.rest, self.stop)
        workers = max(1, int(settings.STRONGROOM_ESTATE_CONCURRENCY))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"estate-scan-{self.scan.pk}")
        try:
            pending: dict[Future[ProjectRead], dict[str, Any]] = {}
            queue = list(todo)
            while queue or pending:
                while queue and len(pending) < workers:
                    project = queue.pop(0)
                    pending[pool.submit(reader.read, str(project.get("id")), str(project.get("name") or ""))] = project
                finished, _ = wait(list(pending), timeout=HEARTBEAT_SECONDS, return_when=FIRST_COMPLETED)
                for future in finished:
                    project = pending.pop(future)
                    read = future.result()  # a ProviderError of a thread surfaces here
                    self._record_project(read, project, timezone.now())
                    self.progress["current_project"] = read.project_name
                self._beat(projects_done=len(self.done))
        except BaseException:
            self.stop.set()
            raise
        finally:
            pool.shutdown(wait=not self.stop.is_set(), cancel_futures=True)
        self._complete()

    def _complete(self) -> None:
        scan = self.scan
        self._beat(phase="findings", projects_done=len(self.done), current_project="")
        now = timezone.now()
        with transaction.atomic():
            if not EstateScan.objects.select_for_update().filter(pk=scan.pk, status=ScanStatus.RUNNING).exists():
                raise _Lost
            live = EstateResource.objects.filter(connection_id=scan.connection_id, removed_at__isnull=True)
            self.diff["removed"] += live.exclude(last_seen_scan=scan).update(removed_at=now)
            rows = list(live.filter(last_seen_scan=scan))
            stored = findings_store(
                organization_id=scan.organization_id, connection_id=scan.connection_id, specs=findings_compute(rows)
            )
            counts = {
                key: 0 for key in ("projects", "variable_groups", "pipelines", "service_connections", "secure_files")
            }
            plural = {
                ResourceKind.PROJECT: "projects",
                ResourceKind.VARIABLE_GROUP: "variable_groups",
                ResourceKind.PIPELINE: "pipelines",
                ResourceKind.SERVICE_CONNECTION: "service_connections",
                ResourceKind.SECURE_FILE: "secure_files",
            }
            for row in rows:
                counts[plural[ResourceKind(row.kind)]] += 1
            counts["secret_variables"] = sum(
                r.secret_count for r in rows if r.kind in (ResourceKind.VARIABLE_GROUP, ResourceKind.PIPELINE)
            )
            counts["findings"] = stored["open"]
            self.progress.update(phase="done", requests=self.rest.stats.requests, throttled=self.rest.stats.throttled)
            EstateScan.objects.filter(pk=scan.pk).update(
                status=ScanStatus.SUCCEEDED,
                finished_at=now,
                heartbeat_at=now,
                counts=counts,
                diff=self.diff,
                progress=self.progress,
                error="",
            )
            audit_record(
                action="estate.scan_completed",
                actor=scan_actor(scan),
                organization_id=scan.organization_id,
                resource_type="estate_scan",
                resource_id=str(scan.public_id),
                metadata={
                    "organization_url": scan.org_url,
                    "counts": counts,
                    "diff": self.diff,
                    "findings_new": stored["new"],
                    "findings_resolved": stored["resolved"],
                    "requests": self.rest.stats.requests,
                    "throttled": self.rest.stats.throttled,
                    "attempt": scan.attempts,
                },
            )


def _fail(scan: EstateScan, message: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        if not EstateScan.objects.filter(pk=scan.pk, status=ScanStatus.RUNNING).update(
            status=ScanStatus.FAILED, finished_at=now, heartbeat_at=now, error=message[:240]
        ):
            return  # cancelled meanwhile: the cancel stands
        audit_record(
            action="estate.scan_failed",
            actor=scan_actor(scan),
            outcome=Outcome.ERROR,
            organization_id=scan.organization_id,
            resource_type="estate_scan",
            resource_id=str(scan.public_id),
            metadata={"organization_url": scan.org_url, "error": message[:240], "attempt": scan.attempts},
        )


def scan_run_execute(*, scan_id: int) -> str:
    """Run one attempt of a queued scan. Returns the scan's status afterwards, or "skipped" when
    it was not QUEUED (a duplicate message, or cancelled before it started)."""
    now = timezone.now()
    claimed = EstateScan.objects.filter(pk=scan_id, status=ScanStatus.QUEUED).update(
        status=ScanStatus.RUNNING, heartbeat_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return "skipped"
    EstateScan.objects.filter(pk=scan_id, started_at__isnull=True).update(started_at=now)
    scan = EstateScan.objects.select_related("connection").get(pk=scan_id)
    try:
        with AdoRest.for_connection(scan.connection) as rest:
            ScanRunner(scan, rest).run()
    except (_Lost, ScanStopped):
        pass
    except ProviderError as exc:
        _fail(scan, str(exc) or "Azure DevOps could not be read")
    except DomainError as exc:  # e.g. the connection cannot be opened; messages written for people
        _fail(scan, exc.message)
    except Exception as exc:  # noqa: BLE001 - the row must not stay RUNNING; the message may not be safe
        logger.error("estate scan %s failed: %s", scan_id, type(exc).__name__)
        _fail(scan, "the scan stopped on an internal error")
    scan.refresh_from_db(fields=["status"])
    return str(scan.status)
