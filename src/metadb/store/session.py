"""Transactions of the metadata store: one per public call, and the seam for database errors.

A unique-key violation becomes :class:`AlreadyExistsError`; a lost connection becomes
:class:`~metadb.errors.DatabaseUnreachableError`. Store code checks what it can first, so
that the message can name the node; the translation here catches races between writers.

Writers race: many processes, threads or server replicas call the store at once. A write
runs through :meth:`StoreSession.run`, which makes each "look up, else insert" hold up:

- work that no unique key protects (a type, found by kind and name) names a lock that the
  transaction holds from its first statement until after it ends
  (:meth:`~metadb.db.dialect.Dialect.named_lock`), so writers of the same key take turns;
- a transaction that loses a race to another (a deadlock, a serialization failure, a lock
  wait that gave up) is rolled back and run again whole, with backoff;
- work that reuses what a concurrent writer may have just created (``put_execution``'s
  ``reuse_context_if_already_exist``) raises :class:`LostRace` when the unique key turns out
  taken, and runs again: the next try finds the winner's row.

A value the database or its driver refuses (out of range, too long, not encodable) becomes
:class:`~metadb.errors.InvalidArgumentError`: the checks of :mod:`metadb.store.limits` refuse
those first, and this catches what they do not foresee.

Every statement runs under the statement timeout (PostgreSQL's ``statement_timeout``,
MariaDB's ``max_statement_time``, MySQL's ``max_execution_time`` for SELECTs), set once per
pooled connection; a statement cancelled by it becomes :class:`QueryTimeoutError` and the
database's backend is free again. So a request whose HTTP client went away keeps the
database busy for at most that long.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Dialect, Insert, Table
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from metadb.config import DEFAULT_QUERY_TIMEOUT
from metadb.db.database import Database
from metadb.db.dialect import dialect_for
from metadb.db.retry import RetryPolicy
from metadb.errors import (
    AlreadyExistsError,
    ConfigError,
    InvalidArgumentError,
    MetadbError,
    QueryTimeoutError,
    WriteConflictError,
)
from metadb.store.tables import MlmdText

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Tries of a transaction that lost a unique key to a writer it means to reuse the row of.
#: One more try finds the row (the winner had committed when the key was refused); a third
#: covers a winner that was itself rolled back.
_RACE_ATTEMPTS = 3


#: Where a pooled connection remembers the timeout its session was given.
_TIMEOUT_KEY = "metadb_statement_timeout"


def resolve_statement_timeout(db: Database, statement_timeout: float | None) -> float:
    """``statement_timeout`` if given, else the URL's ``statement_timeout=``, else
    :data:`DEFAULT_QUERY_TIMEOUT`; 0 is no limit.

    Raises:
        ConfigError: a negative or non-finite number of seconds.
    """
    value = statement_timeout if statement_timeout is not None else db.url.statement_timeout
    value = DEFAULT_QUERY_TIMEOUT if value is None else float(value)
    if not 0 <= value < 10**7:
        raise ConfigError(
            f"statement_timeout must be a number of seconds, 0 for no limit, not {value!r}"
        )
    return value


class LostRace(Exception):
    """Raised by work given to :meth:`StoreSession.run` when a concurrent writer claimed a
    unique key first and a new try would reuse that writer's row. Never leaves the session."""

    def __init__(self, cause: IntegrityError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class StoreSession:
    """Transactions on one database for the metadata store and the run store, each under the
    statement timeout. No I/O when built.

    ``statement_timeout``: seconds (0: none); None takes :func:`resolve_statement_timeout`'s.
    """

    def __init__(
        self,
        db: Database,
        *,
        retry: RetryPolicy | None = None,
        statement_timeout: float | None = None,
    ) -> None:
        self.db = db
        self.retry = retry or RetryPolicy(attempts=10, first_delay=0.01, max_delay=1.0)
        self.statement_timeout = resolve_statement_timeout(db, statement_timeout)

    def run(
        self,
        work: Callable[[Connection], T],
        *,
        locks: Sequence[str] = (),
        doing: str = "a metadata store write",
    ) -> T:
        """Run ``work`` in one write transaction (on SQLite: BEGIN IMMEDIATE) and return its
        result, trying again while it loses races to other writers.

        ``locks`` are named locks (:meth:`~metadb.db.dialect.Dialect.named_lock`) taken in
        this order before ``work`` runs and held until the transaction has ended. ``work``
        may run more than once, so it must only do database work on the connection.

        Raises:
            WriteConflictError: every try lost (a deadlock, a serialization failure or a lock
                wait that gave up); nothing was written.
            AlreadyExistsError: a unique key is taken.
            DatabaseUnreachableError: the connection was lost.
            StatementError: the database refused a statement.
        """
        tries = 0
        races = 0
        while True:
            tries += 1
            with self._translated():
                try:
                    return self._attempt(work, locks)
                except DBAPIError as exc:
                    cause = exc.orig if exc.orig is not None else exc
                    if exc.connection_invalidated or not self.db.dialect.is_retryable(cause):
                        raise
                    if tries >= self.retry.attempts:
                        raise WriteConflictError(
                            doing=doing,
                            attempts=tries,
                            detail=self.db.server_error(exc).splitlines()[0],
                        ) from exc
                    log.debug("%s: retrying after %s", doing, self.db.server_error(exc))
                except LostRace as race:
                    races += 1
                    if races >= _RACE_ATTEMPTS:
                        raise race.cause from race
                    tries -= 1  # the winner has committed: no backoff, no conflict
                    continue
            time.sleep(self.retry.delay(tries))

    def _attempt(self, work: Callable[[Connection], T], locks: Sequence[str]) -> T:
        dialect = self.db.dialect
        # Left in reverse order: the transaction ends (commit or rollback) before ``held``
        # releases the locks.
        with self.db.connect() as conn:
            self._set_timeout(conn)
            with ExitStack() as held, dialect.begin_write(conn):
                for key in locks:
                    held.enter_context(dialect.named_lock(conn, key, timeout=self.db.lock_timeout))
                return work(conn)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction at the database's default isolation, errors translated."""
        with self._translated(), self.db.connect() as conn:
            self._set_timeout(conn)
            with conn.begin():
                yield conn

    def _set_timeout(self, conn: Connection) -> None:
        """Give the connection's session the timeout, once per pooled connection (the setting
        outlives the transaction; ``conn.info`` lives as long as the driver's connection)."""
        if conn.info.get(_TIMEOUT_KEY) == self.statement_timeout:
            return
        sql = self.db.dialect.statement_timeout_sql(conn, self.statement_timeout)
        if sql is not None:
            conn.exec_driver_sql(sql)
            conn.commit()
        conn.info[_TIMEOUT_KEY] = self.statement_timeout

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
        except DataError as exc:  # a value out of range, too long, not storable
            detail = self.db.server_error(exc).splitlines()[0]
            raise InvalidArgumentError(
                f"the database refused a value: {detail}; nothing was changed"
            ) from exc
        except DBAPIError as exc:
            if exc.orig is not None and self.db.dialect.is_statement_timeout(exc.orig):
                raise QueryTimeoutError(
                    timeout=self.statement_timeout, doing="a metadata store call"
                ) from exc
            raise self.db.translate_statement_error(exc, doing="a metadata store call") from exc
        except (OverflowError, UnicodeEncodeError) as exc:  # the driver could not send a value
            raise InvalidArgumentError(
                f"a value cannot be sent to the database: {exc} (integers must fit in 64 "
                "bits, text must be valid Unicode); nothing was changed"
            ) from exc


def type_lock(kind: int, name: str) -> str:
    """The named lock of a type's kind and name (its version aside: a name's versions are
    few), held while a type is looked up and inserted or extended."""
    return f"mlmd.type:{kind}:{name}"


#: The named lock held while parent contexts are checked for cycles and inserted: a cycle
#: check reads the whole ancestry, which no row lock covers.
PARENT_CONTEXTS_LOCK = "mlmd.parent_context"


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
