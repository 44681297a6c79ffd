"""Hand-written SQL for the hot paths (access checks, token auth, claim, submit).

The ORM's query compiler costs more CPU than everything else in those requests
together (about 0.7 ms a query here, against 0.05 ms for the statement itself;
bench/queue.py), so they send fixed statements. `Columns` lists a model's
columns for a SELECT and turns that slice of a row back into an instance with
the same value conversions the ORM applies, on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from django.db import connection, models

Converter = Callable[[Any, Any, Any], Any]


class Columns[M: models.Model]:
    """The concrete columns of `model` (less `exclude`) under a table alias."""

    def __init__(
        self, model: type[M], alias: str, *, exclude: Collection[str] = ()
    ) -> None:
        self.model = model
        self.fields = [
            f for f in model._meta.concrete_fields if f.attname not in exclude
        ]
        self.attnames = [f.attname for f in self.fields]
        self.sql = ", ".join(f'{alias}."{f.column}"' for f in self.fields)
        self.width = len(self.fields)
        self._converters: list[tuple[int, list[Converter], Any]] | None = None

    def _converters_for_connection(self) -> list[tuple[int, list[Converter], Any]]:
        # Built on first use, when the connection's backend is known; the
        # same lists the compiler builds (backend converters, then the field's).
        if self._converters is None:
            table = self.model._meta.db_table
            found = []
            for i, field in enumerate(self.fields):
                col = field.get_col(table)
                convs = [
                    *connection.ops.get_db_converters(col),
                    *col.get_db_converters(connection),
                ]
                if convs:
                    found.append((i, convs, col))
            self._converters = found
        return self._converters

    def load(self, row: Sequence[Any], start: int = 0) -> M:
        """The instance held by row[start:start + width]."""
        values = list(row[start : start + self.width])
        for i, convs, col in self._converters_for_connection():
            for convert in convs:
                values[i] = convert(values[i], col, connection)
        return self.model.from_db(connection.alias, self.attnames, values)


def for_update(sql: str, lock: str) -> str:
    """`sql` with a row-locking clause on PostgreSQL; SQLite has none (and
    needs none: it serialises writers)."""
    return f"{sql} {lock}" if connection.vendor == "postgresql" else sql
