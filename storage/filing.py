"""Storing a batch of new items with their events and outbox messages, in as few trips to the
database as it allows.

This is the hot path of every /cx-alarm: the ack waits for it. Through SQLAlchemy Core it took
five round trips on PostgreSQL (BEGIN, an INSERT per table, COMMIT) and about 0.3 ms of CPU per
item. Here:

- PostgreSQL gets one statement. The rows travel as one array per column, unnested, and the three
  INSERTs are chained with data-modifying CTEs, so the batch is atomic even in autocommit (which
  `HeldConnection` uses: no BEGIN or COMMIT to send). The statement's text doesn't depend on the
  batch's size, so psycopg prepares it once.
- SQLite gets one INSERT ... RETURNING for the items and one executemany per other table, sent
  straight to the driver in the caller's transaction.

Values pass through each column's own bind processing (VerbatimText's escape, UTC timestamps,
enums, JSON), as they would through the ORM; tests/test_filing.py checks that both paths store
rows identical to the ORM's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import JSON, Column, Connection, Table
from sqlalchemy.engine import Dialect

from storage.models import Event, Item, OutboxMessage

_ITEMS = cast(Table, Item.__table__)
_EVENTS = cast(Table, Event.__table__)
_OUTBOX = cast(Table, OutboxMessage.__table__)
# SQLite before 3.32 allows 999 parameters a statement; an item row has about 20.
_SQLITE_ITEMS_PER_INSERT = 40


@dataclass(frozen=True)
class NewItemRows:
    """One new item's rows: its items row (with an intake_key), then rows for the events and
    outbox tables that need its id (filled in here as item_id), in the order to write them."""

    item: Mapping[str, Any]
    events: Sequence[Mapping[str, Any]] = ()
    messages: Sequence[Mapping[str, Any]] = ()


def insert_filed(*, connection: Connection, batch: Sequence[NewItemRows]) -> dict[str, int]:
    """Insert the items, skipping any whose intake_key is already stored, and the events and outbox
    messages of those inserted. Returns the new items' ids by intake_key. Every row of a table
    must have the same columns."""
    if not batch:
        return {}
    if connection.dialect.name == "postgresql":
        return _insert_postgresql(connection, batch)
    return _insert_sqlite(connection, batch)


# PostgreSQL: one statement.


def _insert_postgresql(connection: Connection, batch: Sequence[NewItemRows]) -> dict[str, int]:
    dialect = connection.dialect
    item_columns = _columns(_ITEMS, batch[0].item)
    event_columns = _columns(_EVENTS, _first_row(batch, "events"))
    message_columns = _columns(_OUTBOX, _first_row(batch, "messages"))
    params = {
        "items": _document(
            _ITEMS, item_columns, [(position, new.item) for position, new in _numbered(batch)], dialect
        ),
        "events": _document(_EVENTS, event_columns, _children(batch, "events"), dialect),
        "messages": _document(_OUTBOX, message_columns, _children(batch, "messages"), dialect),
    }
    sql = _postgresql_statement(dialect, item_columns, event_columns, message_columns)
    rows = connection.exec_driver_sql(sql, params)
    return {str(key): int(number) for key, number in rows}


def _numbered(batch: Sequence[NewItemRows]) -> Iterator[tuple[int, NewItemRows]]:
    return enumerate(batch, start=1)


def _children(batch: Sequence[NewItemRows], field: str) -> list[tuple[int, Mapping[str, Any]]]:
    """A child table's rows, each with the position of its item in the batch."""
    return [(position, row) for position, new in _numbered(batch) for row in getattr(new, field)]


def _document(
    table: Table, columns: tuple[str, ...], rows: Sequence[tuple[int, Mapping[str, Any]]], dialect: Dialect
) -> str:
    """The rows as one JSON array for json_to_recordset: each value after its column's bind
    processing, timestamps in ISO 8601; `_of` is the position of the row's item in the batch,
    and `_n` the row's own position (both from 1)."""
    processors = _processors(table, columns, dialect)
    records = []
    for n, (of_item, row) in enumerate(rows, start=1):
        record = {name: process(row[name]) for name, process in zip(columns, processors, strict=True)}
        record["_of"], record["_n"] = of_item, n
        records.append(record)
    return json.dumps(records, default=_iso, separators=(",", ":"))


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"can't store {type(value).__name__} in JSON")


def _first_row(batch: Sequence[NewItemRows], field: str) -> Mapping[str, Any]:
    for new in batch:
        rows: Sequence[Mapping[str, Any]] = getattr(new, field)
        if rows:
            return rows[0]
    return {}


def _columns(table: Table, row: Mapping[str, Any]) -> tuple[str, ...]:
    names = tuple(name for name in row if name != "item_id")
    unknown = [name for name in names if name not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column {', '.join(unknown)}")
    return names


@cache
def _processors(table: Table, columns: tuple[str, ...], dialect: Dialect) -> tuple[Callable[[Any], Any], ...]:
    """Each column's bind processing for this dialect, as the ORM would apply it. A JSON column on
    PostgreSQL travels as a string holding its JSON, cast back in the statement: PostgreSQL
    can't read a \\u0000 escape out of a JSON document into a record, but a json value may hold one."""
    return tuple(_processor(table.c[name], dialect) for name in columns)


def _processor(column: Column[Any], dialect: Dialect) -> Callable[[Any], Any]:
    if dialect.name == "postgresql" and isinstance(column.type, JSON):
        return _json_text
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    return process if process is not None else _same


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _same(value: Any) -> Any:
    return value


@cache
def _postgresql_statement(
    dialect: Dialect,
    item_columns: tuple[str, ...],
    event_columns: tuple[str, ...],
    message_columns: tuple[str, ...],
) -> str:
    """WITH item_rows: the items as records, each with its position in the batch (_of, _n);
    inserted: those inserted (a stored intake_key is skipped); new_items: their ids by position;
    new_events, new_messages: the rows of the new items, item_id filled in, in batch order."""
    parts = [
        _records("item_rows", "items", _ITEMS, item_columns, dialect),
        f"""inserted AS (
  INSERT INTO items ({", ".join(item_columns)})
  SELECT {_qualified("item_rows", _ITEMS, item_columns)} FROM item_rows ORDER BY item_rows._n
  ON CONFLICT (intake_key) DO NOTHING
  RETURNING id, intake_key
)""",
        """new_items AS (
  SELECT inserted.id, item_rows._of FROM inserted JOIN item_rows USING (intake_key)
)""",
    ]
    for cte, param, table, columns in (
        ("event", "events", _EVENTS, event_columns),
        ("message", "messages", _OUTBOX, message_columns),
    ):
        if not columns:
            continue
        parts.append(_records(f"{cte}_rows", param, table, columns, dialect))
        parts.append(
            f"""new_{cte}s AS (
  INSERT INTO {table.name} (item_id, {", ".join(columns)})
  SELECT new_items.id, {_qualified(f"{cte}_rows", table, columns)}
  FROM {cte}_rows JOIN new_items USING (_of)
  ORDER BY {cte}_rows._n
)"""
        )
    return "WITH " + ",\n".join(parts) + "\nSELECT intake_key, id FROM inserted"


def _records(name: str, param: str, table: Table, columns: tuple[str, ...], dialect: Dialect) -> str:
    """A CTE of the rows in JSON parameter `param`, typed as the table's columns."""
    types = [f"{column} {_record_type(table.c[column], dialect)}" for column in columns]
    return f"""{name} AS (
  SELECT * FROM json_to_recordset(%({param})s::json) AS {name}({", ".join([*types, "_of int", "_n int"])})
)"""


def _record_type(column: Column[Any], dialect: Dialect) -> str:
    return "text" if isinstance(column.type, JSON) else column.type.compile(dialect=dialect)


def _qualified(source: str, table: Table, columns: Sequence[str]) -> str:
    """The select list of an INSERT from `source`; JSON columns are cast back from text."""
    casts = ("::json" if isinstance(table.c[name].type, JSON) else "" for name in columns)
    return ", ".join(f"{source}.{name}{cast}" for name, cast in zip(columns, casts, strict=True))


# SQLite: the items with RETURNING, then executemany, in the caller's transaction.


def _insert_sqlite(connection: Connection, batch: Sequence[NewItemRows]) -> dict[str, int]:
    dialect = connection.dialect
    item_columns = _columns(_ITEMS, batch[0].item)
    inserted: dict[str, int] = {}
    for start in range(0, len(batch), _SQLITE_ITEMS_PER_INSERT):
        chunk = batch[start : start + _SQLITE_ITEMS_PER_INSERT]
        values = ", ".join(["(" + ", ".join("?" * len(item_columns)) + ")"] * len(chunk))
        sql = (
            f"INSERT INTO items ({', '.join(item_columns)}) VALUES {values} "
            "ON CONFLICT (intake_key) DO NOTHING RETURNING intake_key, id"
        )
        processors = _processors(_ITEMS, item_columns, dialect)
        params = tuple(value for new in chunk for value in _processed(processors, item_columns, new.item))
        inserted.update((str(key), int(number)) for key, number in connection.exec_driver_sql(sql, params))
    new_items = [new for new in batch if new.item["intake_key"] in inserted]
    for table, field in ((_EVENTS, "events"), (_OUTBOX, "messages")):
        _executemany(connection, table, field, new_items, inserted)
    return inserted


def _executemany(
    connection: Connection, table: Table, field: str, new_items: Sequence[NewItemRows], ids: Mapping[str, int]
) -> None:
    columns = _columns(table, _first_row(new_items, field))
    processors = _processors(table, columns, connection.dialect)
    rows = [
        (ids[new.item["intake_key"]], *_processed(processors, columns, row))
        for new in new_items
        for row in getattr(new, field)
    ]
    if rows:
        placeholders = ", ".join("?" * (len(columns) + 1))
        sql = f"INSERT INTO {table.name} (item_id, {', '.join(columns)}) VALUES ({placeholders})"
        connection.exec_driver_sql(sql, rows)


def _processed(
    processors: Sequence[Callable[[Any], Any]], columns: Sequence[str], row: Mapping[str, Any]
) -> list[Any]:
    return [process(row[name]) for process, name in zip(processors, columns, strict=True)]
