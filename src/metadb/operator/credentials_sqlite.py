"""SQLite has no login roles: per-version credentials are not applicable.

:meth:`ensure` raises :class:`~metadb.errors.CredentialsNotApplicableError`; the read-only calls
answer as if no role existed, so the operator's loop can run over SQLite databases unchanged.
"""

from __future__ import annotations

from pathlib import Path

from metadb.db import Database
from metadb.errors import CredentialsNotApplicableError
from metadb.operator.credentials import (
    CREDENTIALS,
    Credential,
    MigrationCredential,
    RevokeOutcome,
    VersionCredentials,
)


@CREDENTIALS.register("sqlite")
class SqliteCredentials(VersionCredentials):
    applicable = False

    def ensure(self, version: int) -> Credential:
        raise CredentialsNotApplicableError("SQLite")

    def ensure_migration_role(self, user: str) -> MigrationCredential:
        raise CredentialsNotApplicableError("SQLite")

    def existing_versions(self) -> list[int]:
        return []

    def sessions(self, version: int) -> int:
        return 0

    def revoke(self, version: int, *, kill_sessions: bool = False) -> RevokeOutcome:
        return RevokeOutcome(
            version, self.username(version), False, 0, "not applicable: SQLite has no login roles"
        )

    def create_database_if_missing(self, admin: Database) -> bool:
        """Create the database file (and its directory) unless it exists."""
        path = self.database.url.database
        if path is None or self.database.url.is_memory or Path(path).is_file():
            return False
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with self.database.connect() as conn:
            conn.exec_driver_sql("PRAGMA user_version")  # opening the file creates it
        return True
