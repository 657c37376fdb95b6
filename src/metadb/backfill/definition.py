"""What a backfill is: an id, a description, how to count the rows it still has to write, and how
to write one keyset batch of them.

A backfill is a data migration that may run while the application runs: it walks a source table
in batches of consecutive keys, writes only the rows that are missing, and can stop and resume at
any batch. Its two functions must be idempotent and independent of any other backfill's order::

    def count_missing(conn, dialect):
        return conn.execute(select(func.count()).select_from(run).where(missing)).scalar_one()

    def process_batch(conn, dialect, after, limit):
        last, scanned = keyset_range(conn, run.c.id, after, limit)
        if last is None:
            return Batch(cursor=None, scanned=0, written=0)
        ...  # INSERT ... SELECT over after < id <= last, anti-joined to what exists
        return Batch(cursor=last, scanned=scanned, written=result.rowcount)

    thing = Backfill("things.fill", "Give every run its thing.", count_missing, process_batch)

The runner (:class:`~metadb.backfill.runner.BackfillRunner`) calls ``process_batch`` inside the
batch's transaction and stores the returned cursor with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select, true

from metadb.db.dialect import Dialect


@dataclass(frozen=True)
class Batch:
    """What one batch did."""

    #: The last source key the batch covered; None when no source row was left after ``after``.
    cursor: int | None
    #: Source rows the batch covered (0 ends the walk).
    scanned: int
    #: Rows it wrote: only missing rows are written, so a batch that is run again writes 0.
    written: int


#: Counts the rows the backfill still has to write (an anti-join count, exact at that moment).
CountMissing = Callable[[Connection, Dialect], int]
#: Writes the missing rows of the first ``limit`` source rows after key ``after`` (None: from the
#: start), inside the transaction the runner opened; must not commit.
ProcessBatch = Callable[[Connection, Dialect, "int | None", int], Batch]
#: Cheaply estimates the rows still to write after key ``after`` (typically the source rows
#: after it): the progress bar's total, so that a run need not count missing rows twice.
Estimate = Callable[[Connection, Dialect, "int | None"], int]


@dataclass(frozen=True)
class Backfill:
    """One backfill: a plain definition, no I/O. See the module docstring for an example."""

    #: Stable identifier, the key of its row in ``metadb_backfill`` (at most 128 characters).
    id: str
    #: One sentence saying what it gives to which rows.
    description: str
    count_missing: CountMissing
    process_batch: ProcessBatch
    #: None: the runner counts missing rows instead (exact, but a whole anti-join).
    estimate: Estimate | None = None


def keyset_range(
    conn: Connection, key: ColumnElement[Any], after: int | None, limit: int
) -> tuple[int | None, int]:
    """The last key and the row count of the next batch: the first ``limit`` rows whose ``key``
    is greater than ``after`` (all rows for None), read through the key's index.

    Returns ``(None, 0)`` when no row is left.
    """
    keys = (
        select(key.label("k"))
        .where(key > after if after is not None else true())
        .order_by(key)
        .limit(limit)
        .subquery()
    )
    scanned, last = conn.execute(select(func.count(), func.max(keys.c.k))).one()
    return (None if last is None else int(last)), int(scanned)


def key_range(key: ColumnElement[Any], after: int | None, last: int) -> ColumnElement[bool]:
    """The condition selecting one batch's rows: ``after < key <= last``."""
    upper = key <= last
    return upper if after is None else (key > after) & upper
