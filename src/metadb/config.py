"""Settings from the environment, and every default they fall back to, declared once here.

The only place metadb reads environment variables: the CLI calls :func:`load_settings` and
hands what it read to the library (``MigrateConfig.from_settings``); the library never reads
the environment behind its caller. Every other default (the ``Database``'s lock timeout, the
migration guards, the hints thresholds, the CLI's help texts) is read from the constants and
fields below.

=========================  ==================================  ==============================
variable                   meaning                             default
=========================  ==================================  ==============================
METADB_DATABASE_URL        the database (any form metadb        ``DEFAULT_DATABASE_URL``
                           accepts, see metadb.db.urls)
METADB_DATABASE_TYPE       sqlite, postgresql or mysql, for     (from the URL)
                           DSNs that do not say
METADB_MIGRATIONS_TABLE    golang-migrate's version table       ``DEFAULT_MIGRATIONS_TABLE``
METADB_LOCK_TIMEOUT        seconds to wait for the migration    ``DEFAULT_LOCK_TIMEOUT``
                           lock
METADB_AUTH_TOKEN          the bearer token ``metadb serve``    (none: no auth)
                           requires (never printed)
METADB_STATEMENT_LOCK_     seconds a migration statement may    ``DEFAULT_STATEMENT_LOCK_
TIMEOUT                    wait for a table lock (0: forever)   TIMEOUT``
METADB_STATEMENT_TIMEOUT   seconds a migration statement may    ``DEFAULT_STATEMENT_TIMEOUT``
                           run (not DDL on MySQL)               (0: no limit)
METADB_LOCK_RETRIES        retries of a statement that gave     ``DEFAULT_LOCK_RETRIES``
                           up waiting for a table lock
METADB_LOCK_RETRY_BACKOFF  seconds before the first retry;      ``DEFAULT_LOCK_RETRY_BACKOFF``
                           doubled for each next one
METADB_HINTS_LARGE_TABLE_  rows from which a table is "large"   ``HintSettings`` fields
ROWS                       for the hints rules
METADB_HINTS_HEAVY_WRITES  inserts+updates+deletes a second
_PER_SECOND                from which a table is busy
METADB_HINTS_DATA_CHECK_   seconds a hints data check (NULLs,
BUDGET_SECONDS             duplicates) may take
METADB_HINTS_WRITE_SAMPLE  seconds write activity is sampled
_SECONDS
METADB_HINTS_LONG_         age from which a transaction
TRANSACTION_SECONDS        holding a lock is long-running
=========================  ==================================  ==============================

Command-line flags override these.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///metadb.sqlite"
#: golang-migrate's version table; metadb's history table is ``<table>_history``.
DEFAULT_MIGRATIONS_TABLE = "schema_migrations"
#: The version table of metadb's bundled schema (:mod:`metadb.migrate.bundled` says why it is
#: not golang-migrate's).
BUNDLED_MIGRATIONS_TABLE = "metadb_schema_migrations"
#: Seconds a store or runs statement may run before the database cancels it (0: no limit).
DEFAULT_QUERY_TIMEOUT = 30.0
#: Seconds to wait for the migration lock (the advisory lock one run holds).
DEFAULT_LOCK_TIMEOUT = 60.0
#: The runtime guards of migration statements (see :mod:`metadb.migrate.guards`): seconds a
#: statement may wait for a table lock (0: forever) and run (0: no limit), and the retries
#: after a lock timeout, the first after ``DEFAULT_LOCK_RETRY_BACKOFF`` seconds.
DEFAULT_STATEMENT_LOCK_TIMEOUT = 5.0
DEFAULT_STATEMENT_TIMEOUT = 0.0
DEFAULT_LOCK_RETRIES = 3
DEFAULT_LOCK_RETRY_BACKOFF = 1.0
#: uvicorn's log levels, for ``metadb serve --log-level``.
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
#: The largest request body ``metadb serve`` reads by default (``--max-body-bytes``): 8 MiB.
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024


class HintSettings(BaseModel):
    """Thresholds of the hints rules (:mod:`metadb.hints`).

    Declared here, not in :mod:`metadb.hints`, so that ``MigrateConfig`` carries them without
    the migration engine importing the hints engine.

    Example::

        HintSettings(large_table_rows=100_000, data_check_budget_seconds=2)
    """

    model_config = ConfigDict(frozen=True)

    #: A table with at least this many rows (estimated) is "large": blocking work on it is slow.
    large_table_rows: int = Field(default=1_000_000, ge=0)
    #: A table with at least this many inserts, updates and deletes a second has "heavy writes".
    heavy_writes_per_second: float = Field(default=50.0, ge=0)
    #: Each data check (NULLs, duplicates, row count on SQLite) stops after this many seconds
    #: and reports "unknown (timed out)".
    data_check_budget_seconds: float = Field(default=5.0, gt=0)
    #: How long write activity is sampled. PostgreSQL publishes a session's counters at most
    #: once a second, so windows shorter than about 2 s see a busy table's writes only partly.
    write_sample_seconds: float = Field(default=2.0, ge=0)
    #: A transaction that has held a lock on a table this long is "long-running": the
    #: migration's lock would queue behind it, and the application's traffic behind that.
    long_transaction_seconds: float = Field(default=10.0, ge=0)

    @classmethod
    def from_settings(cls, settings: Settings) -> HintSettings:
        """The thresholds configured by METADB_HINTS_* environment variables."""
        return cls(
            large_table_rows=settings.hints_large_table_rows,
            heavy_writes_per_second=settings.hints_heavy_writes_per_second,
            data_check_budget_seconds=settings.hints_data_check_budget_seconds,
            write_sample_seconds=settings.hints_write_sample_seconds,
            long_transaction_seconds=settings.hints_long_transaction_seconds,
        )


_HINTS = HintSettings()


class Settings(BaseSettings):
    """What ``METADB_*`` environment variables set (see the table above)."""

    model_config = SettingsConfigDict(env_prefix="METADB_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    database_type: str | None = None
    #: None: the URL's ``x-migrations-table``, else ``DEFAULT_MIGRATIONS_TABLE``.
    migrations_table: str | None = None
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    auth_token: SecretStr | None = None
    statement_lock_timeout: float = DEFAULT_STATEMENT_LOCK_TIMEOUT
    statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT
    lock_retries: int = DEFAULT_LOCK_RETRIES
    lock_retry_backoff: float = DEFAULT_LOCK_RETRY_BACKOFF
    hints_large_table_rows: int = _HINTS.large_table_rows
    hints_heavy_writes_per_second: float = _HINTS.heavy_writes_per_second
    hints_data_check_budget_seconds: float = _HINTS.data_check_budget_seconds
    hints_write_sample_seconds: float = _HINTS.write_sample_seconds
    hints_long_transaction_seconds: float = _HINTS.long_transaction_seconds


def load_settings() -> Settings:
    """Read the settings from the environment (no files are read)."""
    return Settings()
