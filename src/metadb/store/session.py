"""Transactions of the metadata store: one per public call, and the seam for database errors.

A unique-key violation becomes :class:`AlreadyExistsError`; a lost connection becomes
:class:`~metadb.errors.DatabaseUnreachableError`. Store code checks what it can first, so
that the message can name the node; the translation here catches races between writers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Dialect, Insert, Table
from sqlalchemy.exc import DBAPIError, IntegrityError

from metadb.db.database import Database
from metadb.db.dialect import dialect_for
from metadb.errors import AlreadyExistsError, MetadbError
from metadb.store.tables import MlmdText


class StoreSession:
    def __init__(self, db: Database) -> None:
        self.db = db

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (on SQLite it takes the write lock up front: BEGIN IMMEDIATE)."""
        with self._translated(), self.db.connect() as conn, self.db.dialect.begin_write(conn):
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._translated(), self.db.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except MetadbError:
            raise
        except IntegrityError as exc:
            raise AlreadyExistsError(
                f"already exists: {self.db.server_error(exc).splitlines()[0]}"
            ) from exc
        except DBAPIError as exc:
            raise self.db.translate_statement_error(exc, doing="a metadata store call") from exc


#: Per-column conversions of a row: (position in the row, converter).
_Converters = tuple[tuple[int, Callable[[str], str]], ...]
#: Compiled SQL, parameter order and conversions per (statement, dialect, columns).
#: Statements are built once per store.
_COMPILED: dict[
    tuple[Insert, str, tuple[str, ...]], tuple[str, tuple[str, ...] | None, _Converters]
] = {}


def insert_rows(
    conn: Connection,
    statement: Insert,
    columns: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """Execute ``statement`` (built once, kept by its owner) for ``rows`` with the driver's
    executemany, compiling it once.

    The hot write paths (property rows, event paths, links) pass thousands of rows whose values
    are plain ints, floats, strings, bools and bytes, which every driver adapts itself; skipping
    SQLAlchemy's per-row parameter processing halves their cost. The one processing kept is
    that of :class:`~metadb.store.tables.MlmdText` columns (a text mode that converts), done
    here; without such columns the rows go as they are.
    """
    if not rows:
        return
    cache_key = (statement, conn.dialect.name, columns)
    cached = _COMPILED.get(cache_key)
    if cached is None:
        compiled = statement.compile(dialect=conn.dialect, column_keys=list(columns))
        order = tuple(compiled.positiontup or ()) if compiled.positional else None
        types = [statement.table.c[name].type for name in columns]
        converters = tuple(
            (i, kind.codec.to_db) for i, kind in enumerate(types) if isinstance(kind, MlmdText)
        )
        cached = _COMPILED.setdefault(cache_key, (compiled.string, order, converters))
    sql, order, converters = cached
    if converters:
        rows = [_converted(row, converters) for row in rows]
    if order is None:  # named parameters (psycopg): one dict per row
        conn.exec_driver_sql(sql, [dict(zip(columns, row, strict=True)) for row in rows])
    elif order == columns:
        conn.exec_driver_sql(sql, list(rows))
    else:
        index = [columns.index(name) for name in order]
        conn.exec_driver_sql(sql, [tuple(row[i] for i in index) for row in rows])


def _converted(row: tuple[Any, ...], converters: _Converters) -> tuple[Any, ...]:
    values = list(row)
    for i, convert in converters:
        if isinstance(values[i], str):
            values[i] = convert(values[i])
    return tuple(values)


def insert_returning_ids(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` and return their new ids, in order, in as few round trips as possible."""
    if not rows:
        return []
    columns = tuple(rows[0])
    if _driver_ready(table, columns, conn.dialect) and all(tuple(row) == columns for row in rows):
        first = dialect_for(conn.dialect.name).reserve_ids(conn, table, len(rows))
        if first is not None:
            ids = list(range(first, first + len(rows)))
            values = [(i, *row.values()) for i, row in zip(ids, rows, strict=True)]
            insert_rows(conn, _plain_insert(table), ("id", *columns), values)
            return ids
    dialect = conn.dialect
    if dialect.insert_executemany_returning_sort_by_parameter_order:
        statement: Insert = table.insert().returning(table.c.id, sort_by_parameter_order=True)
        return [int(r[0]) for r in conn.execute(statement, rows)]
    # MySQL (not MariaDB) has no RETURNING: one statement per row, reading lastrowid.
    return [int(conn.execute(table.insert(), row).lastrowid) for row in rows]


@functools.cache
def _plain_insert(table: Table) -> Insert:
    """One INSERT object per table, so that :func:`insert_rows` compiles it once."""
    return table.insert()


@functools.cache
def _driver_ready(table: Table, columns: tuple[str, ...], dialect: Dialect) -> bool:
    """Whether values of ``columns`` go to the driver as they are (no SQLAlchemy bind
    processing, such as JSON's serialization), as :func:`insert_rows` sends them."""
    for name in columns:
        kind = table.c[name].type
        if not isinstance(kind, MlmdText) and kind.bind_processor(dialect) is not None:
            return False
    return True
