"""Where metadb's bundled schema keeps its version: ``metadb_schema_migrations``.

golang-migrate's default version table, ``schema_migrations``, belongs to whatever tool migrates
the database with golang-migrate. Kubeflow's model registry keeps its own version (21) there, in
a database that holds the MLMD tables metadb serves; had metadb's bundled schema read that table
it would take 21 for one of its own versions and refuse the database as newer than itself. So
the bundled schema keeps its version (golang-migrate's shape) and history in tables of its own,
``metadb_schema_migrations`` and ``metadb_schema_migrations_history``, and recognises MLMD
schema 10 by ``MLMDEnv`` whatever else manages ``schema_migrations``. A source given with
``--source`` keeps golang-migrate's default, so that either tool can run user migrations.

Databases migrated by earlier metadb releases keep the bundled version in ``schema_migrations``
and ``schema_migrations_history``. They are recognised by that history (every row names a
bundled migration and one has a bundled file's checksum) and moved over by the first command that
takes the migration lock (:func:`move_legacy_tables`): in one transaction where DDL is
transactional, else in steps that can each be repeated. Commands that only read use the old
tables until then.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Connection, select

from metadb.config import BUNDLED_MIGRATIONS_TABLE, DEFAULT_MIGRATIONS_TABLE
from metadb.db.database import Database
from metadb.db.dialect import OnWait
from metadb.db.urls import DatabaseURL
from metadb.migrate.source import MigrationSource
from metadb.migrate.tables import HistoryTable, VersionState, VersionTable

log = logging.getLogger(__name__)

#: golang-migrate's version table: the default for ``--source`` directories.
DEFAULT_VERSION_TABLE = DEFAULT_MIGRATIONS_TABLE
#: The version table of metadb's bundled schema.
BUNDLED_VERSION_TABLE = BUNDLED_MIGRATIONS_TABLE


def version_table_name(url: DatabaseURL, table: str | None = None, *, bundled: bool) -> str:
    """The version table a migration run on ``url`` uses: ``table`` if given, else the URL's
    ``x-migrations-table``, else ``metadb_schema_migrations`` for metadb's ``bundled`` schema
    and golang-migrate's ``schema_migrations`` for a source directory."""
    if table:
        return table
    if url.migrations_table:
        return url.migrations_table
    return BUNDLED_VERSION_TABLE if bundled else DEFAULT_VERSION_TABLE


@dataclass(frozen=True)
class LegacyTables:
    """The version and history tables an earlier metadb release kept the bundled version in."""

    versions: VersionTable
    history: HistoryTable
    #: True while the new tables hold nothing, so that the version is still read from these.
    current: bool


def history_table_name(table: str) -> str:
    """The name of the history table that goes with version table ``table``."""
    return f"{table}_history"


def find_legacy_tables(
    conn: Connection, source: MigrationSource, *, table: str
) -> LegacyTables | None:
    """The tables to move into ``table`` when it is the bundled version table and an earlier
    metadb left the bundled schema's version in ``schema_migrations``; None otherwise (another
    tool's ``schema_migrations``, which has no metadb history, is never touched)."""
    if table != BUNDLED_VERSION_TABLE:
        return None
    old_versions = VersionTable(DEFAULT_VERSION_TABLE)
    old_history = HistoryTable(history_table_name(DEFAULT_VERSION_TABLE))
    if not (old_versions.exists(conn) and old_history.exists(conn)):
        return None
    rows = old_history.rows(conn)
    bundled = {(m.version, m.name): m.up.checksum for m in source}
    if not rows or any((row.version, row.name) not in bundled for row in rows):
        return None  # not written by the bundled schema: user migrations, or empty
    if not any(row.checksum == bundled[(row.version, row.name)] for row in rows):
        return None
    new = (VersionTable(table), HistoryTable(history_table_name(table)))
    return LegacyTables(old_versions, old_history, current=not _holds_state(conn, *new))


def current_version_table(conn: Connection, source: MigrationSource, *, table: str) -> VersionTable:
    """The table that holds the version now: ``table``, or the old ``schema_migrations`` of a
    database an earlier metadb migrated and no command has moved over yet. For readers."""
    legacy = find_legacy_tables(conn, source, table=table)
    return legacy.versions if legacy is not None and legacy.current else VersionTable(table)


def _holds_state(conn: Connection, versions: VersionTable, history: HistoryTable) -> bool:
    if versions.read(conn) != VersionState(None, False):
        return True
    if not history.exists(conn):
        return False
    return conn.execute(select(history.table.c.id).limit(1)).first() is not None


def settle_legacy_tables(
    db: Database, source: MigrationSource, *, table: str, on_wait: OnWait
) -> bool:
    """Move the bundled schema's version out of ``schema_migrations`` if an earlier metadb
    left it there, holding ``table``'s migration lock, so that two processes starting at once
    move it once and neither reads the old tables while the other drops them. Called by every
    command that changes the schema, before it reads the version. Returns whether it moved.
    """
    if table != BUNDLED_VERSION_TABLE:
        return False
    with db.connect() as conn:
        if not HistoryTable(history_table_name(DEFAULT_VERSION_TABLE)).exists(conn):
            return False  # the usual case, without waiting for the lock
    with db.dialect.migration_lock(
        db.engine, db.url, table=table, timeout=db.lock_timeout, on_wait=on_wait
    ):
        with db.connect() as conn:
            legacy = find_legacy_tables(conn, source, table=table)
        if legacy is None:
            return False
        versions = VersionTable(table)
        return move_legacy_tables(
            db, legacy, versions=versions, history=HistoryTable(history_table_name(table))
        )


def move_legacy_tables(
    db: Database, legacy: LegacyTables, *, versions: VersionTable, history: HistoryTable
) -> bool:
    """Move the version and history of ``legacy`` into ``versions`` and ``history``, then drop
    the old tables. The caller holds the migration lock of ``versions``. Idempotent: a move
    that another process finished, or that stopped part-way on a database whose DDL commits
    at once (MySQL), is completed, never repeated. Returns whether anything was moved.
    """
    with db.connect() as conn:
        if not legacy.versions.exists(conn):
            return False  # moved meanwhile by another process
    # On PostgreSQL and SQLite this is one transaction. On MySQL each CREATE and DROP commits:
    # the copy (InnoDB rows) commits with the first DROP, and a run that stopped before it finds
    # the new tables empty and copies again.
    with db.connect() as conn, db.dialect.begin_write(conn):
        versions.create(conn)
        history.create(conn)
        if not _holds_state(conn, versions, history):
            _copy(conn, legacy, versions=versions, history=history)
        # The version table first: a run stopped between the two drops leaves only an old
        # history table, which no tool reads as a version.
        legacy.versions.table.drop(conn, checkfirst=True)
        legacy.history.table.drop(conn, checkfirst=True)
    log.warning(
        "moved metadb's schema version from %s to %s: %s is left to other tools",
        legacy.versions.name,
        versions.name,
        legacy.versions.name,
    )
    return True


def _copy(
    conn: Connection, legacy: LegacyTables, *, versions: VersionTable, history: HistoryTable
) -> None:
    state = legacy.versions.read(conn)
    new_ids: dict[int, int] = {}
    for row in reversed(legacy.history.rows(conn)):  # oldest first, so ids keep their order
        values = row.__dict__.copy()
        old_id = values.pop("id")
        if row.resumed_from is not None:
            values["resumed_from"] = new_ids.get(row.resumed_from)
        new_ids[old_id] = history.record(conn, **values)
    versions.write(conn, state.version, dirty=state.dirty)
