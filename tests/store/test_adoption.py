"""Adopting databases that ml-metadata created: recognised, baselined, never re-created."""

from __future__ import annotations

import subprocess

import pytest

from metadb import migrate
from metadb.errors import BaselineError, BelowAdoptedBaselineError, UnsupportedSchemaError
from tests.migrate.conftest import execute, metadb_executable, query, table_names

#: The bundled migrations after the MLMD schema (1): what ``up`` runs after adopting.
LATER = migrate.load_source(None, "sqlite").versions[1:]


def _created_by_ml_metadata(url: str, *, schema_version: int = 10) -> None:
    """MLMD's tables and seed rows with no version table, as ml-metadata leaves a database.

    Migration 1 creates exactly ml-metadata's schema (see test_schema.py); dropping metadb's
    own tables afterwards leaves what ml-metadata alone would have created.
    """
    migrate.up(migrate.MigrateConfig(database=url), 1)
    execute(
        url, "DROP TABLE metadb_schema_migrations", "DROP TABLE metadb_schema_migrations_history"
    )
    if schema_version != 10:
        env = "mlmdenv" if url.startswith("postgresql") else "MLMDEnv"
        execute(url, f"UPDATE {env} SET schema_version = {schema_version}")


def test_up_adopts_an_ml_metadata_database_without_re_running_ddl(database_url: str):
    _created_by_ml_metadata(database_url)
    execute(
        database_url,
        "INSERT INTO Type (name, type_kind) VALUES ('Keep', 1)".replace(
            "Type", "type" if database_url.startswith("postgresql") else "Type"
        ),
    )
    cfg = migrate.MigrateConfig(database=database_url)
    status = migrate.status(cfg)
    assert status.adoptable_at == 1 and "adopts it at version 1" in (status.problem or "")

    report = migrate.up(cfg)

    assert report.adopted_at == 1
    assert [s.version for s in report.steps] == LATER
    assert report.version_after == LATER[-1]
    history = migrate.history(cfg)
    assert [(r.version, r.direction) for r in history] == [
        *((v, "up") for v in reversed(LATER)),
        (1, "baseline"),
    ]
    assert "ml-metadata" in (history[-1].note or "")
    type_table = "type" if database_url.startswith("postgresql") else "Type"
    assert query(database_url, f"SELECT COUNT(*) FROM {type_table} WHERE name = 'Keep'") == [(1,)]
    assert migrate.up(cfg).adopted_at is None


def test_explicit_baseline_detects_ml_metadata_and_refuses_twice(database_url: str):
    _created_by_ml_metadata(database_url)
    cfg = migrate.MigrateConfig(database=database_url)

    assert migrate.baseline(cfg) == migrate.VersionState(1, False)

    with pytest.raises(BaselineError, match="already at version 1"):
        migrate.baseline(cfg)


def test_an_older_ml_metadata_schema_is_refused_and_left_alone(database_url: str):
    _created_by_ml_metadata(database_url, schema_version=8)
    cfg = migrate.MigrateConfig(database=database_url)

    with pytest.raises(UnsupportedSchemaError, match="MLMD schema version 8") as refused:
        migrate.up(cfg)

    assert "enable_upgrade_migration=True" in str(refused.value)
    assert "metadb_schema_migrations" not in table_names(database_url)


def test_a_database_without_mlmd_tables_is_simply_migrated(database_url: str):
    report = migrate.up(migrate.MigrateConfig(database=database_url))

    assert report.adopted_at is None and report.version_after == LATER[-1]


def test_down_all_on_an_adopted_database_is_refused_naming_what_it_would_drop(
    database_url: str,
):
    _created_by_ml_metadata(database_url)
    cfg = migrate.MigrateConfig(database=database_url)
    migrate.up(cfg)

    with pytest.raises(BelowAdoptedBaselineError) as refused:
        migrate.down(cfg, None)

    message = str(refused.value)
    assert "adopted this database at version 1" in message and "--force" in message
    assert "artifact" in message.lower() and "nothing was changed" in message
    assert refused.value.baseline == 1 and refused.value.versions[-1] == 1
    assert migrate.version(cfg) == migrate.VersionState(LATER[-1], False)
    migrate.goto(cfg, 1)  # down to the adopted version is allowed
    with pytest.raises(BelowAdoptedBaselineError):
        migrate.down(cfg, 1)
    assert migrate.version(cfg) == migrate.VersionState(1, False)
    assert "mlmdenv" in {name.lower() for name in table_names(database_url)}


def test_the_cli_refuses_down_all_with_exit_3_and_drops_with_force(database_url: str):
    _created_by_ml_metadata(database_url)
    migrate.up(migrate.MigrateConfig(database=database_url))
    command = [metadb_executable(), "migrate", "down", "--all", "--database", database_url]

    refused = subprocess.run(command, capture_output=True, text=True, check=False)

    assert refused.returncode == 3, refused.stderr
    assert "--force" in refused.stderr and "Traceback" not in refused.stderr
    assert "mlmdenv" in {name.lower() for name in table_names(database_url)}

    forced = subprocess.run([*command, "--force"], capture_output=True, text=True, check=False)

    assert forced.returncode == 0, forced.stderr
    assert "mlmdenv" not in {name.lower() for name in table_names(database_url)}
