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
METADB_AUTH_TOKEN          the bearer token ``metadb serve``    (none: no auth)
                           requires (never printed)
METADB_STATEMENT_LOCK_     seconds a migration statement may    5
TIMEOUT                    wait for a table lock (0: forever)
METADB_STATEMENT_TIMEOUT   seconds a migration statement may    0 (no limit)
                           run (not DDL on MySQL)
METADB_LOCK_RETRIES        retries of a statement that gave     3
                           up waiting for a table lock
METADB_LOCK_RETRY_BACKOFF  seconds before the first retry;      1
                           doubled for each next one
METADB_HINTS_LARGE_TABLE_  rows from which a table is "large"   1000000
ROWS                       for the hints rules
METADB_HINTS_HEAVY_WRITES  inserts+updates+deletes a second     50
_PER_SECOND                from which a table is busy
METADB_HINTS_DATA_CHECK_   seconds a hints data check (NULLs,   5
BUDGET_SECONDS             duplicates) may take
METADB_HINTS_WRITE_SAMPLE  seconds write activity is sampled    2
_SECONDS
METADB_HINTS_LONG_         age from which a transaction         10
TRANSACTION_SECONDS        holding a lock is long-running
=========================  ==================================  ==============================

Command-line flags override these.
"""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///metadb.sqlite"
#: uvicorn's log levels, for ``metadb serve --log-level``.
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
#: The largest request body ``metadb serve`` reads by default (``--max-body-bytes``): 8 MiB.
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="METADB_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    database_type: str | None = None
    migrations_table: str | None = None
    lock_timeout: float = 60.0
    auth_token: SecretStr | None = None
    statement_lock_timeout: float = 5.0
    statement_timeout: float = 0.0
    lock_retries: int = 3
    lock_retry_backoff: float = 1.0
    hints_large_table_rows: int = 1_000_000
    hints_heavy_writes_per_second: float = 50.0
    hints_data_check_budget_seconds: float = 5.0
    hints_write_sample_seconds: float = 2.0
    hints_long_transaction_seconds: float = 10.0


def load_settings() -> Settings:
    """Read the settings from the environment (no files are read)."""
    return Settings()
