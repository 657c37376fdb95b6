"""Helpers for hints tests: real tables with real rows, a write load, a held transaction."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from metadb.db import Database
from metadb.hints import HintReport, HintSettings, check_pending
from metadb.migrate import MigrateConfig

#: Thresholds small enough for test tables: 1,500 rows make a table "large".
SMALL = {"large_table_rows": 1000, "write_sample_seconds": 0, "long_transaction_seconds": 60}
ROWS = 1500


def execute(url: str, *statements: str, params: list[dict[str, Any]] | None = None) -> None:
    db = Database.from_url(url)
    try:
        with db.connect() as conn, conn.begin():
            for statement in statements:
                if params is not None:
                    conn.exec_driver_sql(statement, params)  # type: ignore[arg-type]
                else:
                    conn.exec_driver_sql(statement)
    finally:
        db.dispose()


def scalar(url: str, sql: str) -> Any:
    db = Database.from_url(url)
    try:
        with db.connect() as conn:
            return conn.exec_driver_sql(sql).scalar()
    finally:
        db.dispose()


def make_items(
    url: str,
    backend: str,
    rows: int = ROWS,
    *,
    duplicate_codes: int = 0,
    null_notes: int = 0,
) -> None:
    """Table ``items`` (id, code, note, qty) with ``rows`` rows; the first ``duplicate_codes``
    rows repeat code 'dup', the first ``null_notes`` rows have a NULL note. Analyzed."""
    execute(
        url,
        "CREATE TABLE items (id INTEGER PRIMARY KEY, code VARCHAR(20), note VARCHAR(40), "
        "qty INTEGER)",
    )
    values = [
        {
            "id": i,
            "code": "dup" if i < duplicate_codes else f"c{i}",
            "note": None if i < null_notes else f"note {i}",
            "qty": i,
        }
        for i in range(rows)
    ]
    if values:
        paramstyle = "%(id)s, %(code)s, %(note)s, %(qty)s"
        if backend == "sqlite":
            paramstyle = ":id, :code, :note, :qty"
        execute(
            url, f"INSERT INTO items (id, code, note, qty) VALUES ({paramstyle})", params=values
        )
    analyze(url, backend, "items")


def analyze(url: str, backend: str, table: str) -> None:
    """Refresh the planner statistics the size estimates come from."""
    statement = {
        "postgresql": f"ANALYZE {table}",
        "mysql": f"ANALYZE TABLE {table}",
        "sqlite": "SELECT 1",
    }[backend]
    db = Database.from_url(url)
    try:
        with db.connect(autocommit=True) as conn:
            conn.exec_driver_sql(statement).close()
    finally:
        db.dispose()


CheckSql = Callable[..., HintReport]


@pytest.fixture
def check_sql(database_url: str, tmp_path: Path) -> CheckSql:
    """``check_sql(sql, no_transaction=False, **settings)``: write ``sql`` as the one pending
    migration and run the hints check with the test thresholds (``SMALL``) and ``settings``."""
    counter = itertools.count()

    def run(sql: str, *, no_transaction: bool = False, **settings: Any) -> HintReport:
        source = tmp_path / f"migrations{next(counter)}"
        source.mkdir()
        header = "-- metadb:no-transaction\n" if no_transaction else ""
        (source / "000001_change.up.sql").write_text(header + sql, encoding="utf-8")
        (source / "000001_change.down.sql").write_text("SELECT 1;", encoding="utf-8")
        config = MigrateConfig(database=database_url, source=source, lock_timeout=10)
        return check_pending(config, settings=HintSettings(**{**SMALL, **settings}))

    return run


def rule_ids(report: HintReport) -> list[str]:
    return [f.rule_id for f in report.findings]


def finding(report: HintReport, rule_id: str) -> Any:
    found = [f for f in report.findings if f.rule_id == rule_id]
    assert found, f"no {rule_id} finding in {rule_ids(report)}"
    return found[0]


@contextmanager
def write_load(url: str, table: str = "items") -> Iterator[list[int]]:
    """Update rows of ``table`` as fast as one connection can, in a background thread,
    one autocommitted statement at a time; yields a one-item list counting the writes."""
    stop = threading.Event()
    done = [0]
    started = threading.Event()

    def work() -> None:
        db = Database.from_url(url)
        try:
            with db.connect(autocommit=True) as conn:
                i = 0
                while not stop.is_set():
                    conn.exec_driver_sql(f"UPDATE {table} SET qty = qty + 1 WHERE id = {i % 50}")
                    i += 1
                    done[0] = i
                    started.set()
        finally:
            db.dispose()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        assert started.wait(10)
        time.sleep(1.2)  # PostgreSQL publishes a session's counters at most once a second
        yield done
    finally:
        stop.set()
        thread.join(10)


@contextmanager
def open_transaction(url: str, backend: str, table: str = "items") -> Iterator[None]:
    """A session that read ``table`` in a transaction it keeps open during the block."""
    db = Database.from_url(url)
    conn = db.engine.connect()
    try:
        # Opens the transaction; the literal stands for data the evidence must not show.
        conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table} WHERE note <> 'secret-value'").scalar()
        yield
    finally:
        conn.rollback()
        conn.close()
        db.dispose()
