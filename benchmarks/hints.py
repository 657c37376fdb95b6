"""Time of a hints check against a big table, next to a COUNT(*) of that table (the anchor).

    .venv/bin/python benchmarks/hints.py [--rows 10000000] [--backends postgresql,mysql]
                                         [--budget 5]

For each server a scratch database gets table ``big`` (id, code, note, qty) with ``--rows``
rows, made by one INSERT ... SELECT (generate_series on PostgreSQL, a cross join of digits on
MySQL/MariaDB), then ANALYZE. Two migration sets are checked:

* size rules only (index build, volatile default, constraint scan, type change, rename): the
  facts are catalog estimates, so the check must not scan: its ratio to COUNT(*) should be far
  below 1 and stay flat as --rows grows;
* with data checks (a unique index: duplicates; SET NOT NULL: NULLs), each bounded by --budget
  seconds: the check takes at most about two budgets more, and says "unknown (timed out)"
  where a check ran out of time.

Write activity is not sampled (its window is a fixed wait, --write-sample, default 0).
Admin URLs come from METADB_TEST_POSTGRES_URL / METADB_TEST_MYSQL_URL (defaults: local
servers); the scratch database is dropped afterwards.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from metadb.db import Database
from metadb.errors import DatabaseError
from metadb.hints import TIMED_OUT, HintReport, HintSettings, check_pending
from metadb.migrate import MigrateConfig

ADMIN_URLS = {
    "postgresql": os.environ.get(
        "METADB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    ),
    "mysql": os.environ.get("METADB_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/mysql"),
}
CREATE = "CREATE TABLE big (id BIGINT PRIMARY KEY, code VARCHAR(20), note VARCHAR(40), qty INT)"

SIZE_ONLY = {
    "postgresql": [
        "CREATE INDEX big_note ON big (note);",
        "ALTER TABLE big ADD COLUMN score float DEFAULT random();",
        "ALTER TABLE big ADD CONSTRAINT big_qty CHECK (qty >= 0);",
        "ALTER TABLE big ALTER COLUMN qty TYPE bigint;",
        "ALTER TABLE big RENAME COLUMN note TO remark;",
    ],
    "mysql": [
        "CREATE FULLTEXT INDEX big_note ON big (note);",
        "ALTER TABLE big ADD COLUMN score INT AUTO_INCREMENT UNIQUE;",
        "ALTER TABLE big ADD CONSTRAINT big_qty CHECK (qty >= 0);",
        "ALTER TABLE big MODIFY qty BIGINT;",
        "ALTER TABLE big RENAME COLUMN note TO remark;",
    ],
}
DATA_CHECKS = {
    "postgresql": [
        "CREATE UNIQUE INDEX big_code ON big (code);",
        "ALTER TABLE big ALTER COLUMN note SET NOT NULL;",
    ],
    "mysql": [
        "CREATE UNIQUE INDEX big_code ON big (code);",
        "ALTER TABLE big MODIFY note VARCHAR(40) NOT NULL;",
    ],
}


def fill_sql(backend: str, rows: int) -> list[str]:
    """Statements that fill ``big`` with ``rows`` rows: codes repeat every 1,000,000 rows
    (so a unique index on code has duplicates once rows > 1M), every 1000th note is NULL."""
    columns = (
        "{g}, CONCAT('c', MOD({g}, 1000000)), CASE WHEN MOD({g}, 1000) = 0 THEN NULL "
        "ELSE CONCAT('note ', {g}) END, MOD({g}, 100000)"
    )
    if backend == "postgresql":
        return [
            f"INSERT INTO big SELECT {columns.format(g='g')} FROM generate_series(1, {rows}) g",
            "ANALYZE big",
        ]
    digits = max(1, math.ceil(math.log10(rows)))
    number = " + ".join(f"d{i}.d * {10**i}" for i in range(digits))
    joins = ", ".join(f"digits d{i}" for i in range(digits))
    return [
        "CREATE TABLE digits (d INT PRIMARY KEY)",
        "INSERT INTO digits VALUES " + ", ".join(f"({d})" for d in range(10)),
        f"INSERT INTO big SELECT {columns.format(g='n')} FROM "
        f"(SELECT {number} + 1 AS n FROM {joins}) AS numbers WHERE n <= {rows}",
        "DROP TABLE digits",
        "ANALYZE TABLE big",
    ]


@contextmanager
def scratch_database(backend: str) -> Iterator[str | None]:
    admin = Database.from_url(ADMIN_URLS[backend])
    name = f"metadb_bench_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect(autocommit=True) as conn:
            admin.dialect.create_database(conn, name)
    except DatabaseError as exc:
        print(f"{backend}: skipped ({exc})", file=sys.stderr)
        yield None
        return
    try:
        yield admin.url.with_database(name).url.render_as_string(hide_password=False)
    finally:
        with admin.connect(autocommit=True) as conn:
            admin.dialect.drop_database(conn, name)
        admin.dispose()


def run_check(url: str, statements: list[str], settings: HintSettings) -> tuple[float, HintReport]:
    with tempfile.TemporaryDirectory() as directory:
        source = Path(directory)
        (source / "000001_change.up.sql").write_text("\n".join(statements))
        (source / "000001_change.down.sql").write_text("SELECT 1;")
        start = time.perf_counter()
        report = check_pending(MigrateConfig(database=url, source=source), settings=settings)
        return time.perf_counter() - start, report


def bench(
    backend: str, rows: int, budget: float, sample: float, large: int
) -> list[tuple[str, ...]]:
    with scratch_database(backend) as url:
        if url is None:
            return []
        db = Database.from_url(url)
        try:
            start = time.perf_counter()
            with db.connect(autocommit=True) as conn:
                conn.exec_driver_sql(CREATE)
                for statement in fill_sql(backend, rows):
                    conn.exec_driver_sql(statement).close()
            print(f"{backend}: {rows:,} rows made in {time.perf_counter() - start:.1f}s")
            start = time.perf_counter()
            with db.connect() as conn:
                counted = conn.exec_driver_sql("SELECT COUNT(*) FROM big").scalar()
            anchor = time.perf_counter() - start
            assert counted == rows, counted
        finally:
            db.dispose()
        settings = HintSettings(
            data_check_budget_seconds=budget, write_sample_seconds=sample, large_table_rows=large
        )
        lines = []
        for label, statements in (
            ("size rules only", SIZE_ONLY[backend]),
            ("with data checks", SIZE_ONLY[backend] + DATA_CHECKS[backend]),
        ):
            seconds, report = run_check(url, statements, settings)
            timed_out = sum(TIMED_OUT in map(str, f.evidence.values()) for f in report.findings)
            lines.append(
                (
                    backend,
                    label,
                    f"{anchor:.3f}",
                    f"{seconds:.3f}",
                    f"{seconds / anchor:.3f}",
                    str(len(report.findings)),
                    ", ".join(sorted({f.rule_id for f in report.findings})),
                    str(timed_out),
                )
            )
        return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--backends", default="postgresql,mysql")
    parser.add_argument("--budget", type=float, default=5.0, help="data-check budget, seconds")
    parser.add_argument("--write-sample", type=float, default=0.0, help="seconds")
    parser.add_argument(
        "--large-rows", type=int, default=1_000_000, help="large_table_rows threshold"
    )
    args = parser.parse_args()
    header = (
        "database",
        "migration set",
        "COUNT(*) s",
        "check s",
        "check/COUNT",
        "findings",
        "rules",
        "timed out",
    )
    lines = [header]
    for backend in args.backends.split(","):
        lines += bench(backend.strip(), args.rows, args.budget, args.write_sample, args.large_rows)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    print(f"{args.rows:,} rows; data-check budget {args.budget:g}s")
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))


if __name__ == "__main__":
    main()
