"""Exporting audit events as JSON Lines, for a streamed download or a SIEM import."""

from __future__ import annotations

import json
from collections.abc import Iterator

from django.db.models import QuerySet

from audit.chain import audit_event_as_dict
from audit.models import AuditEvent


def audit_export_jsonl(queryset: QuerySet[AuditEvent], *, chunk_size: int = 2000) -> Iterator[str]:
    """Yield one JSON object per event, each ending in ``\\n``, in the queryset's order.

    Streams from the database (bounded memory). Every column is included, with the same values the
    hash chain covers; output is ASCII with control characters escaped, so one line is one event
    whatever a path or user agent contains. Scope and permission filtering are the caller's (pass a
    queryset from ``audit.selectors.audit_event_list``).
    """
    for event in queryset.iterator(chunk_size=chunk_size):
        yield json.dumps(audit_event_as_dict(event), sort_keys=True, ensure_ascii=True) + "\n"
