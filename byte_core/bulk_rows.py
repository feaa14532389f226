"""Many rows in one statement: each column travels as one array parameter and `unnest` turns them back
into rows. One INSERT or UPDATE per table and batch, planned once; unlike COPY it is allowed on tables
under row-level security (their policies apply as to any INSERT or UPDATE).

The arrays travel in PostgreSQL's binary format: the text format escapes every element with a regular
expression, which cost more than the whole engine run for a batch of JSON-heavy audit rows."""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

_DIALECT = postgresql.dialect()


def _array(table, name: str) -> tuple[str, str]:
    """The unnest argument for one column, and how to read its element back as the column's type."""
    column = table.c[name]
    if isinstance(column.type, JSONB):
        return f"CAST(%({name})b AS text[])", f"u.{name}::jsonb"
    return f"CAST(%({name})b AS {column.type.compile(dialect=_DIALECT).lower()}[])", f"u.{name}"


@lru_cache(maxsize=None)
def _insert(table, columns: tuple[str, ...]) -> str:
    arrays, values = zip(*(_array(table, name) for name in columns))
    return (f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {', '.join(values)} "
            f"FROM unnest({', '.join(arrays)}) AS u({', '.join(columns)})")


@lru_cache(maxsize=None)
def _update(table, key: str, columns: tuple[str, ...]) -> str:
    arrays, values = zip(*(_array(table, name) for name in (key, *columns)))
    sets = ", ".join(f"{name} = {value}" for name, value in zip(columns, values[1:]))
    return (f"UPDATE {table.name} AS t SET {sets} FROM unnest({', '.join(arrays)}) AS u({key}, {', '.join(columns)}) "
            f"WHERE t.{key} = u.{key}")


def _columns(table, rows: list[dict[str, Any]], names: tuple[str, ...]) -> dict[str, list[Any]]:
    params = {}
    for name in names:
        values = [row[name] for row in rows]
        if isinstance(table.c[name].type, JSONB):
            values = [None if v is None else json.dumps(v, default=str) for v in values]
        params[name] = values
    return params


def _run(session: Session, statement: str, params: dict[str, list[Any]]) -> None:
    # Sent as written (psycopg's binary placeholders, %b), in the session's transaction; SQLAlchemy still
    # wraps a refusal in DBAPIError, which the engine's batch fallback relies on.
    session.connection().exec_driver_sql(statement, params)


def insert_rows(session: Session, model, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys, named as the table's columns) into `model`'s table."""
    if not rows:
        return
    table, columns = model.__table__, tuple(rows[0])
    _run(session, _insert(table, columns), _columns(table, rows, columns))


def update_rows(session: Session, model, rows: list[dict[str, Any]], key: str = "id") -> None:
    """Set, on each row whose `key` matches, the other columns named in `rows` (dicts with the same keys).
    A JSON column is replaced whole, never merged; each key appears at most once."""
    if not rows:
        return
    table = model.__table__
    columns = tuple(name for name in rows[0] if name != key)
    _run(session, _update(table, key, columns), _columns(table, rows, (key, *columns)))
