"""metadb: a pure-Python ML metadata store and the toolkit that keeps its database healthy."""

from __future__ import annotations

import logging

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
from metadb.store import MetadataStore, connect

__version__ = "0.1.0"

# A library logs; the application decides where logs go (the CLI shows them with --debug).
logging.getLogger("metadb").addHandler(logging.NullHandler())

# Imported after __version__: the store's modules read it.

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
