"""A real Celery worker SIGKILLed in the middle of a stream's run: a new worker (with the real beat)
picks the stream up once the dead run's lease expires and delivers the rest. Duplicates are allowed
(the batch in flight at the kill), losses are not, and the order holds."""

from __future__ import annotations

import time
from typing import Any

import pytest

from audit.streams.models import AuditStream
from tests.audit.streams.engine_support import Receiver, make_stream, record, seal
from tests.support.celery_worker import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_worker_killed_mid_batch_loses_nothing(stream_org: Any, receiver: Receiver, stream_workers: Any) -> None:
    stream = make_stream(stream_org, receiver)
    ids = record(stream_org, 300)
    seal()
    receiver.delay = 0.15  # each batch takes a while at the receiver, so the kill lands mid-run
    workers = stream_workers(
        STRONGROOM_AUDIT_STREAM_BATCH_MAX_EVENTS="20",
        # A run queues its successor every 8 batches: the kill (after 3) lands inside the first run,
        # with ~5 batches (0.75 s) to spare, never in the gap between two runs.
        STRONGROOM_AUDIT_STREAM_BATCHES_PER_RUN="8",
        STRONGROOM_AUDIT_STREAM_LEASE_SECONDS="3",
        STRONGROOM_AUDIT_STREAM_DISPATCH_SECONDS="1",
    )
    first = workers.start()
    workers.send("audit.streams.tasks.audit_stream_deliver", stream.pk)
    wait_until(lambda: len(receiver.batches) >= 3, timeout=30)
    time.sleep(0.05)  # the next batch is at the receiver
    workers.kill(first)
    before_kill = len(set(receiver.event_ids()))
    assert 0 < before_kill < 300, "the kill landed mid-run"
    stream.refresh_from_db()
    assert stream.claimed_until is not None  # the dead run's lease is still held

    killed_at = time.monotonic()
    workers.start(beat=True)  # beat's dispatch queues the stream again once the lease expired
    wait_until(lambda: set(ids) <= set(receiver.event_ids()), timeout=45)
    recovered_in = time.monotonic() - killed_at

    received = receiver.event_ids()
    first_seen = list(dict.fromkeys(received))
    assert first_seen[: len(ids)] == ids, "in id order, nothing skipped"
    duplicates = len(received) - len(first_seen)
    assert duplicates <= 40, f"{duplicates} duplicates: more than the batches in flight at the kill"
    # The receiver has the last batch a moment before the run commits its cursor past it.
    wait_until(lambda: AuditStream.objects.get(pk=stream.pk).cursor_event_id >= ids[-1], timeout=15)
    stream = AuditStream.objects.get(pk=stream.pk)
    assert stream.cursor_event_id >= ids[-1]
    print(
        f"stream run killed after {before_kill} events; caught up {recovered_in:.1f} s later, {duplicates} duplicates"
    )
