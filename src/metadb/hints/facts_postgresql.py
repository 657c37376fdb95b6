"""PostgreSQL: sizes from pg_class, writes from pg_stat_user_tables, locks from pg_locks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

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
from metadb.hints.types import widens

_QUERY_CANCELED = "57014"


def _regclass(table: TableKey) -> tuple[str, dict[str, Any]]:
    """SQL for the table's oid (NULL when it does not exist), quoting names as written."""
    schema, name = table
    if schema is None:
        return "to_regclass(quote_ident(:name))", {"name": name}
    return "to_regclass(quote_ident(:schema) || '.' || quote_ident(:name))", {
        "schema": schema,
        "name": name,
    }


@FACTS.register("postgresql")
class PostgresqlFacts(LiveFacts):
    name = "postgresql"

    @staticmethod
    def read_version(conn: Connection) -> str:
        return str(conn.exec_driver_sql("SHOW server_version").scalar())

    @property
    def version_num(self) -> int:
        """The server's version as PostgreSQL's server_version_num (150004 for 15.4)."""
        parts = [int(p) for p in self.server_version.split()[0].split(".")[:2] if p.isdigit()]
        major = parts[0] if parts else 0
        return major * 10000 + (parts[1] if len(parts) > 1 else 0)

    def table_size(self, table: TableKey, *, budget: float) -> TableSize | None:
        # The planner's own estimate: tuples per page from the last ANALYZE times the pages
        # the table has now; no scan. Never analyzed (reltuples -1): the statistics
        # collector's live-tuple count.
        oid, params = _regclass(table)
        row = self.conn.execute(
            text(
                "SELECT c.reltuples, c.relpages, pg_relation_size(c.oid) AS heap, "
                "pg_total_relation_size(c.oid) AS total, "
                "current_setting('block_size')::int AS block, s.n_live_tup "
                "FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
                f"WHERE c.oid = {oid}"
            ),
            params,
        ).first()
        if row is None:
            return None
        reltuples, relpages, heap, total, block, live = row
        if reltuples is not None and reltuples >= 0 and relpages:
            rows = int(reltuples / relpages * (heap / block))
            source = "pg_class (reltuples per page x pages)"
        elif reltuples is not None and reltuples >= 0 and not live:
            rows, source = int(reltuples), "pg_class.reltuples"
        else:
            rows, source = int(live or 0), "pg_stat_user_tables.n_live_tup"
        return TableSize(rows, int(total), source)

    def write_counters(self, tables: Sequence[TableKey]) -> tuple[dict[TableKey, int], str, str]:
        # Statistics are a snapshot per transaction; the connection is autocommit, and the
        # snapshot is cleared so that two readings in one session differ.
        self.conn.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
        counters = {}
        for table in tables:
            oid, params = _regclass(table)
            value = self.conn.execute(
                text(
                    "SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables "
                    f"WHERE relid = {oid}"
                ),
                params,
            ).scalar()
            if value is not None:
                counters[table] = int(value)
        return counters, "pg_stat_user_tables (n_tup_ins + n_tup_upd + n_tup_del)", "table"

    def lock_holders(self, table: TableKey, *, min_age: float) -> list[LockHolder]:
        oid, params = _regclass(table)
        rows = self.conn.execute(
            text(
                "SELECT a.pid, a.usename, a.application_name, a.state, "
                "EXTRACT(EPOCH FROM clock_timestamp() - a.xact_start) AS age, "
                "left(a.query, 200) AS query, string_agg(DISTINCT l.mode, ', ') AS modes "
                "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                f"WHERE l.locktype = 'relation' AND l.relation = {oid} AND l.granted "
                "AND l.pid <> pg_backend_pid() AND a.xact_start IS NOT NULL "
                "AND a.xact_start <= clock_timestamp() - make_interval(secs => :age) "
                "GROUP BY a.pid, a.usename, a.application_name, a.state, a.xact_start, a.query "
                "ORDER BY a.xact_start"
            ),
            {**params, "age": min_age},
        ).all()
        return [
            LockHolder(
                f"pid {pid} ({user}, {app or 'no application_name'})",
                float(age),
                state,
                redact_literals(query),
                modes,
            )
            for pid, user, app, state, age, query, modes in rows
        ]

    @contextmanager
    def budget(self, seconds: float) -> Iterator[None]:
        previous = self.conn.exec_driver_sql("SHOW statement_timeout").scalar()
        self.conn.execute(
            text("SELECT set_config('statement_timeout', :ms, false)"),
            {"ms": str(max(1, int(seconds * 1000)))},
        )
        try:
            yield
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == _QUERY_CANCELED:
                raise BudgetExceeded from exc
            raise
        finally:
            self.conn.execute(
                text("SELECT set_config('statement_timeout', :ms, false)"), {"ms": previous}
            )

    # -- DDL behaviour ----------------------------------------------------------------------

    def index_blocks_writes(self, op: Operation) -> str | None:
        if op.kind != "create_index" or op.concurrently or op.using_index:
            return None
        if op.constraint in ("unique", "primary_key"):
            return (
                "ADD CONSTRAINT builds its index under an ACCESS EXCLUSIVE lock: reads and "
                "writes wait until the build ends"
            )
        return "CREATE INDEX without CONCURRENTLY holds a SHARE lock: writes wait for the build"

    def add_column_rewrite(self, op: Operation) -> str | None:
        if op.generated:
            return (
                "the column's values come from a sequence or expression, so PostgreSQL fills "
                "every existing row: the table is rewritten under an ACCESS EXCLUSIVE lock"
            )
        if op.default is None or op.default.upper() == "NULL":
            return None
        if self.version_num < 110000:
            return (
                f"before PostgreSQL 11 (this server is {self.server_version}) a DEFAULT "
                "rewrites the whole table under an ACCESS EXCLUSIVE lock"
            )
        volatile = self._volatile(op.default_functions)
        if volatile:
            return (
                f"the DEFAULT calls volatile {', '.join(volatile)}(), so every existing row "
                "gets its own value: the table is rewritten under an ACCESS EXCLUSIVE lock"
            )
        return None

    def _volatile(self, functions: Sequence[str]) -> list[str]:
        if not functions:
            return []
        rows = self.conn.execute(
            text(
                "SELECT DISTINCT proname FROM pg_proc "
                "WHERE proname = ANY(:names) AND provolatile = 'v'"
            ),
            {"names": list(functions)},
        ).all()
        return sorted(r[0] for r in rows)

    def constraint_scans(self, op: Operation) -> str | None:
        if op.kind != "add_constraint" or op.not_valid:
            return None
        if op.constraint == "foreign_key":
            return (
                "adding a FOREIGN KEY checks every row while holding a SHARE ROW EXCLUSIVE lock "
                "on this table and the referenced one: writes wait for the scan"
            )
        return "adding a CHECK scans every row under an ACCESS EXCLUSIVE lock"

    def set_not_null_scans(self, op: Operation) -> str | None:
        if op.kind != "set_not_null" or self._has_not_null_check(op):
            return None
        return (
            "SET NOT NULL scans every row under an ACCESS EXCLUSIVE lock: reads and writes "
            "wait for the scan"
        )

    def _has_not_null_check(self, op: Operation) -> bool:
        """PostgreSQL 12+ skips the scan when a validated CHECK (col IS NOT NULL) exists."""
        if self.version_num < 120000 or not op.columns:
            return False
        oid, params = _regclass((op.schema, op.table))
        definitions = self.conn.execute(
            text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                f"WHERE conrelid = {oid} AND contype = 'c' AND convalidated"
            ),
            params,
        ).scalars()
        wanted = f"{op.columns[0]} IS NOT NULL".lower()
        return any(wanted in str(d).lower().replace('"', "") for d in definitions)

    def type_change_rewrites(self, op: Operation, current: str | None) -> str | None:
        if op.kind != "change_type" or op.data_type is None:
            return None
        if current is not None and widens(current, op.data_type, "postgres"):
            return None
        return (
            f"changing {op.columns[0]} from {current or 'its type'} to {op.data_type} rewrites "
            "the table and its indexes under an ACCESS EXCLUSIVE lock"
        )

    def takes_blocking_lock(self, op: Operation) -> bool:
        if op.kind == "create_index" and op.concurrently:
            return False
        return op.kind not in ("create_table", "validate_constraint")

    def safer(self, rule_id: str, op: Operation) -> str:
        column = op.columns[0] if op.columns else "col"
        table = op.qualified
        texts = {
            "blocking-index": (
                f"CREATE {'UNIQUE ' if op.unique else ''}INDEX CONCURRENTLY in a file marked "
                "'-- metadb:no-transaction'"
                + (
                    f", then ALTER TABLE {table} ADD CONSTRAINT ... "
                    f"{'PRIMARY KEY' if op.constraint == 'primary_key' else 'UNIQUE'} "
                    "USING INDEX <that index>"
                    if op.constraint in ("unique", "primary_key")
                    else ""
                )
            ),
            "add-column-rewrite": (
                f"add {column} without the volatile default (or with a constant one), then "
                "fill existing rows in batches with a backfill, then SET DEFAULT"
            ),
            "constraint-validation-scan": (
                f"ALTER TABLE {table} ADD CONSTRAINT ... NOT VALID (instant), then in a later "
                f"migration ALTER TABLE {table} VALIDATE CONSTRAINT ... (scans without "
                "blocking writes)"
            ),
            "set-not-null-scan": (
                f"ALTER TABLE {table} ADD CONSTRAINT {column}_not_null CHECK ({column} IS NOT "
                "NULL) NOT VALID; VALIDATE CONSTRAINT it in a later migration; then SET NOT "
                "NULL skips the scan (PostgreSQL 12+) and the CHECK can be dropped"
            ),
            "type-change-rewrite": (
                f"add a new column of the new type, backfill it in batches, switch the "
                f"application, then drop {column}"
            ),
        }
        return texts.get(rule_id, "")
