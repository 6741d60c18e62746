"""CSV exports of the estate inventory and findings (every matching row, streamed; names and flags,
never a value), written through the one CSV writer of the governance lists (CSV-injection safe)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.utils import timezone

from governance.selectors.risks import csv_lines

RESOURCE_COLUMNS = (
    "id", "kind", "ado_project", "name", "external_id", "connection", "secret_variables", "variables",
    "managed_by_sync", "first_seen_at", "last_seen_at", "changed_at", "removed_at",
)  # fmt: skip
FINDING_COLUMNS = (
    "id", "severity", "kind", "title", "ado_project", "resource_kind", "resource", "subject", "detail",
    "connection", "first_seen_at", "last_seen_at", "resolved_at",
)  # fmt: skip


def export_stamp() -> str:
    """The time in an export's file name."""
    return timezone.now().strftime("%Y%m%d-%H%M%S")


def resource_rows_csv(rows: Any) -> Iterator[str]:
    return csv_lines(
        RESOURCE_COLUMNS,
        (
            (
                r.pk, r.kind, r.ado_project_name, r.name, r.external_id, r.connection.name, r.secret_count,
                r.variable_count, r.managed_by_sync.public_id if r.managed_by_sync_id else "", r.first_seen_at,
                r.last_seen_at, r.changed_at, r.removed_at,
            )
            for r in rows.iterator(chunk_size=2000)
        ),
    )  # fmt: skip


def finding_rows_csv(rows: Any) -> Iterator[str]:
    def resource(f: Any, name: str) -> Any:
        return getattr(f.resource, name) if f.resource_id else ""

    return csv_lines(
        FINDING_COLUMNS,
        (
            (
                f.pk, f.severity, f.kind, f.get_kind_display(), resource(f, "ado_project_name"),
                resource(f, "kind"), resource(f, "name"), f.subject, f.detail, f.connection.name,
                f.first_seen_at, f.last_seen_at, f.resolved_at,
            )
            for f in rows.iterator(chunk_size=2000)
        ),
    )  # fmt: skip
