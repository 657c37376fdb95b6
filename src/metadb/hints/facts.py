"""Live facts about the tables a migration touches, read cheaply, one class per database.

A :class:`LiveFacts` object answers two kinds of question for the rules:

* **facts** read from the server: estimated rows and bytes (catalog statistics, never a scan
  on PostgreSQL and MySQL), write activity sampled over a short window, transactions holding
  locks on the table, the server version, and, only where a rule needs it, data checks (any
  NULL, any duplicate) that stop at a time budget and then say "unknown (timed out)";
* **behaviour** of the server's DDL, by server version: whether an index build blocks writes,
  whether adding a column rewrites the table, which ALTERs SQLite cannot do in place.

Subclasses: :class:`~metadb.hints.facts_postgresql.PostgresqlFacts`,
:class:`~metadb.hints.facts_mysql.MysqlFacts` (and ``MariadbFacts``),
:class:`~metadb.hints.facts_sqlite.SqliteFacts`, registered in :data:`FACTS` and picked by
:func:`open_facts`.
All queries run on one autocommit connection, so the check never holds a transaction (nor a
metadata lock) that the migration would then wait for.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from metadb.db.dialect import DialectRegistry
from metadb.db.urls import DIALECTS
from metadb.hints.operations import Operation
from metadb.hints.report import TIMED_OUT

TableKey = tuple[str | None, str]  # (schema, table)


@dataclass(frozen=True)
class TableSize:
    """How big a table is, and how metadb knows."""

    rows: int | None
    bytes: int | None
    #: Where the numbers come from: "pg_class" or "information_schema.tables" (estimates),
    #: "count(*)" (exact, SQLite).
    source: str
    timed_out: bool = False

    def evidence(self) -> dict[str, Any]:
        rows: int | str | None = TIMED_OUT if self.timed_out else self.rows
        return {"estimated_rows": rows, "bytes": self.bytes, "size_source": self.source}


@dataclass(frozen=True)
class WriteRate:
    """Inserts + updates + deletes per second over the sample window."""

    per_second: float | None
    #: What was sampled, e.g. "pg_stat_user_tables".
    source: str
    #: "table" when the counter is the table's own; "server" for a server-wide upper bound.
    scope: str = "table"

    def evidence(self) -> dict[str, Any]:
        return {
            "writes_per_second": None if self.per_second is None else round(self.per_second, 1),
            "writes_source": self.source,
            "writes_scope": self.scope,
        }


_STRING_LITERAL = re.compile(r"'(?:[^'\\]|''|\\.)*'", re.DOTALL)


def redact_literals(query: str | None) -> str | None:
    """Another session's SQL with its string literals replaced by '?': they may hold
    passwords or personal data, and the evidence only needs the statement's shape."""
    return None if query is None else _STRING_LITERAL.sub("'?'", query)


@dataclass(frozen=True)
class LockHolder:
    """A session whose open transaction holds (or may hold) a lock on the table.

    ``query`` is the session's current or last statement, string literals redacted.
    """

    session: str
    age_seconds: float
    state: str | None
    query: str | None
    locks: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "session": self.session,
            "transaction_age_seconds": round(self.age_seconds, 1),
            "state": self.state,
            "query": self.query,
            "locks": self.locks,
        }


@dataclass(frozen=True)
class DataCheck:
    """The result of a bounded data check: a count (and an example), or a timeout."""

    count: int | None
    example: Any = None
    timed_out: bool = False
    seconds: float = 0.0

    @property
    def shown(self) -> int | str:
        return TIMED_OUT if self.timed_out or self.count is None else self.count


class BudgetExceeded(Exception):
    """A data check hit its time budget (internal: becomes "unknown (timed out)")."""


class LiveFacts(ABC):
    """Facts and DDL behaviour of one database, read on ``conn`` (autocommit)."""

    #: metadb's name of the database family.
    name: ClassVar[str]
    #: Adding a NOT NULL column without a default to a table with rows fails here.
    not_null_add_fails: ClassVar[bool] = True

    def __init__(self, conn: Connection, server_version: str) -> None:
        self.conn = conn
        self.server_version = server_version

    @classmethod
    def open(cls, conn: Connection) -> LiveFacts:
        """Read the server's version and return its facts object."""
        return cls(conn, cls.read_version(conn))

    @staticmethod
    @abstractmethod
    def read_version(conn: Connection) -> str:
        """The server's version string."""

    # -- facts ------------------------------------------------------------------------------

    @abstractmethod
    def table_size(self, table: TableKey, *, budget: float) -> TableSize | None:
        """The table's size, or None when it does not exist. Must not scan a large table."""

    def write_counters(self, tables: Sequence[TableKey]) -> tuple[dict[TableKey, int], str, str]:
        """Cumulative write counters of ``tables``, the source's name and its scope.

        The base class knows none (an empty dict): write activity is then "unknown".
        """
        return {}, "not available", "table"

    def write_rates(
        self, tables: Sequence[TableKey], *, seconds: float
    ) -> dict[TableKey, WriteRate]:
        """Writes per second of each table, from two readings ``seconds`` apart."""
        if not tables or seconds <= 0:
            return {}
        before, source, scope = self.write_counters(tables)
        if not before:
            return {t: WriteRate(None, source, scope) for t in tables}
        start = time.monotonic()
        time.sleep(seconds)
        after, _, _ = self.write_counters(tables)
        elapsed = time.monotonic() - start
        rates = {}
        for table in tables:
            if table not in before or table not in after:
                rates[table] = WriteRate(None, source, scope)
                continue
            delta = after[table] - before[table]
            if delta < 0:  # the counter was reset (InnoDB recalculated statistics)
                delta = after[table]
            rates[table] = WriteRate(delta / elapsed, source, scope)
        return rates

    def lock_holders(self, table: TableKey, *, min_age: float) -> list[LockHolder]:
        """Other sessions whose transaction, open at least ``min_age`` seconds, holds a lock
        on ``table``. The base class sees none (SQLite has no such view)."""
        return []

    def column_type(self, table: TableKey, column: str) -> str | None:
        """The column's current type as the server names it, or None if unknown."""
        schema, name = table
        try:
            columns = sa.inspect(self.conn).get_columns(name, schema=schema)
        except (sa.exc.NoSuchTableError, DBAPIError):
            return None
        for col in columns:
            if str(col["name"]).lower() == column.lower():
                return str(col["type"])
        return None

    @abstractmethod
    @contextmanager
    def budget(self, seconds: float) -> Iterator[None]:
        """Statements run in the block stop after ``seconds`` (raising
        :class:`BudgetExceeded`)."""

    def null_count(self, table: TableKey, column: str, *, seconds: float) -> DataCheck:
        """How many rows hold NULL in ``column``, within ``seconds``."""
        t = _table(table, [column])
        where = t.c[column].is_(None)
        return self._bounded(
            seconds,
            [
                sa.select(sa.literal(1)).select_from(t).where(where).limit(1),
                sa.select(sa.func.count()).select_from(t).where(where),
            ],
        )

    def duplicates(
        self, table: TableKey, columns: Sequence[str], *, predicate: str | None, seconds: float
    ) -> DataCheck:
        """How many rows would break a unique key on ``columns`` (rows beyond the first of
        each group of equal non-NULL values), and one such key, within ``seconds``."""
        t = _table(table, columns)
        keys = [t.c[c] for c in columns]
        filters: list[sa.ColumnElement[Any]] = [k.is_not(None) for k in keys]
        if predicate:
            filters.append(sa.literal_column(predicate))
        groups = (
            sa.select(*keys, sa.func.count().label("n"))
            .where(*filters)
            .group_by(*keys)
            .having(sa.func.count() > 1)
        )
        sub = groups.subquery()
        return self._bounded(
            seconds,
            [
                groups.limit(1),
                sa.select(sa.func.coalesce(sa.func.sum(sub.c.n - 1), 0)).select_from(sub),
            ],
            example_columns=list(columns),
        )

    def any_row(self, table: TableKey, *, seconds: float) -> DataCheck:
        """Whether the table holds a row (count 1 or 0), within ``seconds``."""
        query = sa.select(sa.literal(1)).select_from(_table(table, [])).limit(1)
        return self._probe(query, seconds)

    def any_value(self, table: TableKey, column: str, *, seconds: float) -> DataCheck:
        """Whether any row holds a non-NULL ``column`` (count 1 or 0), within ``seconds``."""
        t = _table(table, [column])
        query = sa.select(sa.literal(1)).select_from(t).where(t.c[column].is_not(None)).limit(1)
        return self._probe(query, seconds)

    def _probe(self, query: sa.Select[Any], seconds: float) -> DataCheck:
        start = time.monotonic()
        try:
            with self.budget(seconds):
                found = self.conn.execute(query).first() is not None
        except BudgetExceeded:
            return DataCheck(None, timed_out=True, seconds=time.monotonic() - start)
        return DataCheck(1 if found else 0, seconds=time.monotonic() - start)

    def _bounded(
        self,
        seconds: float,
        queries: Sequence[sa.Select[Any]],
        *,
        example_columns: list[str] | None = None,
    ) -> DataCheck:
        """Run ``queries`` (a probe that finds one offending row, then the count) within
        ``seconds`` in all. No offending row: count 0 without running the count."""
        start = time.monotonic()
        example: Any = None
        try:
            with self.budget(seconds):
                row = self.conn.execute(queries[0]).first()
            if row is None:
                return DataCheck(0, seconds=time.monotonic() - start)
            if example_columns:
                example = {c: _jsonable(v) for c, v in zip(example_columns, row, strict=False)}
            left = seconds - (time.monotonic() - start)
            if left <= 0:
                raise BudgetExceeded
            with self.budget(left):
                count = self.conn.execute(queries[1]).scalar()
        except BudgetExceeded:
            return DataCheck(None, example, timed_out=True, seconds=time.monotonic() - start)
        return DataCheck(int(count or 0), example, seconds=time.monotonic() - start)

    # -- DDL behaviour ----------------------------------------------------------------------

    def index_blocks_writes(self, op: Operation) -> str | None:
        """Why building this index blocks writes to the table, or None when it does not."""
        return None

    def add_column_rewrite(self, op: Operation) -> str | None:
        """Why adding this column rewrites the table, or None when it does not."""
        return None

    def constraint_scans(self, op: Operation) -> str | None:
        """Why adding this foreign key or check scans the table under a lock, or None."""
        return None

    def type_change_rewrites(self, op: Operation, current: str | None) -> str | None:
        """Why this type change rewrites the table, or None when it does not."""
        return None

    def set_not_null_scans(self, op: Operation) -> str | None:
        """Why SET NOT NULL scans the table under a lock that blocks writes, or None."""
        return None

    def add_column_fails(self, op: Operation) -> str | None:
        """Why this ADD COLUMN fails on a table that has rows (beyond NOT NULL without a
        default, which a rule of its own covers), or None."""
        return None

    def rebuild_needed(self, op: Operation) -> str | None:
        """Why this ALTER cannot run in place (SQLite: the table-rebuild procedure), or None."""
        return None

    def takes_blocking_lock(self, op: Operation) -> bool:
        """Whether ``op`` waits for an exclusive lock that queues the table's other users."""
        return op.kind not in ("create_table",)

    def safer(self, rule_id: str, op: Operation) -> str:
        """The safer way to do ``op`` on this database for rule ``rule_id``; "" to use the
        rule's general advice."""
        return ""


def _table(key: TableKey, columns: Sequence[str]) -> sa.TableClause:
    schema, name = key
    return sa.table(name, *(sa.column(c) for c in columns), schema=schema)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, int | float | str | bool):
        return value
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


#: The :class:`LiveFacts` class of each dialect; each facts module registers its own.
FACTS = DialectRegistry[type[LiveFacts]](
    "live facts",
    modules=[f"metadb.hints.facts_{name}" for name in DIALECTS],
)


def open_facts(conn: Connection, dialect: str) -> LiveFacts:
    """The :class:`LiveFacts` of the database ``conn`` is connected to (reads its version).

    ``dialect`` is metadb's dialect name ("sqlite", "postgresql", "mysql").
    """
    return FACTS.get(dialect).open(conn)
