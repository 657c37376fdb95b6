"""The thresholds of the hints check, from :class:`metadb.config.Settings` or set directly."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from metadb.config import Settings


class HintSettings(BaseModel):
    """Thresholds of the hints rules.

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
