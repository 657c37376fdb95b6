"""``metadb db init``: set up a database so that the application never runs as a superuser.

With an admin URL, :func:`init_database` creates (each only if missing):

1. the database;
2. the migration role (default ``<database>_migration``), which owns the database and runs
   the DDL of migrations;
3. the application role of the current schema version, ``<prefix>_v<N>`` (default prefix
   ``<database>_app``), with DML only (:mod:`metadb.operator.credentials`). N is the version in
   the version table; a database without one (a new database) gets version 0, and the
   operator creates ``<prefix>_v1`` when it migrates to version 1.

Both credentials are written to secrets; nothing prints a password. A second run changes
nothing (it re-grants, which also covers tables created since). On SQLite the database file is
created and credentials are reported as not applicable.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Any

from metadb.db import Database, DatabaseURL, parse_database_url
from metadb.errors import ConfigError
from metadb.migrate.bundled import version_table_name
from metadb.migrate.tables import VersionTable
from metadb.operator.credentials import (
    Credential,
    MigrationCredential,
    SecretSink,
    credentials_for,
    validate_role_name,
)
from metadb.operator.secrets import FileSecretSink

__all__ = ["DEFAULT_SECRETS_DIR", "InitReport", "init_database"]

log = logging.getLogger(__name__)

#: Where ``metadb db init`` writes credentials unless told otherwise.
DEFAULT_SECRETS_DIR = "metadb-secrets"

_NOT_ROLE = re.compile(r"[^a-z0-9_]+")


@dataclass(frozen=True)
class InitReport:
    """What :func:`init_database` found and did. Holds no password."""

    database: str
    dialect: str
    created_database: bool
    #: False on SQLite: no roles were made.
    credentials_applicable: bool
    #: The schema version the application role is for (0 when the database has none yet).
    version: int | None = None
    migration: MigrationCredential | None = None
    application: Credential | None = None

    def as_dict(self) -> dict[str, Any]:
        """For ``--json``: secret names and what was created; no user names, no passwords."""
        return {
            "database": self.database,
            "dialect": self.dialect,
            "created_database": self.created_database,
            "credentials_applicable": self.credentials_applicable,
            "version": self.version,
            "migration": None
            if self.migration is None
            else {"secret": self.migration.secret_name, "created": self.migration.created},
            "application": None
            if self.application is None
            else {
                "version": self.application.version,
                "secret": self.application.secret_name,
                "created": self.application.created,
            },
        }


def _default_role(database: str, suffix: str) -> str:
    base = _NOT_ROLE.sub("_", os.path.basename(database).lower()).strip("_") or "metadb"
    if base[0].isdigit():
        base = f"_{base}"
    return f"{base[: 41 - len(suffix)]}{suffix}"


def init_database(
    *,
    admin_url: str | DatabaseURL,
    database: str,
    migration_user: str | None = None,
    app_prefix: str | None = None,
    secrets_dir: str | os.PathLike[str] = DEFAULT_SECRETS_DIR,
    sink: SecretSink | None = None,
    database_type: str | None = None,
    migrations_table: str | None = None,
) -> InitReport:
    """Create ``database`` on the server of ``admin_url``, its migration role and the
    application role of its current schema version, writing both credentials to ``sink``
    (default: files in ``secrets_dir``). Idempotent. On SQLite, ``database`` is the file path.

    Raises:
        ConfigError: a role name or prefix is not allowed, or the URL is unusable.
        DatabaseUnreachableError, AuthenticationError: the admin URL does not connect.
        CredentialError: the server refused to create a role or grant (not an admin?).
        SecretStoreError: a secret could not be written.

    Example::

        report = init_database(admin_url="postgresql://postgres@db/postgres", database="shop")
        report.application.secret_name   # "metadb-secrets/shop-v0"
    """
    if not database:
        raise ConfigError("--database must name the database to create")
    admin_location = (
        admin_url
        if isinstance(admin_url, DatabaseURL)
        else parse_database_url(admin_url, database_type=database_type)
    )
    migration_user = validate_role_name(
        migration_user or _default_role(database, "_migration"), what="migration role name"
    )
    app_prefix = validate_role_name(
        app_prefix or _default_role(database, "_app"), what="application role prefix"
    )
    admin = Database(admin_location)
    target = Database(admin_location.with_database(database))
    table = version_table_name(admin_location, migrations_table, bundled=False)
    creds = credentials_for(
        target,
        prefix=app_prefix,
        sink=sink if sink is not None else FileSecretSink(secrets_dir),
        database_name=database,
        protected_tables=(table, f"{table}_history", "alembic_version"),
    )
    try:
        created = creds.create_database_if_missing(admin)
        if created:
            log.info("created database %s", target.url.masked())
        if not creds.applicable:
            return InitReport(database, target.url.dialect, created, False)
        migration = creds.ensure_migration_role(migration_user)
        with target.connect() as conn:
            version = VersionTable(table).read(conn).version
        version = 0 if version is None else version
        application = creds.ensure(version)
        return InitReport(
            database, target.url.dialect, created, True, version, migration, application
        )
    finally:
        admin.dispose()
        target.dispose()
