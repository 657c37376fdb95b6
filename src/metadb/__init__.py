"""metadb: a pure-Python ML metadata store and the toolkit that keeps its database healthy."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from metadb._lazy import lazy_attributes
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

if TYPE_CHECKING:
    from metadb.db.database import Database
    from metadb.db.urls import DatabaseURL, parse_database_url
    from metadb.store.connect import connect
    from metadb.store.metadata_store import MetadataStore

__version__ = "0.1.0"

# A library logs; the application decides where logs go (the CLI shows them with --debug).
logging.getLogger("metadb").addHandler(logging.NullHandler())

# The store and the database layer load SQLAlchemy and the drivers: imported on first use, so
# that ``import metadb.client`` (and ``metadb --version``) stay light.
__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "Database": "metadb.db.database",
        "DatabaseURL": "metadb.db.urls",
        "parse_database_url": "metadb.db.urls",
        "MetadataStore": "metadb.store.metadata_store",
        "connect": "metadb.store.connect",
    },
)

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
