"""The delivery engine: every sealed audit event of an organization reaches each of its streams at
least once, strictly in id order (docs/audit-streams.md, "Delivery").

One run (``stream_deliver``) works one stream:

1. **Claim** it with a compare-and-set on its lease (``claimed_until``/``claim_token``): a second run
   for the same stream (a duplicate message, an operator's command, a redelivered task) finds the
   lease held and does nothing. Works the same on SQLite and PostgreSQL. The lease is extended
   before every send (so it must outlast one send: ``STRONGROOM_AUDIT_STREAM_TIMEOUT``), and every
   write of the run is conditional on the token and on the cursor it last wrote: a run that lost its
   lease (it stalled past it and another run took over), or whose stream was replayed or paused,
   stops before its next send and can no longer move the cursor.
2. **Read** the organization's events with ``cursor < id ≤ audit_sealed_through()`` in id order,
   by keyset pagination (``audit_export_rows``): memory is one chunk plus one batch. Stopping at the
   sealed boundary is what makes out-of-order commits safe: no event can still appear at or below
   it, so the cursor never passes an id whose row is not visible yet.
3. **Send** batches within the kind's ``max_events``/``max_bytes`` (an event over ``max_bytes`` goes
   alone), each with the organization's chain head, and **after** the destination acknowledged,
   advance the cursor and the counters in one UPDATE. A crash between the two re-sends the batch
   (at-least-once, receivers de-duplicate by event id); nothing is ever skipped.
4. On ``StreamUnavailable`` (down, 429, 5xx, 401/403): keep the cursor, record the sanitised error,
   and back off exponentially with full jitter (``Retry-After`` wins when longer).
   On ``StreamRejected``: split the batch in halves and send each (recursively, in order) until the
   refused event is alone; park it (``ParkedAuditEvent``), move the cursor past it, carry on.

Audit events are written on state transitions only (first failure, each parked event, recovery):
they are streamed too, so one per retry would turn a receiver's outage into an event storm.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from audit.export import audit_export_rows
from audit.models import AuditEvent, Outcome
from audit.sealing import audit_chain_head, audit_sealed_through
from audit.services import SYSTEM_ACTOR, audit_record
from audit.streams.base import ChainHead, StreamContext, StreamKind, StreamRejected, StreamUnavailable
from audit.streams.credentials import stream_context, stream_scrub, stream_secret_strings
from audit.streams.models import AuditStream, ParkedAuditEvent, StreamState
from audit.streams.registry import stream_kind

logger = logging.getLogger("strongroom.audit.streams")

# Rows read from the log per query while batching (bounded memory whatever the lag).
READ_CHUNK = 1000


class DeliveryOutcome:
    """What ``DeliveryReport.outcome`` says about one run."""

    CAUGHT_UP = "caught_up"  # delivered (or nothing to deliver) up to the sealed boundary
    MORE = "more"  # stopped after the run's batch budget: more is waiting (run again at once)
    FAILED = "failed"  # the destination is unavailable: backing off until ``retry_at``
    BUSY = "busy"  # another run holds the stream's lease
    NOT_DUE = "not_due"  # backing off from an earlier failure
    PAUSED = "paused"  # paused before or during the run
    INTERRUPTED = "interrupted"  # the cursor was moved under us (replay) or the lease was lost
    MISSING = "missing"  # no such stream (deleted)


@dataclass
class DeliveryReport:
    stream_id: int
    outcome: str = DeliveryOutcome.CAUGHT_UP
    delivered: int = 0  # events acknowledged by the destination in this run
    parked: int = 0
    batches: int = 0  # successful sends
    cursor: int = 0  # the stream's cursor after the run (as far as this run knows)
    retry_at: datetime | None = None
    error: str = ""
    parked_ids: list[int] = field(default_factory=list)

    @property
    def more(self) -> bool:
        return self.outcome == DeliveryOutcome.MORE


class _LeaseLost(Exception):
    """The conditional UPDATE matched nothing: our lease is gone or the cursor moved (replay)."""


class _Stop(Exception):
    """The stream was paused (or deleted) between batches."""


# --- the run ------------------------------------------------------------------------------------


def stream_deliver(*, stream_id: int, max_batches: int | None = None, ignore_backoff: bool = False) -> DeliveryReport:
    """Deliver up to ``max_batches`` batches (setting ``STRONGROOM_AUDIT_STREAM_BATCHES_PER_RUN``)
    of one stream's pending sealed events.

    Idempotent and safe to call concurrently from any number of processes: only the holder of the
    stream's lease sends. Returns without sending when the stream is paused, backing off (unless
    ``ignore_backoff``, for an operator's explicit run) or claimed by another run. Never raises for a
    destination's failure: it is recorded on the stream (``last_error``, backoff).
    """
    report = DeliveryReport(stream_id=stream_id)
    token = secrets.token_hex(16)
    if not _claim(stream_id, token, ignore_backoff=ignore_backoff):
        report.outcome = _why_not_claimed(stream_id, report, ignore_backoff=ignore_backoff)
        # This message found nothing to do: let dispatch queue the stream again when it is due,
        # instead of waiting for the "queued" mark to go stale.
        AuditStream.objects.filter(pk=stream_id, enqueued_at__isnull=False).update(enqueued_at=None)
        return report
    try:
        _run(stream_id, token, report, max_batches or settings.STRONGROOM_AUDIT_STREAM_BATCHES_PER_RUN)
    finally:
        AuditStream.objects.filter(pk=stream_id, claim_token=token).update(claimed_until=None, claim_token="")
    return report


def _lease_until() -> datetime:
    return timezone.now() + timedelta(seconds=settings.STRONGROOM_AUDIT_STREAM_LEASE_SECONDS)


def _claim(stream_id: int, token: str, *, ignore_backoff: bool) -> bool:
    """Compare-and-set on the lease: exactly one concurrent caller gets rowcount 1."""
    now = timezone.now()
    query = AuditStream.objects.filter(pk=stream_id, state=StreamState.ACTIVE).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )
    if not ignore_backoff:
        query = query.filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    return query.update(claimed_until=_lease_until(), claim_token=token, enqueued_at=None) == 1


def _why_not_claimed(stream_id: int, report: DeliveryReport, *, ignore_backoff: bool) -> str:
    stream = AuditStream.objects.filter(pk=stream_id).first()
    if stream is None:
        return DeliveryOutcome.MISSING
    report.cursor = stream.cursor_event_id
    report.retry_at = stream.next_attempt_at
    if stream.state != StreamState.ACTIVE:
        return DeliveryOutcome.PAUSED
    if not ignore_backoff and stream.next_attempt_at and stream.next_attempt_at > timezone.now():
        return DeliveryOutcome.NOT_DUE
    return DeliveryOutcome.BUSY


def _run(stream_id: int, token: str, report: DeliveryReport, max_batches: int) -> None:
    stream = AuditStream.objects.select_related("organization").get(pk=stream_id)
    report.cursor = stream.cursor_event_id
    secrets_in_use = stream_secret_strings(stream)
    run = _Run(stream=stream, token=token, report=report, secrets=secrets_in_use)
    try:
        kind = stream_kind(stream.kind)
        ctx = stream_context(stream)
    except StreamUnavailable as exc:
        run.failed(exc)
        return
    except Exception as exc:  # an unknown or broken kind: the stream waits for an admin
        run.failed(StreamUnavailable(f"stream kind {stream.kind!r} is not available ({type(exc).__name__})"))
        return
    through = audit_sealed_through()
    run.through = through
    events = AuditEvent.objects.filter(
        organization_id=stream.organization_id, id__gt=stream.cursor_event_id, id__lte=through
    )
    batches = _batches(audit_export_rows(events, chunk_size=READ_CHUNK), kind, _batch_cap(kind))
    try:
        for number, batch in enumerate(batches):
            if number >= max_batches:
                report.outcome = DeliveryOutcome.MORE
                return
            run.deliver(kind, ctx, batch)
        # Every event of the organization up to the boundary was handed over: the cursor may jump
        # there, past other organizations' ids, so the next run starts (and dispatch compares) from it.
        run.advance_to(through)
        report.outcome = DeliveryOutcome.CAUGHT_UP
    except StreamUnavailable as exc:
        run.failed(exc)
    except _Stop:
        report.outcome = DeliveryOutcome.PAUSED
    except _LeaseLost:
        report.outcome = DeliveryOutcome.INTERRUPTED
        logger.info("audit stream %s: cursor moved or lease lost during the run; stopping", stream_id)
    finally:
        batches.close()


def _batch_cap(kind: StreamKind) -> int:
    cap = int(settings.STRONGROOM_AUDIT_STREAM_BATCH_MAX_EVENTS or 0)
    return max(1, min(kind.max_events, cap) if cap > 0 else kind.max_events)


def _size(row: Mapping[str, Any]) -> int:
    """The event's size as JSON: the measure ``max_bytes`` is checked against (kinds wrap it a little)."""
    return len(json.dumps(row, separators=(",", ":"), default=str)) + 1


def _batches(
    rows: Iterator[dict[str, Any]], kind: StreamKind, max_events: int
) -> Generator[list[dict[str, Any]], None, None]:
    """Consecutive runs of ``rows`` within ``max_events`` and ``kind.max_bytes`` (an event larger than
    ``max_bytes`` on its own is a batch of one: the destination decides)."""
    batch: list[dict[str, Any]] = []
    size = 0
    for row in rows:
        row_size = _size(row)
        if batch and (len(batch) >= max_events or size + row_size > kind.max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(row)
        size += row_size
    if batch:
        yield batch


# --- one run's writes ---------------------------------------------------------------------------


@dataclass
class _Run:
    stream: AuditStream
    token: str
    report: DeliveryReport
    secrets: list[str]
    through: int = 0

    @property
    def _mine(self) -> Any:
        """This stream, only while this run holds its lease and nobody moved its cursor."""
        return AuditStream.objects.filter(pk=self.stream.pk, claim_token=self.token, cursor_event_id=self.report.cursor)

    def hold(self) -> None:
        """Before every send: extend the lease, only while this run still holds it, the stream is
        active and nobody moved its cursor (replay). Otherwise stop: a paused stream sends nothing
        more, and a run that lost its lease never sends beside the run that took it."""
        if self._mine.filter(state=StreamState.ACTIVE).update(claimed_until=_lease_until()) == 1:
            return
        state = AuditStream.objects.filter(pk=self.stream.pk).values_list("state", flat=True).first()
        if state != StreamState.ACTIVE:
            raise _Stop
        raise _LeaseLost

    def head(self) -> ChainHead | None:
        block = audit_chain_head(self.stream.organization_id)
        return ChainHead(sequence=block.sequence, block_hash=block.block_hash) if block else None

    def deliver(self, kind: StreamKind, ctx: StreamContext, batch: Sequence[dict[str, Any]]) -> None:
        """Send ``batch``; on a refusal, split it and find the refused event (recursively, in order)."""
        try:
            self._send(kind, ctx, batch)
        except StreamRejected as exc:
            if len(batch) == 1:
                self.park(batch[0], exc)
                return
            middle = len(batch) // 2
            self.deliver(kind, ctx, batch[:middle])
            self.deliver(kind, ctx, batch[middle:])
            return
        self.acknowledged(batch)

    def _send(self, kind: StreamKind, ctx: StreamContext, batch: Sequence[dict[str, Any]]) -> None:
        self.hold()
        try:
            kind.send(ctx, batch, head=self.head())
        except (StreamUnavailable, StreamRejected):
            raise
        except Exception as exc:
            # A bug or an SDK error: its text may hold a URL with a key; keep the class name only.
            logger.warning("audit stream %s: %s raised %s", self.stream.pk, self.stream.kind, type(exc).__name__)
            raise StreamUnavailable(f"the {self.stream.kind} stream failed ({type(exc).__name__})") from None

    def acknowledged(self, batch: Sequence[dict[str, Any]]) -> None:
        """The destination accepted ``batch``: cursor and counters in one UPDATE (plus the recovery
        event when this ends a run of failures)."""
        now = timezone.now()
        last_id = int(batch[-1]["id"])
        recovering = self.stream.consecutive_failures > 0
        with transaction.atomic():
            updated = self._mine.update(
                cursor_event_id=last_id,
                delivered_count=F("delivered_count") + len(batch),
                last_success_at=now,
                last_attempt_at=now,
                consecutive_failures=0,
                next_attempt_at=None,
            )
            if updated != 1:
                raise _LeaseLost
            if recovering:
                self._audit(
                    "audit_stream.recovered",
                    failures=self.stream.consecutive_failures,
                    first_event_id=int(batch[0]["id"]),
                )
        self.stream.consecutive_failures = 0
        self.report.cursor = last_id
        self.report.delivered += len(batch)
        self.report.batches += 1

    def park(self, row: Mapping[str, Any], exc: StreamRejected) -> None:
        """Set aside the one event the destination refuses and move the cursor past it."""
        event_id = int(row["id"])
        error = self._safe(exc)
        now = timezone.now()
        with transaction.atomic():
            updated = self._mine.update(
                cursor_event_id=event_id,
                parked_count=F("parked_count") + 1,
                last_attempt_at=now,
                last_error=error,
                last_error_at=now,
            )
            if updated != 1:
                raise _LeaseLost
            ParkedAuditEvent.objects.update_or_create(
                stream_id=self.stream.pk, event_id=event_id, defaults={"status": exc.status, "error": error}
            )
            # A destination refusing everything would otherwise park each parking event in turn.
            if not str(row.get("action", "")).startswith("audit_stream."):
                self._audit(
                    "audit_stream.event_parked",
                    outcome=Outcome.ERROR,
                    event_id=event_id,
                    event_action=str(row.get("action", "")),
                    status=exc.status,
                    error=error,
                )
        logger.warning("audit stream %s: parked event %s (%s)", self.stream.pk, event_id, error)
        self.report.cursor = event_id
        self.report.parked += 1
        self.report.parked_ids.append(event_id)

    def advance_to(self, through: int) -> None:
        """No event of the organization is left up to ``through``: move the cursor there."""
        if through <= self.report.cursor:
            return
        if self._mine.update(cursor_event_id=through) != 1:
            raise _LeaseLost
        self.report.cursor = through

    def failed(self, exc: StreamUnavailable) -> None:
        """Keep the cursor; record the error; back off. The first failure of a run of them is audited."""
        error = self._safe(exc)
        failures = self.stream.consecutive_failures + 1
        delay = backoff_seconds(failures, retry_after=exc.retry_after)
        now = timezone.now()
        retry_at = now + timedelta(seconds=delay)
        with transaction.atomic():
            updated = AuditStream.objects.filter(pk=self.stream.pk, claim_token=self.token).update(
                last_attempt_at=now,
                last_error=error,
                last_error_at=now,
                consecutive_failures=F("consecutive_failures") + 1,
                next_attempt_at=retry_at,
            )
            if updated == 1 and failures == 1:
                self._audit("audit_stream.delivery_failed", outcome=Outcome.ERROR, status=exc.status, error=error)
        logger.warning(
            "audit stream %s: delivery failed (%s); attempt %s, next in %.1f s", self.stream.pk, error, failures, delay
        )
        self.stream.consecutive_failures = failures
        self.report.outcome = DeliveryOutcome.FAILED
        self.report.retry_at = retry_at
        self.report.error = error

    def _safe(self, exc: Exception) -> str:
        return stream_scrub(str(exc) or type(exc).__name__, self.secrets)

    def _audit(self, action: str, *, outcome: str = Outcome.ALLOW, **metadata: Any) -> None:
        audit_record(
            action=action,
            actor=SYSTEM_ACTOR,
            outcome=outcome,
            organization_id=self.stream.organization_id,
            resource_type="audit_stream",
            resource_id=str(self.stream.public_id),
            metadata={"name": self.stream.name, "kind": self.stream.kind, **metadata},
        )


def backoff_seconds(failures: int, *, retry_after: float | None = None) -> float:
    """The wait after the ``failures``-th consecutive failure: full jitter over an exponential
    ceiling (``base · 2^(failures-1)``, capped), or the destination's ``Retry-After`` when that is
    longer (itself capped, so a receiver cannot park a stream for days)."""
    base = float(settings.STRONGROOM_AUDIT_STREAM_BACKOFF_SECONDS)
    cap = float(settings.STRONGROOM_AUDIT_STREAM_BACKOFF_MAX_SECONDS)
    ceiling = min(cap, base * 2 ** min(max(failures, 1) - 1, 32))
    delay = random.uniform(0, ceiling)  # noqa: S311 (jitter, not a secret)
    if retry_after is not None and retry_after > delay:
        delay = min(float(retry_after), float(settings.STRONGROOM_AUDIT_STREAM_RETRY_AFTER_MAX_SECONDS))
    return max(delay, 0.0)
