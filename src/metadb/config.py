"""Settings from the environment. The only place metadb reads environment variables.

=========================  ==================================  ==============================
variable                   meaning                             default
=========================  ==================================  ==============================
METADB_DATABASE_URL        the database (any form metadb        sqlite:///metadb.sqlite
                           accepts, see metadb.db.urls)
METADB_DATABASE_TYPE       sqlite, postgresql or mysql, for     (from the URL)
                           DSNs that do not say
METADB_MIGRATIONS_TABLE    golang-migrate's version table       schema_migrations
METADB_LOCK_TIMEOUT        seconds to wait for the migration    60
                           lock
=========================  ==================================  ==============================

Command-line flags override these.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///metadb.sqlite"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="METADB_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    database_type: str | None = None
    migrations_table: str | None = None
    lock_timeout: float = 60.0


def load_settings() -> Settings:
    """Read the settings from the environment (no files are read)."""
    return Settings()
