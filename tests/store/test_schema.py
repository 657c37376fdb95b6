"""metadb's bundled migration 1 creates exactly the tables ml-metadata 1.17 creates (schema 10).

The golden files were captured with tests/store/schema_snapshot.py from databases that
ml-metadata 1.17.1 itself created on SQLite, PostgreSQL 15 and MariaDB 10.11. To refresh them,
create a store with ml-metadata on each database and write ``snapshot(url)`` to the file.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from metadb import migrate
from tests.store.schema_snapshot import snapshot

GOLDEN = Path(__file__).parent / "golden"


def test_migration_one_creates_ml_metadata_s_schema_v10_exactly(backend: str, database_url: str):
    migrate.up(migrate.MigrateConfig(database=database_url), 1)

    expected = (GOLDEN / f"mlmd_v10_{backend}.txt").read_text()
    actual = snapshot(database_url)

    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            f"ml-metadata ({backend})",
            f"metadb ({backend})",
        )
    )
    assert not diff, f"metadb's schema differs from ml-metadata's:\n{diff}"
