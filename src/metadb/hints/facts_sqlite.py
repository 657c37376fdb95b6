"""SQLite: exact counts within a time budget, and the ALTERs that need a table rebuild.

SQLite keeps no row estimates unless ANALYZE ran, so the size is a ``COUNT(*)`` stopped at the
data-check budget by a progress handler. It has no view of other connections' transactions and
no write counters: those facts are "unknown" here.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from metadb.hints.facts import FACTS, BudgetExceeded, LiveFacts, TableKey, TableSize
from metadb.hints.operations import Operation

#: SQLite calls the progress handler every this many virtual-machine instructions.
_PROGRESS_STEPS = 10_000
_ALTER_DOCS = "https://www.sqlite.org/lang_altertable.html#otheralter"


def _version_tuple(version: str) -> tuple[int, ...]:
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    return tuple(int(p) for p in match.groups()) if match else (0, 0, 0)


@FACTS.register("sqlite")
class SqliteFacts(LiveFacts):
    name = "sqlite"

    @staticmethod
    def read_version(conn: Connection) -> str:
        return str(conn.exec_driver_sql("SELECT sqlite_version()").scalar())

    @property
    def version(self) -> tuple[int, ...]:
        return _version_tuple(self.server_version)

    def table_size(self, table: TableKey, *, budget: float) -> TableSize | None:
        schema, name = table
        master = f"{schema}.sqlite_master" if schema else "sqlite_master"
        found = self.conn.execute(
            text(f"SELECT 1 FROM {master} WHERE type = 'table' AND name = :name COLLATE NOCASE"),
            {"name": name},
        ).first()
        if found is None:
            return None
        count = sa.select(sa.func.count()).select_from(sa.table(name, schema=schema))
        try:
            with self.budget(budget):
                rows = int(self.conn.execute(count).scalar() or 0)
        except BudgetExceeded:
            return TableSize(None, None, "count(*)", timed_out=True)
        return TableSize(rows, None, "count(*)")

    @contextmanager
    def budget(self, seconds: float) -> Iterator[None]:
        # The progress handler stops long virtual-machine loops; the timer interrupts single
        # long opcodes too (COUNT(*) is one: it walks the whole b-tree).
        raw: Any = self.conn.connection.driver_connection
        deadline = time.monotonic() + seconds
        timed_out = threading.Event()

        def progress() -> int:
            if time.monotonic() > deadline:
                timed_out.set()
            return 1 if timed_out.is_set() else 0  # non-zero interrupts the statement

        stop = threading.Event()

        def watchdog() -> None:
            if stop.wait(seconds):
                return
            timed_out.set()
            # Repeated: an interrupt while no statement runs is lost, and the block's
            # statement may only be starting.
            while not stop.wait(0.001):
                raw.interrupt()

        timer = threading.Thread(target=watchdog, daemon=True)
        raw.set_progress_handler(progress, _PROGRESS_STEPS)
        timer.start()
        try:
            yield
        except DBAPIError as exc:
            if timed_out.is_set() and isinstance(exc.orig, sqlite3.OperationalError):
                raise BudgetExceeded from exc
            raise
        finally:
            stop.set()
            timer.join()
            raw.set_progress_handler(None, _PROGRESS_STEPS)

    # -- DDL behaviour ----------------------------------------------------------------------

    def index_blocks_writes(self, op: Operation) -> str | None:
        if op.kind != "create_index":
            return None
        return (
            "SQLite builds an index while holding the database's write lock: every writer "
            "waits until the build ends"
        )

    def rebuild_needed(self, op: Operation) -> str | None:
        what = {
            "set_not_null": "ALTER COLUMN ... SET NOT NULL",
            "drop_not_null": "ALTER COLUMN ... DROP NOT NULL",
            "change_type": "a column type change",
            "add_constraint": "ADD CONSTRAINT",
        }.get(op.kind)
        if op.kind == "create_index" and op.constraint is not None:
            what = "ADD CONSTRAINT / ADD PRIMARY KEY"
        if what is not None:
            return f"SQLite's ALTER TABLE has no {what}"
        if op.kind == "add_column" and op.unique:
            return "SQLite cannot add a UNIQUE or PRIMARY KEY column"
        if op.kind == "drop_column":
            return self._drop_column_problem(op)
        if op.kind == "rename_column" and self.version < (3, 25, 0):
            return f"SQLite {self.server_version} has no RENAME COLUMN (3.25+)"
        return None

    def add_column_fails(self, op: Operation) -> str | None:
        """Why SQLite refuses this ADD COLUMN on a table that has rows, or None."""
        if op.kind == "add_column" and (op.default_functions or op.generated):
            return "SQLite cannot add a column with a non-constant default to a table with rows"
        if op.kind == "add_column" and op.default and "CURRENT_" in op.default.upper():
            return "SQLite cannot add a column with a non-constant default to a table with rows"
        return None

    def _drop_column_problem(self, op: Operation) -> str | None:
        if self.version < (3, 35, 0):
            return f"SQLite {self.server_version} has no DROP COLUMN (3.35+)"
        column = op.columns[0].lower()
        inspector = sa.inspect(self.conn)
        try:
            pk = inspector.get_pk_constraint(op.table, schema=op.schema)
            indexes = inspector.get_indexes(op.table, schema=op.schema)
            uniques = inspector.get_unique_constraints(op.table, schema=op.schema)
            foreign = inspector.get_foreign_keys(op.table, schema=op.schema)
        except sa.exc.NoSuchTableError:
            return None
        keyed: list[tuple[str, list[list[Any]]]] = [
            ("the PRIMARY KEY", [pk.get("constrained_columns") or []]),
            ("an index", [i.get("column_names") or [] for i in indexes]),
            ("a UNIQUE constraint", [u.get("column_names") or [] for u in uniques]),
            ("a FOREIGN KEY", [f.get("constrained_columns") or [] for f in foreign]),
        ]
        for what, column_sets in keyed:
            if any(column in [str(c).lower() for c in cols if c] for cols in column_sets):
                return f"SQLite cannot DROP COLUMN {op.columns[0]}: it is part of {what}"
        return None

    def takes_blocking_lock(self, op: Operation) -> bool:
        return False  # SQLite shows no other connection's transactions

    def safer(self, rule_id: str, op: Operation) -> str:
        if rule_id == "sqlite-table-rebuild":
            return (
                "use SQLite's table-rebuild procedure in one transaction: CREATE TABLE "
                f"new_{op.table} with the new definition; INSERT INTO new_{op.table} SELECT ... "
                f"FROM {op.table}; DROP TABLE {op.table}; ALTER TABLE new_{op.table} RENAME TO "
                f"{op.table}; recreate its indexes, triggers and views ({_ALTER_DOCS})"
            )
        if rule_id == "blocking-index":
            return "run it when nothing writes: SQLite has no online index build"
        return ""
