"""metadb: a pure-Python ML metadata store and the toolkit that keeps its database healthy."""

from __future__ import annotations

from metadb.db import Database, DatabaseURL, parse_database_url
from metadb.errors import (
    AuthenticationError,
    ChangedMigrationError,
    ConfigError,
    DatabaseError,
    DatabaseUnreachableError,
    DirtyDatabaseError,
    IrreversibleMigrationError,
    LockTimeoutError,
    MetadbError,
    MigrationError,
    MigrationFailedError,
    MissingMigrationError,
    NothingToResumeError,
    SourceError,
    StatementError,
    UnsupportedDatabaseError,
    VersionNotFoundError,
)

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "ChangedMigrationError",
    "ConfigError",
    "Database",
    "DatabaseError",
    "DatabaseURL",
    "DatabaseUnreachableError",
    "DirtyDatabaseError",
    "IrreversibleMigrationError",
    "LockTimeoutError",
    "MetadbError",
    "MigrationError",
    "MigrationFailedError",
    "MissingMigrationError",
    "NothingToResumeError",
    "SourceError",
    "StatementError",
    "UnsupportedDatabaseError",
    "VersionNotFoundError",
    "__version__",
    "parse_database_url",
]
