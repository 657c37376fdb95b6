"""Opening a run store: :func:`connect`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from metadb.config import DEFAULT_DATABASE_URL
from metadb.store.connect import connect as connect_store

if TYPE_CHECKING:
    from metadb.db.urls import DatabaseURL
    from metadb.runs.store import RunStore


def connect(
    url: str | DatabaseURL = DEFAULT_DATABASE_URL,
    *,
    database_type: str | None = None,
    migrate: bool = True,
    statement_timeout: float | None = None,
) -> RunStore:
    """Open the run store at ``url`` (embedded SQLite by default).

    The schema is handled exactly as :func:`metadb.connect` does (the runs tables are in
    metadb's migrations): with ``migrate`` (the default) it is brought up to date first; with
    ``migrate=False`` it must already be current. ``statement_timeout`` is
    :func:`metadb.connect`'s (seconds; 0: no limit; None: the URL's, else 30).

    Raises:
        FailedPreconditionError: ``migrate=False`` and the schema is not current.
        DatabaseUnreachableError, AuthenticationError, UnsupportedDatabaseError.

    Example::

        runs = metadb.runs.connect("postgresql://metadb:pw@db/metadb")
        page = runs.search_runs(sort="created_at desc")
    """
    from metadb.runs.store import RunStore  # not above: keeps ``import metadb.runs`` light

    store = connect_store(
        url, database_type=database_type, migrate=migrate, statement_timeout=statement_timeout
    )
    return RunStore(store.database, statement_timeout=statement_timeout)
