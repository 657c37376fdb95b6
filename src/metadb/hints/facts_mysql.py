"""MySQL and MariaDB: sizes from information_schema.tables, online-DDL support by version.

Write activity comes from the first of these the server offers, named in the evidence:
performance_schema's per-table I/O counters (when ``performance_schema`` is on), the per-table
statistics of ``userstat`` (MariaDB, Percona), else InnoDB's per-table modification counter
(``INNODB_SYS_TABLESTATS`` on MariaDB, ``INNODB_TABLESTATS`` on MySQL), which restarts when
InnoDB recalculates the table's statistics and so gives a lower bound.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, ClassVar

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlglot import exp

from metadb.db.mysql import MysqlDialect
from metadb.hints.facts import (
    FACTS,
    BudgetExceeded,
    LiveFacts,
    LockHolder,
    TableKey,
    TableSize,
    redact_literals,
)
from metadb.hints.operations import Operation
from metadb.hints.types import parse_type, widens

#: Errors of a statement stopped by max_execution_time (MySQL), max_statement_time
#: (MariaDB), or KILL QUERY.
_TIMEOUT_ERRORS = {3024, 1969, 1317}
#: InnoDB stores a VARCHAR's length in 1 byte up to 255 bytes (63 utf8mb4 characters):
#: widening across that boundary needs ALGORITHM=COPY.
_ONE_BYTE_CHARS = 63


def _version_tuple(version: str) -> tuple[int, ...]:
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    return tuple(int(p) for p in match.groups()) if match else (0, 0, 0)


def _error_code(exc: DBAPIError) -> int | None:
    args = getattr(exc.orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


@FACTS.register("mysql")
class MysqlFacts(LiveFacts):
    name = "mysql"
    #: MySQL fills existing rows with the type's implicit default (0, '') instead of failing.
    not_null_add_fails = False
    product: ClassVar[str] = "MySQL"
    #: First version with ALGORITHM=INSTANT ADD COLUMN as the last column, and anywhere.
    instant_add_last: ClassVar[tuple[int, ...]] = (8, 0, 12)
    instant_add_anywhere: ClassVar[tuple[int, ...]] = (8, 0, 29)
    #: First version that builds secondary indexes INPLACE with concurrent writes.
    online_index: ClassVar[tuple[int, ...]] = (5, 6, 0)
    tablestats: ClassVar[str] = "information_schema.INNODB_TABLESTATS"

    @classmethod
    def open(cls, conn: Connection) -> LiveFacts:
        facts_class = MariadbFacts if MysqlDialect.server(conn).mariadb else MysqlFacts
        facts = facts_class(conn, cls.read_version(conn))
        facts.prepare()
        return facts

    @staticmethod
    def read_version(conn: Connection) -> str:
        return str(conn.exec_driver_sql("SELECT VERSION()").scalar())

    def prepare(self) -> None:
        """MySQL 8 caches information_schema statistics for a day; read them fresh."""
        with suppress(DBAPIError):  # MariaDB and MySQL 5.7 have no such cache
            self.conn.exec_driver_sql("SET SESSION information_schema_stats_expiry = 0")

    @property
    def version(self) -> tuple[int, ...]:
        return _version_tuple(self.server_version)

    def _variable(self, name: str) -> str | None:
        row = self.conn.execute(text("SHOW GLOBAL VARIABLES LIKE :name"), {"name": name}).first()
        return None if row is None else str(row[1])

    def table_size(self, table: TableKey, *, budget: float) -> TableSize | None:
        schema, name = table
        row = self.conn.execute(
            text(
                "SELECT TABLE_ROWS, DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = COALESCE(:schema, DATABASE()) AND TABLE_NAME = :name"
            ),
            {"schema": schema, "name": name},
        ).first()
        if row is None:
            return None
        rows, size = row
        return TableSize(
            None if rows is None else int(rows),
            None if size is None else int(size),
            "information_schema.tables (InnoDB estimate)",
        )

    def write_counters(self, tables: Sequence[TableKey]) -> tuple[dict[TableKey, int], str, str]:
        if self._variable("performance_schema") in ("ON", "1"):
            query = (
                "SELECT COUNT_INSERT + COUNT_UPDATE + COUNT_DELETE "
                "FROM performance_schema.table_io_waits_summary_by_table "
                "WHERE OBJECT_SCHEMA = COALESCE(:schema, DATABASE()) AND OBJECT_NAME = :name"
            )
            source = "performance_schema.table_io_waits_summary_by_table"
        elif self._variable("userstat") in ("ON", "1"):
            query = (
                "SELECT ROWS_CHANGED FROM information_schema.TABLE_STATISTICS "
                "WHERE TABLE_SCHEMA = COALESCE(:schema, DATABASE()) AND TABLE_NAME = :name"
            )
            source = "information_schema.TABLE_STATISTICS (userstat)"
        else:
            query = (
                f"SELECT MODIFIED_COUNTER FROM {self.tablestats} "
                "WHERE NAME = CONCAT(COALESCE(:schema, DATABASE()), '/', :name)"
            )
            source = (
                f"{self.tablestats}.MODIFIED_COUNTER (performance_schema is off; the counter "
                "restarts when InnoDB recalculates statistics: a lower bound)"
            )
        counters = {}
        for schema, name in tables:
            value = self.conn.execute(text(query), {"schema": schema, "name": name}).scalar()
            counters[(schema, name)] = int(value or 0)
        return counters, source, "table"

    def lock_holders(self, table: TableKey, *, min_age: float) -> list[LockHolder]:
        # Without performance_schema the server does not say which tables a transaction has
        # touched (each holds a metadata lock on them until it ends): report the old
        # transactions of sessions using this table's database.
        schema, name = table
        rows = self.conn.execute(
            text(
                "SELECT p.ID, p.USER, p.COMMAND, "
                "TIMESTAMPDIFF(SECOND, t.trx_started, NOW()) AS age, "
                "LEFT(COALESCE(t.trx_query, p.INFO), 200) AS query, "
                "t.trx_tables_in_use, t.trx_tables_locked "
                "FROM information_schema.INNODB_TRX t "
                "JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id "
                "WHERE p.ID <> CONNECTION_ID() AND p.DB = COALESCE(:schema, DATABASE()) "
                "AND TIMESTAMPDIFF(SECOND, t.trx_started, NOW()) >= :age "
                "ORDER BY t.trx_started"
            ),
            {"schema": schema, "age": int(min_age)},
        ).all()
        return [
            LockHolder(
                f"connection {conn_id} ({user})",
                float(age),
                command,
                redact_literals(query),
                f"a transaction in this database ({in_use} tables in use, {locked} locked); "
                f"may hold a metadata lock on {name}",
            )
            for conn_id, user, command, age, query, in_use, locked in rows
        ]

    timeout_variable: ClassVar[str] = "max_execution_time"

    def _timeout_value(self, seconds: float) -> Any:
        return max(1, int(seconds * 1000))  # milliseconds, SELECT only

    @contextmanager
    def budget(self, seconds: float) -> Iterator[None]:
        variable = self.timeout_variable
        previous = self.conn.exec_driver_sql(f"SELECT @@SESSION.{variable}").scalar()
        self.conn.exec_driver_sql(f"SET SESSION {variable} = {self._timeout_value(seconds)}")
        try:
            yield
        except DBAPIError as exc:
            if _error_code(exc) in _TIMEOUT_ERRORS:
                raise BudgetExceeded from exc
            raise
        finally:
            self.conn.exec_driver_sql(f"SET SESSION {variable} = {previous}")

    # -- DDL behaviour ----------------------------------------------------------------------

    def _explicit_blocking(self, op: Operation) -> str | None:
        if op.algorithm == "COPY":
            return "ALGORITHM=COPY copies the table and blocks writes until it is done"
        if op.lock in ("SHARED", "EXCLUSIVE"):
            return f"LOCK={op.lock} blocks writes for the whole ALTER"
        return None

    def index_blocks_writes(self, op: Operation) -> str | None:
        if op.kind != "create_index":
            return None
        explicit = self._explicit_blocking(op)
        if explicit:
            return explicit
        if op.constraint in ("fulltext", "spatial"):
            return (
                f"a {op.constraint.upper()} index is built with LOCK=SHARED: writes wait "
                "until the build ends"
            )
        if self.version < self.online_index:
            return (
                f"{self.product} {self.server_version} builds indexes by copying the table, "
                "blocking writes"
            )
        return None

    def add_column_rewrite(self, op: Operation) -> str | None:
        if op.kind != "add_column":
            return None
        explicit = self._explicit_blocking(op)
        if explicit:
            return explicit
        if op.algorithm == "INPLACE":
            return "ALGORITHM=INPLACE rebuilds the table (instead of INSTANT)"
        if op.generated:
            return (
                "an AUTO_INCREMENT or stored generated column fills every row: the table is rebuilt"
            )
        where = "as the last column" if op.position is None else f"with {op.position}"
        if self.version >= self.instant_add_anywhere:
            return None
        if self.version >= self.instant_add_last and op.position is None:
            return None
        if self.version >= self.instant_add_last:
            return (
                f"{self.product} {self.server_version} adds columns INSTANT only as the last "
                f"column (anywhere from {'.'.join(map(str, self.instant_add_anywhere))}); "
                f"adding it {where} rebuilds the table"
            )
        return (
            f"{self.product} {self.server_version} cannot add columns INSTANT (from "
            f"{'.'.join(map(str, self.instant_add_last))}); it rebuilds the table"
        )

    def constraint_scans(self, op: Operation) -> str | None:
        if op.kind != "add_constraint":
            return None
        if op.constraint == "foreign_key":
            return (
                "with foreign_key_checks=1 a FOREIGN KEY is added with ALGORITHM=COPY: the "
                "table is copied and checked while writes are blocked"
            )
        return "adding a CHECK copies the table to validate every row, blocking writes"

    def type_change_rewrites(self, op: Operation, current: str | None) -> str | None:
        if op.kind != "change_type" or op.data_type is None or current is None:
            return None
        if widens(current, op.data_type, "mysql", text_is_wider=False) and not _crosses_boundary(
            current, op.data_type
        ):
            return None
        return (
            f"changing {op.columns[0]} from {current} to {op.data_type} uses ALGORITHM=COPY: "
            "the table is copied while writes are blocked"
        )

    def takes_blocking_lock(self, op: Operation) -> bool:
        # Every ALTER, even INSTANT, takes an exclusive metadata lock for a moment.
        return op.kind not in ("create_table",)

    def safer(self, rule_id: str, op: Operation) -> str:
        texts = {
            "blocking-index": (
                "build it with ALTER TABLE ... ADD INDEX ..., ALGORITHM=INPLACE, LOCK=NONE, or "
                "with an online schema-change tool (gh-ost, pt-online-schema-change)"
            ),
            "add-column-rewrite": (
                "add the column as the last column with ALGORITHM=INSTANT (no FIRST/AFTER, no "
                "AUTO_INCREMENT), or use gh-ost / pt-online-schema-change"
            ),
            "constraint-validation-scan": (
                "MySQL has no NOT VALID: add the constraint with gh-ost / "
                "pt-online-schema-change, or (foreign keys) SET foreign_key_checks=0 for an "
                "INPLACE add after checking the data yourself"
            ),
            "type-change-rewrite": (
                "add a new column (INSTANT), backfill it in batches, switch the application, "
                "then drop the old one; or use gh-ost / pt-online-schema-change"
            ),
        }
        return texts.get(rule_id, "")


def _crosses_boundary(current: str, new: str) -> bool:
    """A VARCHAR widened past 255 bytes: InnoDB then stores its length in 2 bytes (a copy)."""
    old, nxt = parse_type(current, "mysql"), parse_type(new, "mysql")
    if old is None or nxt is None or old.this != exp.DataType.Type.VARCHAR:
        return False
    lengths = [int(t.expressions[0].name) if t.expressions else 0 for t in (old, nxt)]
    return lengths[0] <= _ONE_BYTE_CHARS < lengths[1]


class MariadbFacts(MysqlFacts):
    """MariaDB: INSTANT ADD COLUMN from 10.3.2 (last position) and 10.4 (anywhere)."""

    product = "MariaDB"
    instant_add_last = (10, 3, 2)
    instant_add_anywhere = (10, 4, 0)
    online_index = (10, 0, 0)
    tablestats = "information_schema.INNODB_SYS_TABLESTATS"
    timeout_variable = "max_statement_time"

    def _timeout_value(self, seconds: float) -> Any:
        return max(0.001, round(seconds, 3))  # seconds, every statement
