"""SQL written by hand where the ORM's own work costs more than the database's: bulk
INSERTs on SQLite for the writers that insert thousands of rows per transaction (the
ledger's journals and legs, the gateway's earnings events), multi-row INSERTs of a few
rows on any backend (the ledger's small batches on PostgreSQL, the gift run's rows), and
single-row look-ups on the path of every API request."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, NamedTuple, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model
from django.db.models.sql import Query

M = TypeVar("M", bound=Model)


def in_values(column: str, values: Iterable[str | int]) -> tuple[str, Any]:
    """`column IN values` as SQL with ONE parameter, and that parameter, whatever the number
    of values: an array on PostgreSQL, a JSON array on SQLite. No parameter limit applies,
    and a batch of thousands is one statement instead of one query per 900 values."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", list(values)
    return f"{column} IN (SELECT value FROM json_each(%s))", json.dumps(list(values))


def first(model: type[M], where: str, params: Sequence[Any]) -> M | None:
    """The row of `model`'s table matching `where` (SQL with %s marks, on a unique column),
    as a model instance with every field converted as the ORM converts it; None if there
    is none."""
    found = select(model, f"{where} LIMIT 1", params)
    return found[0] if found else None


def select(model: type[M], where: str, params: Sequence[Any]) -> list[M]:
    """The rows of `model`'s table matching `where` (SQL with %s marks, and any ORDER BY),
    as model instances with every field converted as the ORM converts it.
    Every API request looks up its key, its user and (for a platform) its platform and
    policies this way. Compiling a query, or resolving a raw queryset's columns and
    converters, cost several times what the database spends answering a look-up by key
    (0.2 ms of a 0.3 ms look-up); the columns and converters are worked out once per
    model and connection instead (see _plan)."""
    conn = connections[DEFAULT_DB_ALIAS]
    plan = _plan(conn, model)
    with conn.cursor() as cursor:
        cursor.execute(f"{plan.select} WHERE {where}", list(params))
        rows: Iterable[Sequence[Any]] = cursor.fetchall()
    if plan.converters:
        rows = plan.compiler.apply_converters(rows, plan.converters)
    return [model.from_db(conn.alias, plan.names, list(row)) for row in rows]


class _Plan(NamedTuple):
    select: str
    names: list[str]
    compiler: Any
    # position in the row -> (the converters the ORM applies, the column they get)
    converters: dict[int, tuple[list[Callable[..., Any]], Any]]


# The attribute of a connection that holds its plans by model. On the connection itself,
# not in a module-level mapping: a backend's converters are bound to their connection, so
# a mapping would keep every thread's connection alive after its thread ended.
_PLANS = "keel_select_plans"


def _plan(conn: Any, model: type[Model]) -> _Plan:
    by_model: dict[type[Model], _Plan] | None = getattr(conn, _PLANS, None)
    if by_model is None:
        by_model = {}
        setattr(conn, _PLANS, by_model)
    plan = by_model.get(model)
    if plan is None:
        fields = model._meta.concrete_fields
        table = model._meta.db_table
        quote = conn.ops.quote_name
        compiler = conn.ops.compiler("SQLCompiler")(Query(model), conn, conn.alias)
        plan = by_model[model] = _Plan(
            select=f"SELECT {', '.join(quote(f.column) for f in fields)} FROM {quote(table)}",
            names=[f.attname for f in fields],
            compiler=compiler,
            converters=compiler.get_converters([f.get_col(table) for f in fields]),
        )
    return plan


# Rows per INSERT statement on SQLite (see sqlite_insert); 50 to 200 measured the same,
# 500 worse. Within the 999 parameters Django allows a statement on SQLite.
ROWS_PER_INSERT = 100


def sqlite_insert(
    cursor: Any, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """INSERT `rows` (already in the driver's form) into `table` with multi-row INSERT
    statements of up to ROWS_PER_INSERT rows. Each statement costs a fixed amount on top
    of its rows (and a statement that triggers or a constraint may abort also keeps a
    statement journal, so that it can be undone on its own): a statement per row
    (executemany) paid that for every row, more than the rows themselves. Triggers still
    run for every row. The statements are written with SQLite's own ? marks and go to
    sqlite3's execute, as the rows are already adapted: Django's cursor would rewrite every
    %s mark with a regular expression on each call (errors are still raised as Django's)."""
    per_statement = max(1, min(ROWS_PER_INSERT, 999 // len(columns)))
    row_marks = "(" + ", ".join(["?"] * len(columns)) + ")"
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
    full = head + ", ".join([row_marks] * per_statement)
    execute = partial(sqlite3.Cursor.execute, cursor.cursor)
    # Errors as Django's cursor raises them (IntegrityError and the rest from django.db).
    with connection.wrap_database_errors:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            sql = (
                full if len(chunk) == per_statement else head + ", ".join([row_marks] * len(chunk))
            )
            execute(sql, [value for row in chunk for value in row])


def insert_rows(
    cursor: Any,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """Multi-row INSERTs of ``rows`` through Django's cursor (any backend), as many to a
    statement as its parameter limit allows; what they return of the ``returning``
    columns. For a few rows: a statement per row costs a round trip each, and COPY (see
    the ledger) its own extra round trips."""
    made: list[tuple[Any, ...]] = []
    per_statement = max(1, (cursor.db.features.max_query_params or 999) // len(columns))
    row_marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
    tail = f" RETURNING {', '.join(returning)}" if returning else ""
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
            + ", ".join([row_marks] * len(chunk))
            + tail,
            [value for row in chunk for value in row],
        )
        if returning:
            made.extend(cursor.fetchall())
    return made
