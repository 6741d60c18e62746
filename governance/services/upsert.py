"""One bulk upsert for the governance engine's tables, on PostgreSQL and SQLite alike.

``bulk_create(update_conflicts=True)`` can only overwrite columns and prepares every value in
Python (at 10,000 rows of 35 columns that was most of a risk refresh); here the counts can be
added to, and on PostgreSQL each column travels as one array parameter (``unnest``).
"""

from __future__ import annotations

from typing import Any, cast

from django.db import connection
from django.db.models import Field, JSONField, Model

SQLITE_PARAMETERS = 30000  # per multi-row VALUES (SQLite allows 32,766)
UNNEST_BATCH = 20000  # rows per statement on PostgreSQL


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    return cast("Field[Any, Any]", model._meta.get_field(name))


def rows_upsert(
    model: type[Model], rows: list[dict[str, Any]], *, conflict: list[str], updates: dict[str, str]
) -> None:
    """``INSERT … ON CONFLICT (conflict) DO UPDATE SET column = expression`` for *rows* (keys: field
    names, distinct on *conflict*). In *updates*, ``{old}`` stands for the stored row and
    ``excluded`` for the new one; every expression sees the stored row as it was (SQL UPDATE
    semantics; ``replace_all(model, …)`` builds "every other column from the new row"). PostgreSQL gets one statement per ``UNNEST_BATCH`` rows, each column one array
    parameter; SQLite (3.24+) multi-row VALUES of up to ``SQLITE_PARAMETERS`` values."""
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    fields = [_field(model, name) for name in rows[0]]
    columns = ", ".join(quote(column.column) for column in fields)
    assignments = ", ".join(
        f"{quote(_field(model, name).column)} = {expression.format(old=table)}" for name, expression in updates.items()
    )
    tail = (
        f"ON CONFLICT ({', '.join(quote(_field(model, name).column) for name in conflict)}) DO UPDATE SET {assignments}"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{column.db_type(connection)}[]" for column in fields)
            # JSON values need the driver's wrapper; every other value goes into its array as it is.
            json = [isinstance(column, JSONField) for column in fields]
            for start in range(0, len(rows), UNNEST_BATCH):
                chunk = rows[start : start + UNNEST_BATCH]
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) {tail}",  # noqa: S608 - our names
                    [
                        [column.get_db_prep_save(row[column.name], connection) for row in chunk]
                        if is_json
                        else [row[column.name] for row in chunk]
                        for column, is_json in zip(fields, json, strict=True)
                    ],
                )
            return
        placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
        per_statement = max(1, SQLITE_PARAMETERS // len(fields))
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            params = [column.get_db_prep_save(row[column.name], connection) for row in chunk for column in fields]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([placeholders] * len(chunk))} {tail}",  # noqa: S608
                params,
            )


def replace_all(model: type[Model], names: list[str]) -> dict[str, str]:
    """*updates* for ``rows_upsert`` that overwrite each of *names* with the new row's value."""
    quote = connection.ops.quote_name
    return {name: f"excluded.{quote(_field(model, name).column)}" for name in names}
