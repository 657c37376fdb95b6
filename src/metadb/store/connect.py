"""Opening a store: :func:`connect`; and the one answer to "is the schema current?",
:func:`require_current_schema`, which ``connect(migrate=False)``, ``metadb serve
--no-migrate`` and the server's readiness all ask."""

from __future__ import annotations

from typing import TYPE_CHECKING

from metadb.config import DEFAULT_DATABASE_URL
from metadb.errors import SchemaOutOfDateError

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from metadb.db.database import Database
    from metadb.db.urls import DatabaseURL
    from metadb.migrate.source import MigrationSource
    from metadb.migrate.tables import VersionState, VersionTable
    from metadb.store.metadata_store import MetadataStore


def connect(
    url: str | DatabaseURL = DEFAULT_DATABASE_URL,
    *,
    database_type: str | None = None,
    migrate: bool = True,
    mysql_text: str | None = None,
    statement_timeout: float | None = None,
) -> MetadataStore:
    """Open the metadata store at ``url`` (embedded SQLite by default).

    With ``migrate`` (the default) metadb's schema is brought up to date first: an empty
    database gets the MLMD tables, a database made by ml-metadata is adopted as it is. With
    ``migrate=False`` the schema must already be current (:func:`require_current_schema`).

    ``mysql_text`` says how text is stored on MySQL/MariaDB: "utf8mb4" (the default: correct
    UTF-8, as every utf8mb4 client reads it) or "mlmd-latin1" (as ml-metadata's C++ client
    stores it over its latin1 connection, so that text reads the same in ml-metadata and
    metadb). None takes the URL's ``mlmd_text=latin1|utf8mb4`` parameter; without either,
    the MLMD tables' text decides: "mlmd-latin1" when ml-metadata's latin1 connection wrote
    it, else "utf8mb4" (:mod:`metadb.store.text_mode`). SQLite and PostgreSQL ignore it:
    ml-metadata stores proper UTF-8 there.

    ``statement_timeout`` is how many seconds a statement of the store may run before the
    database cancels it (:class:`~metadb.errors.QueryTimeoutError`); 0 is no limit. None takes
    the URL's ``statement_timeout=SECONDS`` parameter, else 30. SQLite has no such setting.

    Raises:
        SchemaOutOfDateError: ``migrate=False`` and the schema is not current (a
            FailedPreconditionError); the message names the command to run.
        ConfigError: ``mysql_text`` is not a text mode or contradicts the URL's; a negative
            ``statement_timeout``.
        MixedTextEncodingError: no mode given, and the MySQL database holds text written
            both ways (the message names the URL parameter that picks one).
        DatabaseUnreachableError, AuthenticationError, UnsupportedDatabaseError.

    Example::

        store = metadb.connect("postgresql://metadb:pw@db/metadb")
        shared_with_mlmd = metadb.connect("mysql://u:pw@db/mlmd", mysql_text="mlmd-latin1")
    """
    # Imported here, not above: ``metadb.store`` exports this function, and its dataclasses
    # must import without SQLAlchemy (the client uses them).
    from metadb import migrate as migrations
    from metadb.db.database import Database
    from metadb.hints import migrate_up
    from metadb.migrate.bundled import current_version_table, version_table_name
    from metadb.migrate.source import load_source
    from metadb.store.metadata_store import MetadataStore
    from metadb.store.session import resolve_statement_timeout
    from metadb.store.text_mode import detect_text_mode

    db = Database.from_url(url, database_type=database_type)
    try:
        db.url.text_mode(mysql_text)  # a bad mode fails before the schema is touched
        resolve_statement_timeout(db, statement_timeout)  # and so does a bad timeout
        if migrate:
            # What 'metadb migrate up' does: the hints check, then up.
            migrate_up(migrations.MigrateConfig(database=db.url))
        else:
            source = load_source(None, db.url.dialect)
            name = version_table_name(db.url, bundled=True)
            with db.connect() as conn, conn.begin():
                table = current_version_table(conn, source, table=name)
                require_current_schema(db, conn, source=source, table=table)
        detected = detect_text_mode(db, requested=mysql_text, statement_timeout=statement_timeout)
    except BaseException:
        db.dispose()
        raise
    return MetadataStore(db, mysql_text=detected or mysql_text, statement_timeout=statement_timeout)


def require_current_schema(
    db: Database, conn: Connection, *, source: MigrationSource, table: VersionTable
) -> VersionState:
    """The schema version recorded in ``table`` (read on ``conn``, a connection of ``db``),
    if it is current: at ``source``'s newest migration and not dirty.

    Raises:
        SchemaOutOfDateError: migrations are pending, the schema is dirty or has no version,
            or it is newer than ``source``; the message names the command that fixes it.
        DatabaseUnreachableError, StatementError: the version could not be read.

    Example::

        with db.connect() as conn, conn.begin():
            state = require_current_schema(db, conn, source=source, table=VersionTable())
    """
    from sqlalchemy.exc import DBAPIError

    try:
        state = table.read(conn)
    except DBAPIError as exc:
        raise db.translate_statement_error(exc, doing="reading the schema version") from exc
    latest = source.versions[-1] if len(source) else None
    if state.dirty or state.version is None or (latest is not None and state.version != latest):
        raise SchemaOutOfDateError(
            database=db.url.masked(),
            version=state.version,
            pending=[m.version for m in source.after(state.version)],
            dirty=state.dirty,
            latest=latest,
        )
    return state
