"""The data metrics: estimated rows per table, next auto-increment ids, and user SQL queries.

Each database family reads its statistics its own way, in one class each: PostgreSQL from
``pg_class`` and the owned sequences, MySQL/MariaDB from ``information_schema.TABLES``, SQLite
by counting (it keeps no estimates). Every query runs in a read-only transaction, so a user
query that would write fails instead.

A failing query is recorded (metric ``metadb_database_query_errors`` and a problem returned to
the caller) and the others still run; only a failure to connect is raised.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from metadb.db.database import Database
from metadb.db.dialect import DialectRegistry
from metadb.operator.metrics import OperatorMetrics, SqlSample
from metadb.operator.resources import DataMetricsSpec, SqlMetricSpec


class TableStatistics(ABC):
    """How one database family reports table sizes and next ids (one subclass per dialect,
    registered in :data:`STATISTICS`)."""

    @abstractmethod
    def estimated_rows(self, conn: Connection) -> dict[str, float]:
        """Estimated rows of every table of the connected schema."""

    @abstractmethod
    def next_ids(self, conn: Connection) -> dict[str, float]:
        """The next auto-increment id of every table that has one."""

    @contextmanager
    def read_only(self, conn: Connection) -> Iterator[None]:
        with conn.begin() as transaction:
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            try:
                yield
            finally:
                transaction.rollback()


#: The :class:`TableStatistics` class of each dialect.
STATISTICS = DialectRegistry[type[TableStatistics]]("data-metrics statistics")


@STATISTICS.register("postgresql")
class PostgresqlStatistics(TableStatistics):
    def estimated_rows(self, conn: Connection) -> dict[str, float]:
        # reltuples is -1 until the table is first analyzed; the statistics collector's live
        # tuple count stands in until then.
        rows = conn.execute(
            text(
                "SELECT c.relname, CASE WHEN c.reltuples >= 0 THEN c.reltuples "
                "ELSE COALESCE(s.n_live_tup, 0) END "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
                "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
            )
        )
        return {str(name): float(count) for name, count in rows}

    def next_ids(self, conn: Connection) -> dict[str, float]:
        rows = conn.execute(
            text(
                "SELECT t.relname, ps.last_value, ps.increment_by, ps.start_value "
                "FROM pg_class seq "
                "JOIN pg_depend d ON d.objid = seq.oid AND d.deptype IN ('a', 'i') "
                "JOIN pg_class t ON t.oid = d.refobjid "
                "JOIN pg_namespace n ON n.oid = t.relnamespace "
                "JOIN pg_sequences ps ON ps.schemaname = n.nspname "
                "AND ps.sequencename = seq.relname "
                "WHERE seq.relkind = 'S' AND n.nspname = current_schema()"
            )
        )
        result: dict[str, float] = {}
        for table, last, step, start in rows:
            value = float(start) if last is None else float(last) + float(step)
            result[str(table)] = max(result.get(str(table), 0.0), value)
        return result


@STATISTICS.register("mysql")
class MysqlStatistics(TableStatistics):
    def _tables(self, conn: Connection) -> list[Any]:
        return list(
            conn.execute(
                text(
                    "SELECT TABLE_NAME, TABLE_ROWS, AUTO_INCREMENT FROM information_schema.TABLES "
                    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'"
                )
            )
        )

    def estimated_rows(self, conn: Connection) -> dict[str, float]:
        return {str(r[0]): float(r[1] or 0) for r in self._tables(conn)}

    def next_ids(self, conn: Connection) -> dict[str, float]:
        return {str(r[0]): float(r[2]) for r in self._tables(conn) if r[2] is not None}

    @contextmanager
    def read_only(self, conn: Connection) -> Iterator[None]:
        # MySQL sets the characteristics of the next transaction before it starts; the
        # statement opens SQLAlchemy's transaction but not the server's.
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        try:
            yield
        finally:
            conn.rollback()


@STATISTICS.register("sqlite")
class SqliteStatistics(TableStatistics):
    """SQLite keeps no row estimates: tables are counted (fine at the sizes SQLite serves)."""

    def _tables(self, conn: Connection) -> list[str]:
        rows = conn.execute(
            text(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
            )
        )
        return [str(r[0]) for r in rows]

    def estimated_rows(self, conn: Connection) -> dict[str, float]:
        quote = conn.dialect.identifier_preparer.quote
        return {
            t: float(conn.execute(text(f"SELECT count(*) FROM {quote(t)}")).scalar_one())
            for t in self._tables(conn)
        }

    def next_ids(self, conn: Connection) -> dict[str, float]:
        quote = conn.dialect.identifier_preparer.quote
        result: dict[str, float] = {}
        for table in self._tables(conn):
            info = list(conn.execute(text(f"PRAGMA table_info({quote(table)})")))
            keys = [r for r in info if r[5]]
            if len(keys) == 1 and str(keys[0][2]).upper() == "INTEGER":
                top = conn.execute(text(f"SELECT max(rowid) FROM {quote(table)}")).scalar()
                result[table] = float(top or 0) + 1
        sequence = conn.execute(
            text("SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'")
        ).first()
        if sequence is not None:
            for name, seq in conn.execute(text("SELECT name, seq FROM sqlite_sequence")):
                result[str(name)] = max(result.get(str(name), 0.0), float(seq) + 1)
        return result

    @contextmanager
    def read_only(self, conn: Connection) -> Iterator[None]:
        conn.exec_driver_sql("PRAGMA query_only = 1")
        try:
            yield
        finally:
            conn.rollback()
            conn.exec_driver_sql("PRAGMA query_only = 0")
            conn.commit()


def statistics_for(dialect: str) -> TableStatistics:
    """How the database of ``dialect`` (metadb's name) reports table sizes and next ids."""
    return STATISTICS.get(dialect)()


def collect(
    db: Database, *, database: str, spec: DataMetricsSpec, metrics: OperatorMetrics
) -> list[str]:
    """Read the data metrics of ``db`` and publish them as ``database``'s series.

    Returns the problems (one line each) of queries that failed; the other metrics are still
    published.

    Raises:
        DatabaseUnreachableError, AuthenticationError: no connection could be made.
    """
    stats = statistics_for(db.url.dialect)
    problems: list[str] = []
    with db.connect() as conn:
        if spec.table_estimated_rows:
            values = _timed(
                conn,
                db,
                stats,
                "table_rows_estimate",
                stats.estimated_rows,
                metrics,
                database,
                problems,
            )
            if values is not None:
                metrics.replace_table_values(metrics.table_rows, database, values)
        if spec.table_next_id:
            values = _timed(
                conn, db, stats, "table_next_id", stats.next_ids, metrics, database, problems
            )
            if values is not None:
                metrics.replace_table_values(metrics.table_next_id, database, values)
        for query in spec.sql_queries:
            samples = _timed(
                conn,
                db,
                stats,
                query.name,
                lambda c, q=query: _samples(c, q),
                metrics,
                database,
                problems,
            )
            if samples is None:
                continue
            try:
                metrics.sql.set(
                    database=database,
                    name=query.name,
                    kind=query.type,
                    help=query.help,
                    labelnames=query.labels,
                    samples=samples,
                )
            except ValueError as exc:
                problems.append(str(exc))
    return problems


def _timed(
    conn: Connection,
    db: Database,
    stats: TableStatistics,
    name: str,
    read: Any,
    metrics: OperatorMetrics,
    database: str,
    problems: list[str],
) -> Any:
    started = time.perf_counter()
    try:
        with stats.read_only(conn):
            return read(conn)
    except (DBAPIError, _BadRow) as exc:
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            raise db.translate_connect_error(exc) from exc
        metrics.query_errors.labels(database=database, query=name).inc()
        detail = db.server_error(exc) if isinstance(exc, DBAPIError) else str(exc)
        problems.append(f"data metric {name} failed: {' '.join(detail.split())}")
        return None
    finally:
        elapsed = time.perf_counter() - started
        metrics.query_duration.labels(database=database, query=name).observe(elapsed)


class _BadRow(Exception):
    pass


def _samples(conn: Connection, query: SqlMetricSpec) -> list[SqlSample]:
    result = conn.execute(text(query.query))
    columns = list(result.keys())
    value_column = query.value_column or columns[-1]
    missing = [c for c in (*query.labels, value_column) if c not in columns]
    if missing:
        raise _BadRow(f"the query returns no column {', '.join(missing)} (it returns {columns})")
    samples = []
    for row in result.mappings():
        value = row[value_column]
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise _BadRow(f"column {value_column} holds {value!r}, not a number") from None
        samples.append(SqlSample({n: str(row[n]) for n in query.labels}, number))
    return samples


__all__ = [
    "STATISTICS",
    "MysqlStatistics",
    "PostgresqlStatistics",
    "SqliteStatistics",
    "TableStatistics",
    "collect",
    "statistics_for",
]
