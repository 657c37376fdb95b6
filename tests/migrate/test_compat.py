"""What users bring with them: golang-migrate databases, compound SQL bodies, crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from metadb import migrate
from metadb.errors import DirtyDatabaseError, MigrationFailedError
from tests.migrate.conftest import (
    PORTABLE,
    WriteSource,
    config,
    execute,
    metadb_executable,
    query,
    table_names,
)

#: The version table exactly as golang-migrate v4 creates it on each database.
GOLANG_MIGRATE_DDL = {
    "sqlite": [
        "CREATE TABLE IF NOT EXISTS schema_migrations (version uint64,dirty bool)",
        "CREATE UNIQUE INDEX IF NOT EXISTS version_unique ON schema_migrations (version)",
    ],
    "postgresql": [
        'CREATE TABLE IF NOT EXISTS "schema_migrations" '
        "(version bigint not null primary key, dirty boolean not null)"
    ],
    "mysql": [
        "CREATE TABLE IF NOT EXISTS `schema_migrations` "
        "(version bigint not null primary key, dirty boolean not null)"
    ],
}
GOLANG_MIGRATE_READ = "SELECT version, dirty FROM schema_migrations LIMIT 1"


def _golang_migrated(backend: str, url: str, version: int, *, dirty: bool) -> None:
    """A database that golang-migrate brought to ``version`` (its DDL, its table, its row)."""
    execute(
        url,
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50))",
        "CREATE TABLE teams (id INTEGER PRIMARY KEY, title VARCHAR(50))",
        *GOLANG_MIGRATE_DDL[backend],
        f"INSERT INTO schema_migrations (version, dirty) VALUES ({version}, {int(dirty)})"
        if backend != "postgresql"
        else f"INSERT INTO schema_migrations (version, dirty) VALUES ({version}, {dirty})",
    )


def test_a_golang_migrate_database_is_picked_up_as_it_is(
    backend: str, database_url: str, write_source: WriteSource
):
    _golang_migrated(backend, database_url, 2, dirty=False)
    cfg = config(database_url, write_source(PORTABLE))

    status = migrate.status(cfg)
    assert (status.version, status.dirty, status.pending) == (2, False, [3])
    assert [m.recorded_checksum for m in status.migrations[:2]] == [None, None]

    report = migrate.up(cfg)

    assert [s.version for s in report.steps] == [3]
    # golang-migrate reads metadb's result with its own query: one row, version 3, clean.
    assert [(int(v), bool(d)) for v, d in query(database_url, GOLANG_MIGRATE_READ)] == [(3, False)]
    assert query(database_url, "SELECT COUNT(*) FROM schema_migrations") == [(1,)]


def test_a_database_left_dirty_by_golang_migrate_says_to_force(
    backend: str, database_url: str, write_source: WriteSource
):
    _golang_migrated(backend, database_url, 2, dirty=True)
    cfg = config(database_url, write_source(PORTABLE))

    with pytest.raises(DirtyDatabaseError) as dirty:
        migrate.up(cfg)

    assert not dirty.value.resumable
    assert "metadb migrate force VERSION" in str(dirty.value)
    migrate.force(cfg, 2)
    assert migrate.up(cfg).version_after == 3


COMPOUND = {
    "postgresql": {
        "1_functions.up.sql": """
CREATE TABLE notes (id SERIAL PRIMARY KEY, body TEXT, words INTEGER);

CREATE FUNCTION count_words() RETURNS trigger AS $body$
BEGIN
    -- a comment; with a semicolon
    NEW.words := array_length(regexp_split_to_array(trim(NEW.body), '\\s+'), 1);
    RETURN NEW;
END;
$body$ LANGUAGE plpgsql;

CREATE TRIGGER notes_words BEFORE INSERT ON notes
    FOR EACH ROW EXECUTE FUNCTION count_words();

DO $$ BEGIN INSERT INTO notes (body) VALUES ('one; two three'); END $$;

CREATE FUNCTION add_one(i integer) RETURNS integer LANGUAGE SQL
BEGIN ATOMIC
    SELECT i + 1;
END;
""",
        "1_functions.down.sql": "DROP TABLE notes;\nDROP FUNCTION count_words();\n"
        "DROP FUNCTION add_one(integer);",
    },
    "mysql": {
        "1_functions.up.sql": """
CREATE TABLE notes (id INTEGER AUTO_INCREMENT PRIMARY KEY, body TEXT, words INTEGER);

CREATE TRIGGER notes_words BEFORE INSERT ON notes FOR EACH ROW
BEGIN
    # a comment; with a semicolon
    IF NEW.body IS NULL THEN
        SET NEW.words = 0;
    ELSEIF NEW.body = '' THEN
        SET NEW.words = 0;
    ELSE
        SET NEW.words = LENGTH(TRIM(NEW.body)) - LENGTH(REPLACE(TRIM(NEW.body), ' ', '')) + 1;
    END IF;
END;

CREATE PROCEDURE add_notes(IN n INT)
BEGIN
    DECLARE i INT DEFAULT 0;
    WHILE i < n DO
        INSERT INTO notes (body) VALUES (CASE WHEN i = 0 THEN 'one; two three' ELSE 'x' END);
        SET i = i + 1;
    END WHILE;
END;

CALL add_notes(1);
""",
        "1_functions.down.sql": "DROP PROCEDURE add_notes;\nDROP TABLE notes;",
    },
    "sqlite": {
        "1_functions.up.sql": """
CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, words INTEGER);

CREATE TRIGGER notes_words AFTER INSERT ON notes
BEGIN
    UPDATE notes SET words = length(trim(NEW.body))
        - length(replace(trim(NEW.body), ' ', '')) + 1 WHERE id = NEW.id;
    -- a comment; with a semicolon
    UPDATE notes SET body = NEW.body WHERE id = NEW.id;
END;

INSERT INTO notes (body) VALUES ('one; two three');
""",
        "1_functions.down.sql": "DROP TABLE notes;",
    },
}


def test_function_trigger_and_procedure_bodies_survive_splitting(
    backend: str, database_url: str, write_source: WriteSource
):
    files = {f"{backend}/{name}": body for name, body in COMPOUND[backend].items()}
    cfg = config(database_url, write_source(files))

    migrate.up(cfg)

    assert query(database_url, "SELECT body, words FROM notes") == [("one; two three", 3)]
    migrate.down(cfg)
    assert "notes" not in table_names(database_url)


def test_create_index_concurrently_needs_and_gets_no_transaction(
    postgresql_url: str, write_source: WriteSource
):
    database_url = postgresql_url
    base = {k: v for k, v in PORTABLE.items() if k.startswith("000001")}
    index = "CREATE INDEX CONCURRENTLY ix_users_name ON users (name);"
    in_transaction = config(
        database_url,
        write_source({**base, "2_ix.up.sql": index, "2_ix.down.sql": "DROP INDEX ix_users_name;"}),
    )
    with pytest.raises(MigrationFailedError, match="cannot run inside a transaction block"):
        migrate.up(in_transaction)  # no hints check: it would refuse it before it runs
    assert migrate.version(in_transaction) == migrate.VersionState(1, False)

    outside = config(
        database_url,
        write_source(
            {
                **base,
                "2_ix.up.sql": f"-- metadb:no-transaction\n{index}",
                "2_ix.down.sql": "-- metadb:no-transaction\nDROP INDEX CONCURRENTLY ix_users_name;",
            }
        ),
    )
    assert migrate.up(outside).version_after == 2
    indexes = query(database_url, "SELECT indexname FROM pg_indexes WHERE tablename = 'users'")
    assert ("ix_users_name",) in indexes


SLOW_STEP = """
import os
import time

from sqlalchemy import text


def up(connection):
    connection.execute(text("INSERT INTO users (id, name) VALUES (10, 'half-done')"))
    marker = os.environ.get("METADB_TEST_MARKER")
    if marker and not os.path.exists(marker + ".resume"):
        open(marker, "w").close()
        time.sleep(60)


def down(connection):
    connection.execute(text("DELETE FROM users WHERE id = 10"))
"""


def test_a_run_killed_mid_migration_leaves_a_database_that_up_or_resume_recovers(
    db, database_url: str, write_source: WriteSource, tmp_path: Path
):
    base = {k: v for k, v in PORTABLE.items() if k.startswith("000001")}
    source = write_source({**base, "000002_slow.py": SLOW_STEP})
    marker = tmp_path / "started"
    env = {**os.environ, "METADB_TEST_MARKER": str(marker)}
    command = [
        metadb_executable(),
        "migrate",
        "up",
        "--database",
        database_url,
        "--source",
        str(source),
    ]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), proc.communicate(timeout=5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    Path(f"{marker}.resume").touch()  # the cause is "fixed": the next attempt does not stall
    cfg = config(database_url, source)

    if db.dialect.transactional_ddl:
        # The step's transaction died with the process: nothing of it is left.
        assert migrate.version(cfg) == migrate.VersionState(1, False)
        assert query(database_url, "SELECT COUNT(*) FROM users") == [(0,)]
        assert migrate.up(cfg).version_after == 2
    else:
        with pytest.raises(DirtyDatabaseError, match="stopped before it finished") as dirty:
            migrate.up(cfg)
        assert dirty.value.resumable and dirty.value.statement_index == 0
        assert migrate.resume(cfg).version_after == 2
    assert query(database_url, "SELECT name FROM users") == [("half-done",)]
    assert not migrate.version(cfg).dirty
