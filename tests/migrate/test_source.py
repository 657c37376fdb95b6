"""Reading migration sources: golang-migrate's naming, dialect directories, and bad sources
rejected with the file named before anything runs."""

from __future__ import annotations

import re

import pytest

from metadb import migrate
from metadb.errors import SourceError
from metadb.migrate import load_source
from tests.migrate.conftest import PORTABLE, WriteSource, config, table_names


def test_golang_migrate_directory_loads_in_version_order(write_source: WriteSource):
    source = load_source(write_source(PORTABLE), "postgresql")

    assert source.versions == [1, 2, 3]
    second = source.get(2)
    assert second is not None and second.name == "create_teams"
    assert second.up.statement_count == 2 and second.up.transactional
    assert second.down is not None and second.down.statement_count == 1
    assert [s.line for s in second.up.statements] == [2, 3]


def test_comment_only_placeholder_files_are_valid_and_run_nothing(write_source: WriteSource):
    # Kubeflow's model registry replaced retired migrations with "-- Migration removed".
    files = {"1_removed.up.sql": "-- Migration removed\n", "1_removed.down.sql": "-- nothing\n"}

    migration = load_source(write_source(files), "mysql").get(1)

    assert migration is not None and migration.up.statement_count == 0


def test_non_migration_files_are_ignored(write_source: WriteSource):
    files = {**PORTABLE, "README.md": "# notes", ".gitkeep": "", "__init__.py": ""}

    assert load_source(write_source(files), "sqlite").versions == [1, 2, 3]


def test_dialect_directories_pick_the_database_s_own(write_source: WriteSource):
    files = {
        "sqlite/1_t.up.sql": "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT);",
        "sqlite/1_t.down.sql": "DROP TABLE t;",
        "postgresql/1_t.up.sql": "CREATE TABLE t (id SERIAL PRIMARY KEY);",
        "postgresql/1_t.down.sql": "DROP TABLE t;",
    }
    root = write_source(files)

    pg = load_source(root, "postgresql").get(1)
    assert pg is not None and "SERIAL" in pg.up.statements[0].text
    with pytest.raises(SourceError, match="for sqlite, postgresql but none for mysql"):
        load_source(root, "mysql")


def test_directives_turn_off_the_transaction(write_source: WriteSource):
    files = {
        "1_idx.up.sql": "-- metadb:no-transaction\nCREATE INDEX CONCURRENTLY ix ON t (a);",
        "1_idx.down.sql": "-- metadb:no-transaction\nDROP INDEX CONCURRENTLY ix;",
    }

    migration = load_source(write_source(files), "postgresql").get(1)

    assert migration is not None and not migration.up.transactional


def test_bundled_schema_has_every_dialect():
    for dialect in ("sqlite", "postgresql", "mysql"):
        source = load_source(None, dialect)
        assert source.versions[0] == 1
        assert all(m.down is not None for m in source)


BAD_SOURCES = {
    "duplicate version": (
        {"1_a.up.sql": "SELECT 1;", "1_a.down.sql": "SELECT 1;", "01_b.up.sql": "SELECT 2;"},
        "1_a.up.sql: has version 1 up, as 01_b.up.sql does",
    ),
    "unparsable name": (
        {**PORTABLE, "4-add-things.up.sql": "SELECT 1;"},
        "4-add-things.up.sql: is not named like a migration",
    ),
    "no direction": (
        {**PORTABLE, "4_things.sql": "SELECT 1;"},
        "4_things.sql: is not named like a migration",
    ),
    "unsupported extension": (
        {"1_a.up.json": "{}", "1_a.down.json": "{}"},
        "1_a.down.json: has extension .json",
    ),
    "up without down": (
        {**PORTABLE, "000004_more.up.sql": "SELECT 1;"},
        "000004_more.up.sql: has no down migration. Add 000004_more.down.sql",
    ),
    "down without up": (
        {**PORTABLE, "000004_more.down.sql": "SELECT 1;"},
        "000004_more.down.sql: is a down migration without an up migration",
    ),
    "empty file": (
        {**PORTABLE, "000004_e.up.sql": "  \n", "000004_e.down.sql": "SELECT 1;"},
        "000004_e.up.sql: is empty",
    ),
    "unterminated string": (
        {"1_a.up.sql": "SELECT 1;\nINSERT INTO t VALUES ('oops);\n", "1_a.down.sql": "SELECT 1;"},
        "1_a.up.sql:2:",
    ),
    "python without up": (
        {"1_a.py": "def down(connection):\n    pass\n"},
        "1_a.py: defines no up(connection) function",
    ),
    "python without down": (
        {"1_a.py": "def up(connection):\n    pass\n"},
        "1_a.py: defines no down(connection) function",
    ),
    "python syntax error": (
        {"1_a.py": "def up(connection):\n    pass\n\ndef down(connection)\n    pass\n"},
        "1_a.py:4: is not valid Python",
    ),
    "mixed layout": (
        {"sqlite/1_a.up.sql": "SELECT 1;", "sqlite/1_a.down.sql": "SELECT 1;", **PORTABLE},
        "holds both dialect directories (sqlite) and migration files",
    ),
}


@pytest.mark.parametrize("case", BAD_SOURCES, ids=list(BAD_SOURCES))
def test_bad_source_is_rejected_naming_the_file_before_anything_runs(
    case: str, database_url: str, write_source: WriteSource
):
    files, expected = BAD_SOURCES[case]
    cfg = config(database_url, write_source(files))

    with pytest.raises(SourceError, match=re.escape(expected)) as rejected:
        migrate.up(cfg)

    assert str(rejected.value).endswith("nothing was run")
    assert table_names(database_url) == set()


def test_irreversible_marker_allows_an_up_without_down(write_source: WriteSource):
    files = {
        "1_a.up.sql": "-- metadb:irreversible\nDROP TABLE legacy;",
        "2_b.py": "# metadb:irreversible\ndef up(connection):\n    pass\n",
    }

    source = load_source(write_source(files), "sqlite")

    assert [m.irreversible for m in source] == [True, True]


def test_missing_directory_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="is not a directory"):
        load_source(tmp_path / "nope", "sqlite")
