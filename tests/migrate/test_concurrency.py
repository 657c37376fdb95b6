"""Eight ``metadb migrate up`` processes started at once on one database: each migration is
applied exactly once, and a failing migration is never applied twice."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.migrate.conftest import (
    PORTABLE,
    WriteSource,
    metadb_executable,
    query,
    table_names,
)

PROCESSES = 8
EVENTS = 300

#: PORTABLE plus two portable migrations; 000004 runs EVENTS statements so that it takes a
#: while and the other runs pile up behind the lock.
FIVE_MIGRATIONS = {
    **PORTABLE,
    "000004_fill_events.up.sql": (
        "CREATE TABLE events (n INTEGER NOT NULL);\n"
        + "".join(f"INSERT INTO events (n) VALUES ({i});\n" for i in range(EVENTS))
    ),
    "000004_fill_events.down.sql": "DROP TABLE events;",
    "000005_create_audit.up.sql": (
        "CREATE TABLE audit (note VARCHAR(50) NOT NULL);\n"
        "INSERT INTO audit (note) VALUES ('migrated');\n"
    ),
    "000005_create_audit.down.sql": "DROP TABLE audit;",
}

#: Migration 2 fails on its second statement; 3 must then never run.
FAILING_SECOND = {
    "000001_create_users.up.sql": PORTABLE["000001_create_users.up.sql"],
    "000001_create_users.down.sql": PORTABLE["000001_create_users.down.sql"],
    "000002_half_done.up.sql": (
        "CREATE TABLE half_done (id INTEGER PRIMARY KEY);\n"
        "INSERT INTO prerequisite (id) VALUES (1);\n"
    ),
    "000002_half_done.down.sql": "DROP TABLE half_done;",
    "000003_never.up.sql": "CREATE TABLE never (id INTEGER);",
    "000003_never.down.sql": "DROP TABLE never;",
}


def run_at_once(url: str, source: Path, *, timeout: float = 240) -> list[tuple[int, Any, str]]:
    """Start PROCESSES ``metadb migrate up --json`` runs together; (exit code, JSON, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("METADB_")}
    argv = [metadb_executable(), "migrate", "up", "--database", url, "--source", str(source)]
    argv += ["--json", "--lock-timeout", "120"]
    procs = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(PROCESSES)
    ]
    deadline = time.monotonic() + timeout
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
            try:
                document = json.loads(out)
            except ValueError:
                document = out
            results.append((proc.returncode, document, err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return results


def history(url: str) -> Counter[tuple[int, str, str]]:
    """(version, direction, status) -> how many history rows."""
    rows = query(url, "SELECT version, direction, status FROM schema_migrations_history")
    return Counter((int(str(v)), str(d), str(s)) for v, d, s in rows)


@pytest.mark.slow
def test_eight_runs_at_once_apply_each_migration_exactly_once(
    database_url: str, write_source: WriteSource
):
    source = write_source(FIVE_MIGRATIONS)

    results = run_at_once(database_url, source)

    assert [code for code, _, _ in results] == [0] * PROCESSES, results
    reports = [report for _, report, _ in results]
    assert {r["version_after"] for r in reports} == {5}
    applied = sorted(step["version"] for r in reports for step in r["steps"])
    assert applied == [1, 2, 3, 4, 5]  # each applied once, by whichever run got there
    assert query(database_url, "SELECT version, dirty FROM schema_migrations") == [(5, False)]
    ups = {key: n for key, n in history(database_url).items() if key[1] == "up"}
    assert ups == {(v, "up", "succeeded"): 1 for v in range(1, 6)}
    assert query(database_url, "SELECT COUNT(*), COUNT(DISTINCT n) FROM events") == [
        (EVENTS, EVENTS)
    ]
    assert query(database_url, "SELECT COUNT(*) FROM users") == [(2,)]
    assert query(database_url, "SELECT COUNT(*) FROM teams") == [(1,)]
    assert query(database_url, "SELECT note FROM audit") == [("migrated",)]


@pytest.mark.slow
def test_eight_runs_at_once_never_apply_a_failing_migration_twice(
    backend: str, database_url: str, write_source: WriteSource
):
    source = write_source(FAILING_SECOND)

    results = run_at_once(database_url, source)

    codes = sorted(code for code, _, _ in results)
    errors = [report["error"]["code"] for _, report, _ in results]
    tables = table_names(database_url)
    rows = history(database_url)
    assert rows[(1, "up", "succeeded")] == 1
    assert not any(key[0] == 3 for key in rows) and "never" not in tables
    assert not any(key[0] == 2 and key[2] == "succeeded" for key in rows)
    if backend == "mysql":  # the CREATE TABLE commits: one run fails, the rest find it dirty
        assert codes == [1] + [3] * (PROCESSES - 1), results
        assert sorted(errors) == ["dirty"] * (PROCESSES - 1) + ["migration_failed"]
        assert rows[(2, "up", "failed")] == 1
        assert query(database_url, "SELECT version, dirty FROM schema_migrations") == [(2, True)]
    else:  # each run tries 2 in its own transaction, which rolls back
        assert codes == [1] * PROCESSES, results
        assert errors == ["migration_failed"] * PROCESSES
        assert rows[(2, "up", "rolled_back")] == PROCESSES
        assert query(database_url, "SELECT version, dirty FROM schema_migrations") == [(1, False)]
        assert "half_done" not in tables
