"""Opening a store: :func:`connect`."""

from __future__ import annotations

from metadb import migrate as migrations
from metadb.config import DEFAULT_DATABASE_URL
from metadb.db.database import Database
from metadb.db.urls import DatabaseURL
from metadb.errors import FailedPreconditionError
from metadb.store.metadata_store import MetadataStore
from metadb.store.session import resolve_statement_timeout


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
    ``migrate=False`` the schema must already be current.

    ``mysql_text`` says how text is stored on MySQL/MariaDB: "utf8mb4" (the default: correct
    UTF-8, as every utf8mb4 client reads it) or "mlmd-latin1" (as ml-metadata's C++ client
    stores it over its latin1 connection, so that text reads the same in ml-metadata and
    metadb). None takes the URL's ``mlmd_text=latin1|utf8mb4`` parameter, else "utf8mb4".
    SQLite and PostgreSQL ignore it: ml-metadata stores proper UTF-8 there.

    ``statement_timeout`` is how many seconds a statement of the store may run before the
    database cancels it (:class:`~metadb.errors.QueryTimeoutError`); 0 is no limit. None takes
    the URL's ``statement_timeout=SECONDS`` parameter, else 30. SQLite has no such setting.

    Raises:
        FailedPreconditionError: ``migrate=False`` and the schema is not current.
        ConfigError: ``mysql_text`` is not a text mode or contradicts the URL's; a negative
            ``statement_timeout``.
        DatabaseUnreachableError, AuthenticationError, UnsupportedDatabaseError.

    Example::

        store = metadb.connect("postgresql://metadb:pw@db/metadb")
        shared_with_mlmd = metadb.connect("mysql://u:pw@db/mlmd", mysql_text="mlmd-latin1")
    """
    db = Database.from_url(url, database_type=database_type)
    db.url.text_mode(mysql_text)  # a bad mode fails before the schema is touched
    resolve_statement_timeout(db, statement_timeout)  # and so does a bad timeout
    config = migrations.MigrateConfig(database=db.url)
    if migrate:
        migrations.up(config)
    else:
        status = migrations.status(config)
        if status.pending or status.dirty or status.version is None:
            raise FailedPreconditionError(
                f"the database schema is not current (version {status.version}, "
                f"{len(status.pending)} pending{', dirty' if status.dirty else ''}): run "
                "'metadb migrate up', or connect with migrate=True"
            )
    return MetadataStore(db, mysql_text=mysql_text, statement_timeout=statement_timeout)
