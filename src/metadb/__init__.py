"""metadb: a pure-Python ML metadata store and the toolkit that keeps its database healthy."""

from __future__ import annotations

from metadb.db import Database, DatabaseURL, parse_database_url
from metadb.errors import (
    AlreadyExistsError,
    AuthenticationError,
    ChangedMigrationError,
    ConfigError,
    DatabaseError,
    DatabaseUnreachableError,
    DirtyDatabaseError,
    FailedPreconditionError,
    InvalidArgumentError,
    IrreversibleMigrationError,
    LockTimeoutError,
    MetadbError,
    MigrationError,
    MigrationFailedError,
    MissingMigrationError,
    NotFoundError,
    NothingToResumeError,
    SourceError,
    StatementError,
    StoreError,
    UnsupportedDatabaseError,
    VersionNotFoundError,
)

__version__ = "0.1.0"

# Imported after __version__: the store's modules read it.
from metadb.store import MetadataStore, connect

__all__ = [
    "AlreadyExistsError",
    "AuthenticationError",
    "ChangedMigrationError",
    "ConfigError",
    "Database",
    "DatabaseError",
    "DatabaseURL",
    "DatabaseUnreachableError",
    "DirtyDatabaseError",
    "FailedPreconditionError",
    "InvalidArgumentError",
    "IrreversibleMigrationError",
    "LockTimeoutError",
    "MetadataStore",
    "MetadbError",
    "MigrationError",
    "MigrationFailedError",
    "MissingMigrationError",
    "NotFoundError",
    "NothingToResumeError",
    "SourceError",
    "StatementError",
    "StoreError",
    "UnsupportedDatabaseError",
    "VersionNotFoundError",
    "__version__",
    "connect",
    "parse_database_url",
]
