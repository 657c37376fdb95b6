"""The migration engine's conformance suite: every test runs on SQLite, PostgreSQL and MySQL."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from metadb import migrate
from metadb.db import Database
from metadb.errors import (
    ChangedMigrationError,
    DirtyDatabaseError,
    IrreversibleMigrationError,
    LockTimeoutError,
    MigrationFailedError,
    MissingMigrationError,
    NothingToResumeError,
    VersionNotFoundError,
)
from metadb.migrate.reporter import NullReporter
from tests.migrate.conftest import (
    PORTABLE,
    WriteSource,
    config,
    execute,
    migration_lock_held,
    query,
    table_names,
)

FAILING_IN_THE_MIDDLE = {
    **{k: v for k, v in PORTABLE.items() if k.startswith("000001")},
    "000002_three_steps.up.sql": (
        "CREATE TABLE first_step (id INTEGER PRIMARY KEY);\n"
        "\n"
        "INSERT INTO prerequisite (id) VALUES (1);\n"
        "CREATE TABLE third_step (id INTEGER PRIMARY KEY);\n"
    ),
    "000002_three_steps.down.sql": "DROP TABLE third_step;\nDROP TABLE first_step;\n",
}


def test_up_applies_every_pending_migration_in_order(database_url: str, write_source: WriteSource):
    source = write_source(PORTABLE)

    report = migrate.up(config(database_url, source))

    assert [s.version for s in report.steps] == [1, 2, 3]
    assert (report.version_before, report.version_after, report.pending) == (None, 3, 0)
    assert {"users", "teams"} <= table_names(database_url)
    assert query(database_url, "SELECT name FROM users ORDER BY id") == [
        ("ada",),
        ("it's 50% done",),
    ]
    assert query(database_url, "SELECT title FROM teams") == [("core; platform",)]
    again = migrate.up(config(database_url, source))
    assert again.steps == [] and again.version_after == 3


def test_up_n_down_n_and_goto_move_one_version_at_a_time(
    database_url: str, write_source: WriteSource
):
    cfg = config(database_url, write_source(PORTABLE))

    assert migrate.up(cfg, 1).version_after == 1
    assert migrate.up(cfg, 1).version_after == 2
    assert migrate.version(cfg).version == 2
    down = migrate.down(cfg)
    assert [(s.version, s.direction) for s in down.steps] == [(2, "down")]
    assert down.version_after == 1
    assert "teams" not in table_names(database_url)
    assert migrate.goto(cfg, 3).version_after == 3
    assert migrate.goto(cfg, 1).version_after == 1
    assert query(database_url, "SELECT COUNT(*) FROM users") == [(0,)]
    everything = migrate.down(cfg, None)
    assert everything.version_after is None
    assert "users" not in table_names(database_url)
    with pytest.raises(VersionNotFoundError, match="no migration with version 7"):
        migrate.goto(cfg, 7)


def test_bundled_schema_applies_and_reverts(database_url: str):
    cfg = config(database_url, None)

    report = migrate.up(cfg)

    assert report.version_after == migrate.load_source(None, "sqlite").versions[-1]
    [(instance_id,)] = query(database_url, "SELECT instance_id FROM metadb_instance")
    assert len(str(instance_id)) == 36 and str(instance_id).count("-") == 4
    assert migrate.down(cfg, None).version_after is None
    # metadb's bundled schema keeps its version in tables of its own (docs/migrations.md)
    tables = {"metadb_schema_migrations", "metadb_schema_migrations_history"}
    assert table_names(database_url) == tables


def test_history_records_each_application_with_checksum_and_progress(
    database_url: str, write_source: WriteSource
):
    source = write_source(PORTABLE)
    cfg = config(database_url, source)
    migrate.up(cfg)
    migrate.down(cfg)

    rows = migrate.history(cfg)

    assert [(r.version, r.direction, r.status) for r in rows] == [
        (3, "down", "succeeded"),
        (3, "up", "succeeded"),
        (2, "up", "succeeded"),
        (1, "up", "succeeded"),
    ]
    up2 = rows[2]
    assert up2.statements_done == up2.statements_total == 2
    assert up2.checksum == migrate.load_source(source, "sqlite").get(2).up.checksum  # type: ignore[union-attr]
    assert "@" in up2.applied_by and up2.finished_at is not None and up2.duration_ms is not None
    assert up2.finished_at >= up2.started_at


def test_failure_mid_file_never_leaves_transactional_databases_dirty(
    db: Database, database_url: str, write_source: WriteSource
):
    cfg = config(database_url, write_source(FAILING_IN_THE_MIDDLE))

    with pytest.raises(MigrationFailedError) as failed:
        migrate.up(cfg)

    error = failed.value
    assert (error.version, error.statement_index, error.line) == (2, 1, 3)
    assert "prerequisite" in error.server_error
    assert error.path.endswith("000002_three_steps.up.sql")
    state = migrate.version(cfg)
    if db.dialect.transactional_ddl:
        assert not error.dirty and (state.version, state.dirty) == (1, False)
        assert "first_step" not in table_names(database_url)
        assert "still at version 1 and not dirty" in str(error)
        assert migrate.history(cfg)[0].status == "rolled_back"
    else:  # MySQL: the first CREATE TABLE committed on its own
        assert error.dirty and (state.version, state.dirty) == (2, True)
        assert "first_step" in table_names(database_url)
        assert "metadb migrate resume" in str(error)


def _tracked(files: dict[str, str]) -> dict[str, str]:
    """Mark every file no-transaction so that all three databases take the tracked path."""
    return {k: f"-- metadb:no-transaction\n{v}" for k, v in files.items()}


def test_tracked_failure_marks_dirty_and_resume_continues_at_the_failed_statement(
    database_url: str, write_source: WriteSource
):
    source = write_source(_tracked(FAILING_IN_THE_MIDDLE))
    cfg = config(database_url, source)
    with pytest.raises(MigrationFailedError) as failed:
        migrate.up(cfg)
    assert failed.value.dirty and failed.value.statement_index == 1

    with pytest.raises(DirtyDatabaseError) as dirty:
        migrate.up(cfg)
    message = str(dirty.value)
    assert "000002_three_steps.up.sql" in message and "statement 2" in message
    assert "INSERT INTO prerequisite" in message and "metadb migrate resume" in message

    execute(database_url, "CREATE TABLE prerequisite (id INTEGER PRIMARY KEY)")
    report = migrate.resume(cfg)

    assert [(s.version, s.resumed_at_statement) for s in report.steps] == [(2, 1)]
    assert (report.version_after, migrate.version(cfg).dirty) == (2, False)
    assert {"first_step", "third_step"} <= table_names(database_url)
    assert query(database_url, "SELECT id FROM prerequisite") == [(1,)]
    history = migrate.history(cfg)
    assert [(r.status, r.statements_done) for r in history[:2]] == [("succeeded", 3), ("failed", 1)]
    assert history[0].resumed_from == history[1].id
    with pytest.raises(NothingToResumeError, match="not dirty"):
        migrate.resume(cfg)


def test_resume_refuses_when_an_already_applied_statement_was_edited(
    database_url: str, write_source: WriteSource
):
    source = write_source(_tracked(FAILING_IN_THE_MIDDLE))
    cfg = config(database_url, source)
    with pytest.raises(MigrationFailedError):
        migrate.up(cfg)
    path = source / "000002_three_steps.up.sql"
    path.write_text(path.read_text().replace("first_step", "first_step_renamed"))

    with pytest.raises(ChangedMigrationError, match=re.escape("000002_three_steps.up.sql")):
        migrate.resume(cfg)
    assert migrate.version(cfg).dirty


def test_force_clears_the_dirty_flag_and_is_recorded(database_url: str, write_source: WriteSource):
    cfg = config(database_url, write_source(_tracked(FAILING_IN_THE_MIDDLE)))
    with pytest.raises(MigrationFailedError):
        migrate.up(cfg)

    state = migrate.force(cfg, 1)

    assert (state.version, state.dirty) == (1, False)
    assert migrate.version(cfg) == state
    last = migrate.history(cfg)[0]
    assert (last.direction, last.version) == ("force", 1)
    assert "dirty=True" in (last.note or "")


def test_changed_applied_file_blocks_up_until_allowed(database_url: str, write_source: WriteSource):
    files = {k: v for k, v in PORTABLE.items() if not k.startswith("000003")}
    source = write_source(files)
    cfg = config(database_url, source)
    migrate.up(cfg)
    (source / "000001_create_users.up.sql").write_text(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(80));"
    )
    (source / "000003_more.up.sql").write_text("CREATE TABLE more_things (id INTEGER);")
    (source / "000003_more.down.sql").write_text("DROP TABLE more_things;")

    status = migrate.status(cfg)
    assert status.changed == [1] and status.pending == [3] and status.needs_attention
    with pytest.raises(ChangedMigrationError, match=re.escape("000001_create_users.up.sql")):
        migrate.up(cfg)
    assert "more_things" not in table_names(database_url)

    assert migrate.up(cfg, allow_changed=True).version_after == 3


def test_status_reports_missing_files_and_up_refuses(database_url: str, write_source: WriteSource):
    cfg = config(database_url, write_source(PORTABLE))
    migrate.up(cfg)
    shrunk = config(database_url, write_source({k: v for k, v in PORTABLE.items() if k < "000003"}))

    status = migrate.status(shrunk)

    assert status.missing == [3] and status.needs_attention
    assert [m.state for m in status.migrations] == ["applied", "applied"]
    with pytest.raises(MissingMigrationError, match="at version 3"):
        migrate.up(shrunk)


def test_plan_shows_the_pending_sql_without_running_it(
    database_url: str, write_source: WriteSource
):
    cfg = config(database_url, write_source(PORTABLE))
    migrate.up(cfg, 1)

    plan = migrate.plan(cfg)

    assert plan.version == 1
    assert [s.version for s in plan.steps] == [2, 3]
    assert [(st.line, st.sql) for st in plan.steps[0].statements] == [
        (2, "CREATE TABLE teams (id INTEGER PRIMARY KEY, title VARCHAR(50))"),
        (3, "INSERT INTO teams (id, title) VALUES (1, 'core; platform')"),
    ]
    assert migrate.version(cfg).version == 1
    assert "teams" not in table_names(database_url)


def test_down_stops_at_an_irreversible_migration(database_url: str, write_source: WriteSource):
    files = {
        **PORTABLE,
        "000004_drop_seed.up.sql": "-- metadb:irreversible\nDELETE FROM users;",
    }
    cfg = config(database_url, write_source(files))
    migrate.up(cfg)

    with pytest.raises(IrreversibleMigrationError, match="000004"):
        migrate.down(cfg)
    assert migrate.version(cfg).version == 4


def test_python_migrations_run_with_a_connection(database_url: str, write_source: WriteSource):
    step = (
        "from sqlalchemy import text\n\n"
        "def up(connection):\n"
        "    for i in range(3, 6):\n"
        "        connection.execute(text('INSERT INTO users (id, name) VALUES (:i, :n)'),"
        " {'i': i, 'n': f'user{i}'})\n\n"
        "def down(connection):\n"
        "    connection.execute(text('DELETE FROM users WHERE id >= 3'))\n"
    )
    files = {k: v for k, v in PORTABLE.items() if k.startswith("000001")}
    cfg = config(database_url, write_source({**files, "000002_add_users.py": step}))

    assert migrate.up(cfg).version_after == 2
    assert query(database_url, "SELECT name FROM users ORDER BY id") == [
        ("user3",),
        ("user4",),
        ("user5",),
    ]
    migrate.down(cfg)
    assert query(database_url, "SELECT COUNT(*) FROM users") == [(0,)]


def test_custom_version_table(database_url: str, write_source: WriteSource):
    cfg = config(database_url, write_source(PORTABLE), table="app_versions")

    migrate.up(cfg)

    tables = table_names(database_url)
    assert {"app_versions", "app_versions_history"} <= tables
    assert "schema_migrations" not in tables
    assert query(database_url, "SELECT version FROM app_versions") == [(3,)]


def test_waiting_run_names_the_lock_holder_and_times_out(
    db: Database, database_url: str, write_source: WriteSource
):
    source = write_source(PORTABLE)
    seen: list[str | None] = []

    class Recorder(NullReporter):
        def lock_wait(self, holder: str | None) -> None:
            seen.append(holder)

    cfg = replace(config(database_url, source, reporter=Recorder()), lock_timeout=1.0)
    with migration_lock_held(db), pytest.raises(LockTimeoutError) as timeout:
        migrate.up(cfg)
    assert len(seen) == 1 and seen[0]  # told once, naming the holder
    assert f"held by {seen[0]}" in str(timeout.value)
    assert timeout.value.timeout == 1.0
    assert migrate.version(config(database_url, source)).version is None
