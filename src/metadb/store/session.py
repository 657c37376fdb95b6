"""Transactions of the metadata store: one per public call, and the seam for database errors.

A unique-key violation becomes :class:`AlreadyExistsError`; a lost connection becomes
:class:`~metadb.errors.DatabaseUnreachableError`. Store code checks what it can first, so
that the message can name the node; the translation here catches races between writers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Insert, Table
from sqlalchemy.exc import DBAPIError, IntegrityError

from metadb.db.database import Database
from metadb.errors import AlreadyExistsError, MetadbError


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


def insert_returning_ids(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` and return their new ids, in order, in as few round trips as possible."""
    if not rows:
        return []
    dialect = conn.dialect
    if dialect.insert_executemany_returning_sort_by_parameter_order:
        statement: Insert = table.insert().returning(table.c.id, sort_by_parameter_order=True)
        return [int(r[0]) for r in conn.execute(statement, rows)]
    # MySQL (not MariaDB) has no RETURNING: one statement per row, reading lastrowid.
    return [int(conn.execute(table.insert(), row).lastrowid) for row in rows]
