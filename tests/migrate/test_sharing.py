"""Sharing a database with other tools: metadb's bundled schema keeps its version in
``metadb_schema_migrations``, so another tool's ``schema_migrations`` (Kubeflow's model
registry keeps version 21 there) is neither misread nor touched, and databases that earlier
metadb releases versioned in ``schema_migrations`` are moved over safely."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import httpx
import pytest

import metadb
import metadb.runs
from metadb import migrate
from metadb.db import Database
from metadb.migrate.bundled import (
    BUNDLED_VERSION_TABLE,
    find_legacy_tables,
    history_table_name,
)
from metadb.migrate.tables import HistoryTable, VersionTable
from metadb.runs import RunStore
from metadb.store import ArtifactType
from tests.api.test_serve_command import _embedmd_dsn, serving
from tests.migrate.conftest import PORTABLE, WriteSource, execute, query, table_names
from tests.migrate.test_compat import GOLANG_MIGRATE_DDL, GOLANG_MIGRATE_READ

BUNDLED = migrate.load_source(None, "sqlite")
LATEST = BUNDLED.versions[-1]
#: The newest bundled version of the releases that kept it in schema_migrations.
OLD_LATEST = 3


def _model_registry_database(backend: str, url: str) -> None:
    """MLMD schema 10 tables (bundled migration 1's DDL, run without metadb's version table)
    and a ``schema_migrations`` at version 21, clean, as the model registry's golang-migrate
    directory leaves it."""
    db = Database.from_url(url)
    try:
        migration = migrate.load_source(None, db.url.dialect).get(1)
        assert migration is not None
        with db.connect() as conn, conn.begin():
            for statement in migration.up.statements:
                conn.exec_driver_sql(statement.text)
    finally:
        db.dispose()
    dirty = "false" if backend == "postgresql" else "0"
    execute(
        url,
        *GOLANG_MIGRATE_DDL[backend],
        f"INSERT INTO schema_migrations (version, dirty) VALUES (21, {dirty})",
    )


def _model_registry_version(url: str) -> list[tuple[int, bool]]:
    return [(int(v), bool(d)) for v, d in query(url, GOLANG_MIGRATE_READ)]


def test_a_model_registry_database_opens_and_its_version_table_is_left_alone(
    backend: str, database_url: str
):
    _model_registry_database(backend, database_url)

    with metadb.connect(database_url) as store:
        type_id = store.put_artifact_type(ArtifactType(name="Model"))
        assert store.get_artifact_type("Model").id == type_id

    assert _model_registry_version(database_url) == [(21, False)]
    config = migrate.MigrateConfig(database=database_url)
    assert migrate.version(config) == migrate.VersionState(LATEST, False)
    history = migrate.history(config)
    assert (history[-1].version, history[-1].direction) == (1, "baseline")


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_serve_starts_on_a_model_registry_database(backend: str, database_url: str, tmp_path: Path):
    _model_registry_database(backend, database_url)
    args = (
        "--datastore-type", "embedmd",
        "--embedmd-database-type", backend,
        "--embedmd-database-dsn", _embedmd_dsn(backend, database_url),
        "--hostname", "127.0.0.1",
    )  # fmt: skip

    with serving(*args, log=tmp_path / "serve.log") as (process, base):
        ready = httpx.get(f"{base}/readyz").json()
        assert ready["version"] == LATEST
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0

    assert _model_registry_version(database_url) == [(21, False)]


def _old_metadb_database(url: str) -> int:
    """A database an earlier metadb release migrated: the bundled schema at its newest version
    then, versioned in schema_migrations and schema_migrations_history; with one run."""
    old = migrate.MigrateConfig(database=url, table="schema_migrations")
    migrate.up(old, OLD_LATEST)
    with RunStore(Database.from_url(url)) as runs:
        return runs.create_run("kept", annotations={"team": "vision"}).id


def test_an_old_metadb_database_is_moved_over_and_keeps_working(database_url: str):
    run_id = _old_metadb_database(database_url)
    config = migrate.MigrateConfig(database=database_url)
    before = migrate.status(config)
    assert (before.version, before.pending) == (OLD_LATEST, BUNDLED.versions[OLD_LATEST:])

    report = migrate.up(config)

    assert report.version_before == OLD_LATEST and report.version_after == LATEST
    tables = table_names(database_url)
    assert {BUNDLED_VERSION_TABLE, history_table_name(BUNDLED_VERSION_TABLE)} <= tables
    assert not {"schema_migrations", "schema_migrations_history"} & tables
    history = migrate.history(config)
    assert [(r.version, r.direction) for r in reversed(history)] == [
        *((v, "up") for v in BUNDLED.versions)
    ]
    with metadb.runs.connect(database_url) as runs:
        assert runs.get_run(run_id).annotations["team"] == "vision"
    assert migrate.up(config).steps == []


def test_a_move_that_stopped_part_way_is_completed_not_repeated(database_url: str):
    _old_metadb_database(database_url)
    db = Database.from_url(database_url)
    try:
        with db.connect() as conn:
            source = migrate.load_source(None, db.url.dialect)
            legacy = find_legacy_tables(conn, source, table=BUNDLED_VERSION_TABLE)
        assert legacy is not None and legacy.current
        # Stopped after creating the new tables (MySQL commits each CREATE on its own).
        with db.connect() as conn, conn.begin():
            VersionTable(BUNDLED_VERSION_TABLE).create(conn)
            HistoryTable(history_table_name(BUNDLED_VERSION_TABLE)).create(conn)
    finally:
        db.dispose()

    assert migrate.up(migrate.MigrateConfig(database=database_url)).version_after == LATEST

    history = migrate.history(migrate.MigrateConfig(database=database_url))
    assert [r.version for r in reversed(history)] == BUNDLED.versions
    assert "schema_migrations" not in table_names(database_url)


def test_two_servers_starting_at_once_move_an_old_database_once(database_url: str):
    _old_metadb_database(database_url)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            metadb.connect(database_url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert errors == []
    history = migrate.history(migrate.MigrateConfig(database=database_url))
    assert [r.version for r in reversed(history)] == BUNDLED.versions


def test_user_migrations_keep_golang_migrate_s_schema_migrations(
    database_url: str, write_source: WriteSource
):
    migrate.up(migrate.MigrateConfig(database=database_url))
    source = write_source(PORTABLE)

    migrate.up(migrate.MigrateConfig(database=database_url, source=source))

    assert _model_registry_version(database_url) == [(3, False)]
    bundled = migrate.version(migrate.MigrateConfig(database=database_url))
    assert bundled == migrate.VersionState(LATEST, False)
