"""What a running server holds open, and the checks made on it.

:func:`open_resources` is the server's start-up (the app's lifespan calls it, and so does
``metadb serve`` before it binds the port, so that a failure is one clear message): parse the
URL, migrate (or check that nothing is pending), open the stores on one connection pool, and
start the pending backfills in the background. :func:`readiness` is what ``/readyz`` asks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from metadb.api.settings import ServeSettings
from metadb.backfill.commands import BackgroundBackfills, start_pending_backfills_in_background
from metadb.db.database import Database
from metadb.db.urls import parse_database_url
from metadb.errors import DatabaseError, SchemaOutOfDateError
from metadb.migrate.bundled import current_version_table, version_table_name
from metadb.migrate.source import MigrationSource, load_source
from metadb.migrate.tables import VersionTable
from metadb.runs.store import RunStore
from metadb.store.connect import connect, require_current_schema
from metadb.store.metadata_store import MetadataStore

log = logging.getLogger("metadb.api")


@dataclass
class ServerResources:
    """The stores a server answers from (one connection pool), and what readiness compares.

    Build with :func:`open_resources`; :meth:`close` releases the pool.
    """

    store: MetadataStore
    runs: RunStore
    #: metadb's bundled migrations for this database's dialect: what "current" means.
    source: MigrationSource
    version_table: VersionTable
    backfills: BackgroundBackfills | None = None
    closed: bool = field(default=False, init=False)

    @property
    def database(self) -> Database:
        return self.store.database

    def close(self) -> None:
        """Release the connection pool (idempotent). Background backfills have their own."""
        if not self.closed:
            self.closed = True
            self.store.close()


def open_resources(settings: ServeSettings) -> ServerResources:
    """Open what a server needs for ``settings``: the server's whole start-up I/O.

    Raises:
        UnsupportedDatabaseError: the URL is of no form metadb reads (exit code 2).
        DatabaseUnreachableError, AuthenticationError: no connection (exit code 1).
        SchemaOutOfDateError: ``migrate=False`` and migrations are pending, the schema is
            dirty or newer than this metadb; the message names the command to run (exit
            code 3).
        and the errors of :func:`metadb.migrate.up` when it migrates.

    Example::

        resources = open_resources(ServeSettings(database_url="sqlite:///metadb.sqlite"))
        try:
            print(readiness(resources))
        finally:
            resources.close()
    """
    url = parse_database_url(settings.database_url, database_type=settings.database_type)
    store = connect(
        url,
        migrate=settings.migrate,
        mysql_text=settings.mysql_text,
        statement_timeout=settings.statement_timeout,
    )
    try:
        source = load_source(None, url.dialect)
        table = version_table_name(url, bundled=True)
        with store.database.connect() as conn:
            version_table = current_version_table(conn, source, table=table)
        resources = ServerResources(
            store=store,
            runs=RunStore(store.database, statement_timeout=settings.statement_timeout),
            source=source,
            version_table=version_table,
        )
    except BaseException:
        store.close()
        raise
    if settings.run_backfills:
        # The backfills get their own pool (from the URL): the server's close must not pull
        # connections from under them, and they never hold the server's connections.
        resources.backfills = start_pending_backfills_in_background(url)
    log.info("serving %s", url.masked())
    return resources


@dataclass(frozen=True)
class Readiness:
    """What ``/readyz`` reports: ready, or the reason it is not."""

    ready: bool
    reason: str | None
    #: The recorded schema version; None when it could not be read or there is none.
    version: int | None = None
    dirty: bool = False
    latest: int | None = None
    database_up: bool = True


def readiness(resources: ServerResources) -> Readiness:
    """Whether the server can answer: the database is reachable, its schema version is the
    newest bundled migration, and it is not dirty. Reads the version table on the server's own
    pool (no new connection per probe) and never raises for the database's state.

    Example::

        state = readiness(resources)
        if not state.ready:
            print(state.reason)
    """
    source, db = resources.source, resources.database
    latest = source.versions[-1] if len(source) else None
    try:
        with db.connect() as conn, conn.begin():
            state = require_current_schema(db, conn, source=source, table=resources.version_table)
    except SchemaOutOfDateError as exc:
        return Readiness(False, str(exc), exc.version, exc.dirty, latest)
    except DatabaseError as exc:
        return Readiness(False, str(exc), latest=latest, database_up=False)
    return Readiness(True, None, state.version, state.dirty, latest)
