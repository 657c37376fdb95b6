"""Opening a store: :func:`connect`."""

from __future__ import annotations

from metadb.config import DEFAULT_DATABASE_URL
from metadb.db.database import Database
from metadb.db.urls import DatabaseURL
from metadb.errors import FailedPreconditionError
from metadb.store.metadata_store import MetadataStore


def connect(
    url: str | DatabaseURL = DEFAULT_DATABASE_URL,
    *,
    database_type: str | None = None,
    migrate: bool = True,
) -> MetadataStore:
    """Open the metadata store at ``url`` (embedded SQLite by default).

    With ``migrate`` (the default) metadb's schema is brought up to date first: an empty
    database gets the MLMD tables, a database made by ml-metadata is adopted as it is. With
    ``migrate=False`` the schema must already be current.

    Raises:
        FailedPreconditionError: ``migrate=False`` and the schema is not current.
        DatabaseUnreachableError, AuthenticationError, UnsupportedDatabaseError.

    Example::

        store = metadb.connect("postgresql://metadb:pw@db/metadb")
    """
    from metadb import migrate as migrations

    db = Database.from_url(url, database_type=database_type)
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
    return MetadataStore(db)
