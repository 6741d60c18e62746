"""``manage.py audit_stream_deliver [--stream ID] [--once]``: deliver audit streams now, in this
process (the beat-driven Celery tasks do the same). For operators: drain a backlog, or check a
stream after fixing its destination."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.streams.delivery import DeliveryOutcome, DeliveryReport, stream_deliver
from audit.streams.models import AuditStream, StreamState


class Command(BaseCommand):
    help = "Deliver pending sealed audit events to audit streams now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--stream",
            help="Only this stream (its id or public id); its backoff is ignored, since you ask for it now.",
        )
        parser.add_argument(
            "--once", action="store_true", help="One run per stream (a bounded number of batches), not until caught up."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["stream"]:
            stream_ids = [self._stream_id(options["stream"])]
        else:
            stream_ids = list(AuditStream.objects.filter(state=StreamState.ACTIVE).values_list("pk", flat=True))
        failed = False
        for stream_id in stream_ids:
            report = self._deliver(stream_id, once=options["once"], ignore_backoff=bool(options["stream"]))
            failed = failed or report.outcome == DeliveryOutcome.FAILED
        if failed:
            raise CommandError("at least one stream could not deliver (see its last error)")

    def _deliver(self, stream_id: int, *, once: bool, ignore_backoff: bool) -> DeliveryReport:
        delivered = parked = 0
        while True:
            report = stream_deliver(stream_id=stream_id, ignore_backoff=ignore_backoff)
            delivered += report.delivered
            parked += report.parked
            if once or not report.more:
                break
        line = f"stream {stream_id}: {report.outcome}, {delivered} delivered, {parked} parked, cursor {report.cursor}"
        if report.error:
            line += f" ({report.error})"
        self.stdout.write(line)
        return report

    @staticmethod
    def _stream_id(ref: str) -> int:
        query = AuditStream.objects.all()
        if ref.isdigit():
            query = query.filter(pk=int(ref))
        else:
            try:
                query = query.filter(public_id=uuid.UUID(ref))
            except ValueError:
                raise CommandError(f"no audit stream {ref!r}") from None
        stream_id = query.values_list("pk", flat=True).first()
        if stream_id is None:
            raise CommandError(f"no audit stream {ref!r}")
        return int(stream_id)
