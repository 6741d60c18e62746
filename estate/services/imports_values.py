"""Entering the values Azure DevOps never returns (secret variables), by hand or from a CSV file.

All or nothing: every name must be an item of the import (by its Azure DevOps name or its key),
every value non-empty, and the values are written with one bulk upsert. Errors name the variable
(or the CSV line), never a value. Audited ``estate.import_values_entered`` with names only.
"""

from __future__ import annotations

import csv
import io

from django.utils import timezone

from estate.models import EstateImport, EstateImportItem, ItemStatus
from estate.services.imports_write import bulk_write, import_scope, live_versions, recompute_status
from secrets_app.errors import ValidationFailed
from secrets_app.policy.enforcement import all_or_nothing
from secrets_app.principals import Principal
from secrets_app.selectors.access import ProjectScope
from secrets_app.validation import encode_secret_value

MAX_CSV_BYTES = 1_000_000


def _item_for(items: list[EstateImportItem], name: str) -> EstateImportItem | None:
    return next((item for item in items if item.ado_name == name), None) or next(
        (item for item in items if item.key == name), None
    )


def _resolve(items: list[EstateImportItem], name: str, value: object, where: str) -> EstateImportItem:
    item = _item_for(items, name)
    if item is None:
        raise ValidationFailed(where, f"'{name}' is not a variable of this import")
    if item.status == ItemStatus.SKIPPED:
        raise ValidationFailed(where, f"'{name}' is skipped in this import")
    if not isinstance(value, str) or value == "":
        raise ValidationFailed(where, f"'{name}': a value is required (empty values are refused)")
    encode_secret_value(value, field=where)
    return item


def import_values_enter(*, principal: Principal, estate_import: EstateImport, values: dict[str, str]) -> EstateImport:
    """Write *values* ({ADO name or key: value}) into the import's place and mark those items
    IMPORTED; status NEEDS_VALUES until none is missing, then COMPLETE (HELD when an approval
    policy holds the write)."""
    if not isinstance(values, dict) or not values:
        raise ValidationFailed("values", "give at least one value")
    scope = import_scope(principal, estate_import)
    items = list(estate_import.items.all())
    chosen: dict[int, tuple[EstateImportItem, str]] = {}
    for name, value in values.items():
        item = _resolve(items, str(name), value, "values")
        if item.pk in chosen:
            raise ValidationFailed("values", f"'{name}' is given twice (by name and by key)")
        chosen[item.pk] = (item, value)
    return _write(scope, estate_import, list(chosen.values()))


def _write(
    scope: ProjectScope, estate_import: EstateImport, chosen: list[tuple[EstateImportItem, str]]
) -> EstateImport:
    with all_or_nothing(scope):
        locked = EstateImport.objects.select_for_update().get(pk=estate_import.pk)
        outcome = bulk_write(scope, locked, {item.key: value for item, value in chosen})
        versions = live_versions(locked, [item.key for item, _ in chosen])
        now = timezone.now()
        for item, _ in chosen:
            if outcome.held is None:
                item.status, item.note = ItemStatus.IMPORTED, ""
                item.imported_version, item.imported_at = versions.get(item.key), now
            else:
                item.note = "held for approval"
            item.save()
        recompute_status(locked, held=outcome.held)
        statuses = list(locked.items.values_list("status", flat=True))
        locked.counts = {
            **(locked.counts or {}),
            "needs_value": statuses.count(ItemStatus.NEEDS_VALUE),
            "entered": int((locked.counts or {}).get("entered", 0)) + (0 if outcome.held else len(chosen)),
        }
        locked.save()
        scope.audit(
            "estate.import_values_entered",
            environment=locked.environment.slug,
            path=locked.path,
            resource_type="estate_import",
            resource_id=str(locked.public_id),
            metadata={
                "resource": locked.resource.name,
                "names": sorted(item.ado_name for item, _ in chosen)[:500],
                "count": len(chosen),
                "status": locked.status,
                "changeRequest": outcome.held_id,
            },
        )
    return locked


def import_values_csv(*, principal: Principal, estate_import: EstateImport, csv_text: str) -> EstateImport:
    """``import_values_enter`` from CSV text with the header ``name,value`` (values may be quoted,
    multi-line). A malformed file is refused as ``csv`` naming the line, never quoting a value."""
    if not isinstance(csv_text, str) or not csv_text.strip():
        raise ValidationFailed("csv", "the file is empty")
    if len(csv_text.encode("utf-8", "surrogatepass")) > MAX_CSV_BYTES:
        raise ValidationFailed("csv", f"the file is larger than {MAX_CSV_BYTES} bytes")
    items = list(estate_import.items.all())
    reader = csv.reader(io.StringIO(csv_text.lstrip("\ufeff"), newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))
    except csv.Error:
        raise ValidationFailed("csv", f"line {max(1, reader.line_num)}: not valid CSV (check the quotes)") from None
    if not rows or [cell.strip().lower() for cell in rows[0][1]] != ["name", "value"]:
        raise ValidationFailed("csv", "line 1: the header must be name,value")
    scope = import_scope(principal, estate_import)
    chosen: dict[int, tuple[EstateImportItem, str]] = {}
    for line, row in rows[1:]:
        if not row or row == [""]:
            continue
        if len(row) != 2:
            raise ValidationFailed("csv", f"line {line}: expected 2 fields (name,value), found {len(row)}")
        name, value = row[0].strip(), row[1]
        if not name:
            raise ValidationFailed("csv", f"line {line}: the name is empty")
        try:
            item = _resolve(items, name, value, "csv")
        except ValidationFailed as exc:
            raise ValidationFailed("csv", f"line {line}: {exc.fields['csv'][0]}") from None
        if item.pk in chosen:
            raise ValidationFailed("csv", f"line {line}: '{name}' appears more than once")
        chosen[item.pk] = (item, value)
    if not chosen:
        raise ValidationFailed("csv", "the file has no values (only the header)")
    return _write(scope, estate_import, list(chosen.values()))
