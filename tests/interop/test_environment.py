"""The interop environment itself: ml-metadata installs and opens each test database."""

from __future__ import annotations

from pathlib import Path

from tests.interop.conftest import OPEN_STORE, mlmd_connection_config, run_mlmd


def test_ml_metadata_creates_a_store_metadb_adopts(mlmd_python: Path, database_url: str):
    from metadb import migrate

    run_mlmd(
        mlmd_python,
        OPEN_STORE + "RESULT = [t.name for t in store.get_artifact_types()]",
        config=mlmd_connection_config(database_url),
    )

    report = migrate.up(migrate.MigrateConfig(database=database_url))

    latest = migrate.load_source(None, "sqlite").versions[-1]
    assert report.adopted_at == 1 and report.version_after == latest
