"""Fixed SQL for the hot read path: statements written once per process, no ORM compilation per
request (docs/performance.md). ``ModelColumns`` turns a model's columns into a select list and the
values a cursor returns back into a model instance, with the same conversions the ORM applies
(JSON, UUIDs and datetimes on SQLite, ...), so callers get ordinary instances."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from django.db import connections
from django.db.models import Model

M = TypeVar("M", bound=Model)
Converter = Callable[[Any, Any, Any], Any]


class ModelColumns(Generic[M]):
    """The concrete columns of *model* under *alias* (those named in *only*, when given), in
    ``_meta.concrete_fields`` order."""

    def __init__(
        self, model: type[M], alias: str, *, using: str = "default", only: frozenset[str] | None = None
    ) -> None:
        self.model = model
        self.alias = alias
        self.using = using
        self.fields = [field for field in model._meta.concrete_fields if only is None or field.attname in only]
        self.attnames = [field.attname for field in self.fields]
        self.width = len(self.fields)
        quote = connections[using].ops.quote_name
        self.select_list = ", ".join(f"{alias}.{quote(field.column)}" for field in self.fields)
        self._converters: list[tuple[int, list[Converter], Any]] | None = None

    def _conversions(self) -> list[tuple[int, list[Converter], Any]]:
        if self._converters is None:
            connection = connections[self.using]
            found = []
            for index, field in enumerate(self.fields):
                column = field.get_col(self.alias)
                converters = connection.ops.get_db_converters(column) + field.get_db_converters(connection)  # type: ignore[attr-defined]
                if converters:
                    found.append((index, converters, column))
            self._converters = found
        return self._converters

    def convert(self, values: Sequence[Any]) -> list[Any]:
        """The row's values as the ORM would hand them to ``from_db``."""
        converted = list(values[: self.width])
        connection = connections[self.using]
        for index, converters, column in self._conversions():
            value = converted[index]
            for converter in converters:
                value = converter(value, column, connection)
            converted[index] = value
        return converted

    def build(self, values: Sequence[Any]) -> M:
        return self.model.from_db(self.using, self.attnames, self.convert(values))


def is_postgresql(using: str = "default") -> bool:
    return connections[using].vendor == "postgresql"
