"""The ``metadb_backfill`` table (bundled migration 3): one row per backfill that ever started.

==============  ============================================================================
column          meaning
==============  ============================================================================
state           pending (not started, stopped, or rows appeared behind it), running, done,
                failed
cursor_value    the last source key whose batch committed; a resumed run continues after it
rows_done       rows written so far, by every runner and attempt
rows_estimate   rows_done plus the rows the latest run expected to write when it started
batch_size      the adapted batch size, so that a resumed run starts at it
attempts        how many runs started it
last_error      why the last run failed, or why it is pending again
*_at_ms         started (first run), updated (last batch or state change), finished
==============  ============================================================================

The row is created the first time a backfill runs; until then its status is ``pending``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Row, func, select, update

from metadb.clock import now_ms
from metadb.db.dialect import Dialect
from metadb.runs.tables import backfill as table

TABLE_NAME = table.name
PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
STATES = (PENDING, RUNNING, DONE, FAILED)


@dataclass(frozen=True)
class BackfillState:
    """A backfill's row in ``metadb_backfill`` (or what it would be before the first run)."""

    id: str
    description: str | None
    state: str
    cursor: int | None
    rows_done: int
    rows_estimate: int | None
    batch_size: int | None
    attempts: int
    last_error: str | None
    started_at: datetime | None
    updated_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def never_run(cls, backfill_id: str, description: str | None) -> BackfillState:
        return cls(
            backfill_id, description, PENDING, None, 0, None, None, 0, None, None, None, None
        )

    @classmethod
    def from_row(cls, row: Row[Any]) -> BackfillState:
        return cls(
            id=row.id,
            description=row.description,
            state=row.state,
            cursor=None if row.cursor_value is None else int(row.cursor_value),
            rows_done=int(row.rows_done),
            rows_estimate=None if row.rows_estimate is None else int(row.rows_estimate),
            batch_size=row.batch_size,
            attempts=int(row.attempts),
            last_error=row.last_error,
            started_at=_time(row.started_at_ms),
            updated_at=_time(row.updated_at_ms),
            finished_at=_time(row.finished_at_ms),
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("started_at", "updated_at", "finished_at"):
            value = data[name]
            data[name] = None if value is None else value.isoformat()
        return data


def _time(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def read(conn: Connection, backfill_id: str) -> BackfillState | None:
    row = conn.execute(select(table).where(table.c.id == backfill_id)).first()
    return None if row is None else BackfillState.from_row(row)


def read_all(conn: Connection) -> dict[str, BackfillState]:
    return {
        row.id: BackfillState.from_row(row)
        for row in conn.execute(select(table).order_by(table.c.id))
    }


def ensure(conn: Connection, dialect: Dialect, backfill_id: str, description: str) -> None:
    """Create the backfill's row if no runner did yet (two runners may race to it)."""
    conn.execute(
        dialect.insert_ignoring_duplicates(table).values(
            id=backfill_id,
            description=description,
            state=PENDING,
            rows_done=0,
            attempts=0,
            updated_at_ms=now_ms(),
        )
    )


def lock(conn: Connection, backfill_id: str) -> BackfillState:
    """The row, locked until the transaction ends (SELECT ... FOR UPDATE; SQLite's BEGIN
    IMMEDIATE already excludes other writers). Runners of one backfill queue here."""
    row = conn.execute(select(table).where(table.c.id == backfill_id).with_for_update()).one()
    return BackfillState.from_row(row)


def record_batch(
    conn: Connection, backfill_id: str, *, cursor: int, written: int, batch_size: int
) -> None:
    """Store a batch's outcome in the batch's own transaction: data and cursor commit together."""
    conn.execute(
        update(table)
        .where(table.c.id == backfill_id)
        .values(
            cursor_value=str(cursor),
            rows_done=table.c.rows_done + written,
            batch_size=batch_size,
            updated_at_ms=now_ms(),
        )
    )


def set_values(conn: Connection, backfill_id: str, **values: Any) -> None:
    """Update the row's columns (``updated_at_ms`` is set too)."""
    values.setdefault("updated_at_ms", now_ms())
    conn.execute(update(table).where(table.c.id == backfill_id).values(**values))


def start_values(row: BackfillState, *, expected: int, description: str) -> dict[str, Any]:
    """The columns a starting run sets. A done backfill that has rows to write again walks
    from the start; any other resumes at its cursor."""
    values: dict[str, Any] = {
        "state": RUNNING,
        "description": description,
        "attempts": table.c.attempts + 1,
        "rows_estimate": row.rows_done + expected,
        "last_error": None,
        "finished_at_ms": None,
        "started_at_ms": func.coalesce(table.c.started_at_ms, now_ms()),
    }
    if row.state == DONE:
        values["cursor_value"] = None
    return values
