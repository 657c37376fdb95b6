"""A database metadb works on: its URL, its dialect and a lazily created engine.

This is the seam between metadb and SQLAlchemy's connection errors: :meth:`Database.connect`
turns a failure to connect into :class:`~metadb.errors.DatabaseUnreachableError` or
:class:`~metadb.errors.AuthenticationError`, with the password scrubbed from every message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from metadb.config import DEFAULT_LOCK_TIMEOUT
from metadb.db.dialect import Dialect, dialect_for
from metadb.db.urls import DatabaseURL, parse_database_url
from metadb.errors import AuthenticationError, DatabaseUnreachableError, StatementError


class Database:
    """Connection factory for one database. Constructing it does no I/O.

    Example::

        db = Database.from_url("sqlite:///metadb.sqlite")
        with db.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        db.dispose()
    """

    def __init__(self, url: DatabaseURL, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.url = url
        self.dialect: Dialect = dialect_for(url.dialect)
        self.lock_timeout = lock_timeout
        self._engine: Engine | None = None

    @classmethod
    def from_url(
        cls,
        url: str | DatabaseURL,
        *,
        database_type: str | None = None,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> Database:
        """Parse ``url`` (any form :func:`parse_database_url` accepts) into a Database.

        Raises:
            UnsupportedDatabaseError: the URL is of no form metadb can use.
        """
        if isinstance(url, str):
            url = parse_database_url(url, database_type=database_type)
        return cls(url, lock_timeout=lock_timeout)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            options: dict[str, Any] = self.dialect.engine_options(
                self.url, lock_timeout=self.lock_timeout
            )
            engine = sqlalchemy.create_engine(self.url.url, hide_parameters=True, **options)
            self.dialect.configure_engine(engine, lock_timeout=self.lock_timeout)
            self._engine = engine
        return self._engine

    @contextmanager
    def connect(self, *, autocommit: bool = False) -> Iterator[Connection]:
        """A connection, with connection failures translated to metadb's errors.

        Raises:
            DatabaseUnreachableError: the server cannot be reached or the database is missing,
                or every connection of the pool stayed busy for ``pool_timeout`` seconds.
            AuthenticationError: the server refused the credentials.
        """
        try:
            conn = self.engine.connect()
        except DBAPIError as exc:
            raise self.translate_connect_error(exc) from exc
        except PoolTimeoutError as exc:  # every pooled connection is busy
            raise DatabaseUnreachableError(
                self.url.masked(), f"no free connection in the pool: {_first_line(exc)}"
            ) from exc
        try:
            if autocommit:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn
        finally:
            conn.close()

    def translate_connect_error(self, exc: DBAPIError) -> Exception:
        detail = self.url.scrub(_first_line(exc.orig) if exc.orig is not None else str(exc))
        if self.dialect.is_auth_failure(exc.orig if exc.orig is not None else exc):
            return AuthenticationError(self.url.masked(), detail)
        return DatabaseUnreachableError(self.url.masked(), detail)

    def translate_statement_error(self, exc: DBAPIError, *, doing: str) -> Exception:
        """For statements metadb issues itself (version and history tables)."""
        if exc.connection_invalidated:
            return self.translate_connect_error(exc)
        detail = self.url.scrub(_first_line(exc.orig) if exc.orig is not None else str(exc))
        return StatementError(f"{doing} failed on {self.url.masked()}: {detail}")

    def server_error(self, exc: BaseException) -> str:
        """The driver's message for a failed statement, one line per line, password scrubbed."""
        orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        return self.url.scrub(str(orig).strip())

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __repr__(self) -> str:
        return f"Database({self.url.masked()!r})"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    if text.startswith("connection failed: "):
        text = text[len("connection failed: ") :]
    return " ".join(part.strip() for part in text.splitlines() if part.strip())
