"""``sync_run_execute``: one attempt of the reconcile loop for one sync.

1. Claim by compare-and-set: QUEUED and due (or RUNNING with a stale heartbeat: the worker that
   held it died) → RUNNING. Anything else means another worker has it or nothing is to do.
2. Take the destination lock (all syncs writing one container are serialised); if busy, go back
   to QUEUED for a few seconds.
3. Build the desired map from the source (owner's access), read the remote, plan (pure), import
   what the plan imports, record write intents, apply; each batch the provider reports is
   recorded at once (managed keys and digests), so a killed worker loses no progress and the next
   run converges.
4. Record the outcome: SUCCEEDED (or QUEUED again when the source changed during the run), or a
   failure — retried with exponential backoff and jitter honouring Retry-After, final at once for
   401/403, bad config, a source that cannot be read completely, or when attempts run out. A final
   failure notifies the owner by email. Every attempt is a ``SyncRun`` row and an audit event.
"""

from __future__ import annotations

import datetime
import logging
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from audit.models import Outcome
from audit.services import AuditActor, audit_record
from secrets_app.errors import DomainError
from secrets_app.principals import Principal
from secrets_app.selectors.access import project_scope_for
from secrets_app.services.secrets import SecretInput, secret_bulk_upsert
from syncs.locks import lock_acquire, lock_extend, lock_release
from syncs.models import RunStatus, SecretSync, SyncManagedKey, SyncRun, SyncStatus
from syncs.providers.base import (
    ActionKind,
    ApplyProgress,
    ConfigError,
    ManagedState,
    Plan,
    PlanError,
    PlanOptions,
    ProviderError,
    SyncContext,
    SyncProvider,
)
from syncs.providers.registry import provider_for
from syncs.sanitize import safe_error
from syncs.services.connections import connection_info
from syncs.services.source import SourceError, sync_desired, value_digest

logger = logging.getLogger("strongroom.syncs")


class LostClaim(Exception):
    """Our RUNNING claim was taken over (we were presumed dead): stop without recording."""


@dataclass(frozen=True)
class RunOutcome:
    status: str  # "not_claimed" | "locked" | "not_due" | "succeeded" | "retrying" | "failed"
    retry_in: float | None = None  # seconds until the task should be sent again


def sync_actor(sync: SecretSync) -> AuditActor:
    return AuditActor(type="system", id=f"sync:{sync.pk}", label=f"sync {sync.name}")


def _stale_before(now: datetime.datetime) -> datetime.datetime:
    return now - datetime.timedelta(seconds=settings.STRONGROOM_SYNC_HEARTBEAT_STALE_SECONDS)


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter for failed attempt number *attempt* (1-based): a random
    delay in [d/2, d] where d = base·2^(attempt-1) capped; never shorter than *retry_after*."""
    base = settings.STRONGROOM_SYNC_RETRY_BASE_SECONDS
    ceiling = min(settings.STRONGROOM_SYNC_RETRY_MAX_SECONDS, base * 2 ** max(0, attempt - 1))
    delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not a secret)
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.STRONGROOM_SYNC_RETRY_AFTER_MAX_SECONDS))
    return delay


def _claim(sync_id: int, now: datetime.datetime) -> bool:
    due = Q(status=SyncStatus.QUEUED) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    stale = Q(status=SyncStatus.RUNNING) & (Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=_stale_before(now)))
    return (
        SecretSync.objects.filter(pk=sync_id)
        .filter(due | stale)
        .update(status=SyncStatus.RUNNING, run_started_at=now, heartbeat_at=now)
        == 1
    )


def sync_run_execute(*, sync_id: int) -> RunOutcome:
    """Run one attempt of *sync_id* if it is due. Idempotent: safe to call for any message, any
    number of times. Returns what the caller (the task) should do next."""
    now = timezone.now()
    if not _claim(sync_id, now):
        row = SecretSync.objects.filter(pk=sync_id).values("status", "next_attempt_at", "heartbeat_at").first()
        if row and row["status"] == SyncStatus.QUEUED and row["next_attempt_at"] and row["next_attempt_at"] > now:
            # Arrived early (debounce, clock granularity): come back when due.
            return RunOutcome("not_due", retry_in=(row["next_attempt_at"] - now).total_seconds() + 0.05)
        return RunOutcome("not_claimed")
    sync = SecretSync.objects.select_related("project", "environment", "connection", "owner").get(pk=sync_id)
    # A RUNNING row we just took over from a dead worker: close its run as interrupted.
    for stale_run in SyncRun.objects.filter(sync=sync, status=RunStatus.RUNNING):
        stale_run.status = RunStatus.INTERRUPTED
        stale_run.finished_at = now
        stale_run.error = "the worker stopped during the run; it was resumed"
        stale_run.save(update_fields=["status", "finished_at", "error"])
        audit_record(
            action="sync.run_interrupted",
            actor=sync_actor(sync),
            outcome=Outcome.ERROR,
            organization_id=sync.project.organization_id,
            project_id=sync.project_id,
            environment=sync.environment.slug,
            path=sync.path,
            resource_type="sync",
            resource_id=str(sync.public_id),
            metadata={"run": stale_run.pk, "attempt": stale_run.attempt},
        )
    holder = uuid.uuid4().hex
    if not lock_acquire(sync.target_key, holder):
        wait = random.uniform(1.0, 3.0)  # noqa: S311 (jitter, not a secret)
        SecretSync.objects.filter(pk=sync.pk, status=SyncStatus.RUNNING, run_started_at=now).update(
            status=SyncStatus.QUEUED, next_attempt_at=timezone.now() + datetime.timedelta(seconds=wait)
        )
        return RunOutcome("locked", retry_in=wait)
    try:
        return _Run(sync, holder, started=now).execute()
    finally:
        lock_release(sync.target_key, holder)


class _Run:
    def __init__(self, sync: SecretSync, holder: str, *, started: datetime.datetime) -> None:
        self.sync = sync
        self.holder = holder
        self.started = started
        self.provider: SyncProvider | None = None
        self.secrets: list[str] = []  # every plaintext this run held, for redaction of errors
        self.counts: dict[str, int] = {}
        self.names: dict[str, list[str]] = {"written": [], "removed": [], "imported": []}
        self._last_beat = 0.0
        self.run = SyncRun.objects.create(
            sync=sync, status=RunStatus.RUNNING, trigger=sync.trigger, attempt=sync.attempts + 1, started_at=started
        )

    # --- liveness ---------------------------------------------------------------------------
    def heartbeat(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_beat < 1.0:
            return
        self._last_beat = time.monotonic()
        alive = SecretSync.objects.filter(
            pk=self.sync.pk, status=SyncStatus.RUNNING, run_started_at=self.started
        ).update(heartbeat_at=timezone.now())
        if not alive or not lock_extend(self.sync.target_key, self.holder):
            raise LostClaim()

    # --- recording progress -----------------------------------------------------------------
    def record(self, progress: ApplyProgress) -> None:
        """Persist one durable batch at once (autocommit): managed names and digests."""
        with transaction.atomic():
            if progress.applied:
                # One upsert per batch; ``created_by_sync`` was set with the intent and is kept.
                SyncManagedKey.objects.bulk_create(
                    [
                        SyncManagedKey(
                            sync=self.sync,
                            name=item.name,
                            source_key=item.key,
                            digest=item.digest,
                            remote_version=item.version,
                            created_by_sync=item.created,
                        )
                        for item in progress.applied
                    ],
                    update_conflicts=True,
                    unique_fields=["sync", "name"],
                    update_fields=["source_key", "digest", "remote_version", "disabled", "updated_at"],
                )
            if progress.removed:
                SyncManagedKey.objects.filter(sync=self.sync, name__in=progress.removed).delete()
            if progress.disabled:
                SyncManagedKey.objects.filter(sync=self.sync, name__in=progress.disabled).update(disabled=True)
            if progress.container_created:
                SecretSync.objects.filter(pk=self.sync.pk).update(created_container=True)
                self.sync.created_container = True
        self.names["written"] += [item.name for item in progress.applied]
        self.names["removed"] += list(progress.removed) + list(progress.disabled)
        self.heartbeat()

    def record_intents(self, plan: Plan) -> None:
        """Before any remote write: remember the names we are about to create or take over, so a
        crash between the remote write and ``record`` still leaves them ours (with an empty digest,
        which makes the next run write them again)."""
        existing = set(SyncManagedKey.objects.filter(sync=self.sync).values_list("name", flat=True))
        intents = [
            SyncManagedKey(
                sync=self.sync,
                name=action.name,
                source_key=action.key,
                created_by_sync=action.kind == ActionKind.CREATE,
            )
            for action in plan.of_kind(ActionKind.CREATE, ActionKind.TAKE_OVER, ActionKind.RECOVER)
            if action.name not in existing
        ]
        SyncManagedKey.objects.bulk_create(intents, ignore_conflicts=True)

    # --- the loop ---------------------------------------------------------------------------
    def execute(self) -> RunOutcome:
        sync = self.sync
        try:
            self.provider = provider_for(sync.connection.kind)
            info = connection_info(sync.connection)
            self.secrets += [str(value) for value in info.credentials.values()]
            destination = self.provider.validate_destination(sync.destination, info.config)
            desired = sync_desired(sync)
            self.secrets += [item.value for item in desired.values()]
            self.heartbeat(force=True)
            ctx = SyncContext(
                sync_id=sync.pk,
                connection=info,
                destination=destination,
                created_container=sync.created_container,
                state=dict(sync.remote_state),
                heartbeat=self.heartbeat,
                progress=self.record,
            )
            remote = self.provider.read_remote(ctx)
            self.heartbeat()
            managed_rows = list(SyncManagedKey.objects.filter(sync=sync))
            managed = {
                row.name: ManagedState(
                    name=row.name,
                    digest=row.digest,
                    version=row.remote_version,
                    created_by_sync=row.created_by_sync,
                    source_key=row.source_key,
                )
                for row in managed_rows
            }
            options = PlanOptions(
                key_name_template=sync.key_name_template,
                environment=sync.environment.slug,
                first_run=sync.last_success_at is None,
                initial_behavior=sync.initial_behavior,
                delete_removed=sync.delete_on_source_removal,
                force=sync.force_next_run,
                provider_options=dict(sync.provider_options),
            )
            plan = self.provider.plan(desired, remote, managed, options)
            if plan.blocked:
                raise ConfigError("; ".join(error.message for error in plan.errors if error.blocking))
            self.counts = plan.counts()
            self._import(plan, ctx)
            self.record_intents(plan)
            result = self.provider.apply(ctx, plan)
            self._forget_absent(remote, desired_names=set(plan_names(plan)), applied={i.name for i in result.applied})
            return self._succeeded(plan, result.state)
        except LostClaim:
            logger.warning("sync %s: claim lost during run %s; another worker resumed it", sync.pk, self.run.pk)
            SyncRun.objects.filter(pk=self.run.pk).update(
                status=RunStatus.INTERRUPTED, finished_at=timezone.now(), error="taken over by another worker"
            )
            return RunOutcome("not_claimed")
        except (ProviderError, SourceError) as exc:
            retryable = isinstance(exc, ProviderError) and exc.retryable
            return self._failed(exc, retryable=retryable, retry_after=getattr(exc, "retry_after", None))
        except Exception as exc:  # a bug or an outage of our own database: retried, text never stored
            # No traceback: frames and exception text of SDK calls can hold values; the cleaned text only.
            logger.error(
                "sync %s: run %s crashed: %s: %s",
                sync.pk,
                self.run.pk,
                type(exc).__name__,
                safe_error(exc, secrets=self.secrets),
            )
            return self._failed(RuntimeError(f"internal error ({type(exc).__name__})"), retryable=True)

    def _import(self, plan: Plan, ctx: SyncContext) -> None:
        """IMPORT actions write destination values into Strongroom (as the owner, one commit)
        before anything is written out; KEEP actions only start managing a name."""
        imports = plan.of_kind(ActionKind.IMPORT)
        keeps = plan.of_kind(ActionKind.KEEP)
        sync = self.sync
        if imports:
            scope = project_scope_for(Principal.for_user(sync.owner), sync.project)
            self.secrets += [action.value or "" for action in imports]
            try:
                secret_bulk_upsert(
                    scope=scope,
                    environment=sync.environment.slug,
                    path=sync.path,
                    items=[SecretInput(key=action.key, value=action.value or "") for action in imports],
                )
            except DomainError as exc:
                raise SourceError(f"importing destination values into Strongroom failed: {exc.message}") from None
        for action in [*imports, *keeps]:
            digest = action.digest or value_digest(sync.pk, action.key, action.value or "")
            SyncManagedKey.objects.update_or_create(
                sync=sync, name=action.name, defaults={"source_key": action.key, "digest": digest}
            )
        self.names["imported"] = [action.name for action in imports]

    def _forget_absent(self, remote: dict[str, Any], *, desired_names: set[str], applied: set[str]) -> None:
        """Managed rows whose item is neither at the destination nor wanted any more: nothing to
        own (e.g. an intent whose create never happened, or an item someone else deleted)."""
        present = {name.lower() for name in remote}
        wanted = {name.lower() for name in desired_names | applied}
        stale = [
            row.pk
            for row in SyncManagedKey.objects.filter(sync=self.sync)
            if row.name.lower() not in present and row.name.lower() not in wanted
        ]
        if stale:
            SyncManagedKey.objects.filter(pk__in=stale).delete()

    # --- outcomes ---------------------------------------------------------------------------
    def _audit(self, action: str, outcome: str, metadata: dict[str, Any]) -> None:
        sync = self.sync
        audit_record(
            action=action,
            actor=sync_actor(sync),
            outcome=outcome,
            organization_id=sync.project.organization_id,
            project_id=sync.project_id,
            environment=sync.environment.slug,
            path=sync.path,
            resource_type="sync",
            resource_id=str(sync.public_id),
            metadata={"run": self.run.pk, "attempt": self.run.attempt, "trigger": self.run.trigger, **metadata},
        )

    def _succeeded(self, plan: Plan, state: dict[str, Any]) -> RunOutcome:
        sync = self.sync
        now = timezone.now()
        warnings = [_warning(error) for error in plan.errors]
        with transaction.atomic():
            current = SecretSync.objects.select_for_update().get(pk=sync.pk)
            if current.status != SyncStatus.RUNNING or current.run_started_at != self.started:
                raise LostClaim()
            again = bool(current.source_changed_at and current.source_changed_at >= self.started)
            current.remote_state = {**current.remote_state, **state}
            current.status = SyncStatus.QUEUED if again else SyncStatus.SUCCEEDED
            current.trigger = "source_change" if again else current.trigger
            current.next_attempt_at = now if again else None
            current.queued_at = now if again else current.queued_at
            current.attempts = 0
            current.force_next_run = current.force_next_run and again
            current.last_success_at = now
            current.last_error = ""
            current.heartbeat_at = now
            current.save()
            SyncRun.objects.filter(pk=self.run.pk).update(
                status=RunStatus.SUCCEEDED, finished_at=now, counts=self.counts, warnings=warnings
            )
            self._audit(
                "sync.run_succeeded",
                Outcome.ALLOW,
                {
                    "counts": self.counts,
                    "written": self.names["written"][:500],
                    "removed": self.names["removed"][:500],
                    "imported": self.names["imported"][:500],
                    "warnings": len(warnings),
                },
            )
        if again:
            from syncs.services.queue import send_run_message

            transaction.on_commit(lambda: send_run_message(sync.pk))
        return RunOutcome("succeeded")

    def _failed(self, exc: BaseException, *, retryable: bool, retry_after: float | None = None) -> RunOutcome:
        sync = self.sync
        now = timezone.now()
        message = safe_error(exc, secrets=self.secrets)
        attempt = self.run.attempt
        final = not retryable or attempt >= settings.STRONGROOM_SYNC_MAX_ATTEMPTS
        delay = None if final else backoff_seconds(attempt, retry_after)
        retry_at = now + datetime.timedelta(seconds=delay) if delay is not None else None
        with transaction.atomic():
            updated = SecretSync.objects.filter(
                pk=sync.pk, status=SyncStatus.RUNNING, run_started_at=self.started
            ).update(
                status=SyncStatus.FAILED if final else SyncStatus.QUEUED,
                next_attempt_at=retry_at,
                attempts=F("attempts") + 1,
                last_error=message,
                last_error_at=now,
                heartbeat_at=now,
                trigger=sync.trigger if final else "retry",
            )
            SyncRun.objects.filter(pk=self.run.pk).update(
                status=RunStatus.FAILED,
                finished_at=now,
                error=message,
                final=final,
                retry_at=retry_at,
                counts=self.counts,
            )
            if not updated:
                return RunOutcome("not_claimed")
            self._audit(
                "sync.run_failed",
                Outcome.ERROR,
                {
                    "error": message,
                    "final": final,
                    "retry_in": round(delay, 1) if delay is not None else None,
                    "status": getattr(exc, "status", None),
                    "written": self.names["written"][:500],
                },
            )
            if final:
                from syncs.services.notify import sync_failure_notify

                # Recorded with the failure (same transaction); its deliveries go out after commit, retried.
                sync_failure_notify(sync_id=sync.pk, run_id=self.run.pk)
        logger.info("sync %s attempt %s failed (final=%s): %s", sync.pk, attempt, final, message)
        return RunOutcome("failed" if final else "retrying", retry_in=delay)


def plan_names(plan: Plan) -> list[str]:
    return [action.name for action in plan.actions if action.kind not in ActionKind.REMOVALS] + plan.unchanged


def _warning(error: PlanError) -> dict[str, Any]:
    return {"code": error.code, "message": error.message[:240], "names": list(error.names)[:20]}
