"""Runs backfills: keyset batches, each its own transaction, sized to a target duration, with
their state in ``metadb_backfill`` so that a stopped or crashed run resumes where it stopped.

One batch, in one transaction::

    [PostgreSQL: wait for the backfill's advisory lock, outside the transaction]
    BEGIN (SERIALIZABLE on PostgreSQL, IMMEDIATE on SQLite)
      lock the backfill's state row and read its cursor
      process_batch(after=cursor, limit=size)     -- writes only missing rows
      on_batch hook                              -- raising here rolls the batch back
      store the new cursor, rows written and size in the state row
    COMMIT

A crash anywhere in it rolls the whole batch back, cursor included; the next run redoes it.
The run's other writes to the state row (start, sweep, end) are short transactions at the
default isolation, and its counts read on a connection of their own.
Runners of the same backfill queue on the state row (and the advisory lock), so they take turns
batch by batch and continue each other's cursor. A batch that loses a race with another writer
(serialization failure, deadlock, lock wait timeout: :meth:`Dialect.is_retryable`) rolls back
and runs again after a short, growing, jittered pause.

A run ends when a walk finds no source row after the cursor and a count finds no row missing.
Rows committed behind the cursor while it walked (a transaction that took its key early and
committed late) make that count non-zero: the runner then walks again from the start, cheaply,
since only missing rows are written; after ``max_sweeps`` such walks it leaves the backfill
pending with the count in ``last_error``, for ``verify`` to show and the next run to finish.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from metadb.backfill import state
from metadb.backfill.definition import Backfill, Batch
from metadb.backfill.state import BackfillState
from metadb.clock import now_ms
from metadb.db.database import Database
from metadb.db.retry import RetryPolicy

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class BatchSizing:
    """How batch sizes adapt: each batch aims at ``target_seconds``, growing at most twofold and
    shrinking at most fourfold from one batch to the next, within ``minimum``..``maximum``."""

    target_seconds: float = 0.5
    initial: int = 1000
    minimum: int = 100
    maximum: int = 250_000

    def next_size(self, size: int, *, scanned: int, seconds: float) -> int:
        if scanned < size:  # the walk's last, short batch says nothing about speed
            return size
        wanted = size * 2 if seconds <= 0 else int(size * self.target_seconds / seconds)
        bounded = min(size * 2, max(size // 4, wanted))
        return max(self.minimum, min(self.maximum, bounded))

    def clamp(self, size: int | None) -> int:
        return max(self.minimum, min(self.maximum, size or self.initial))


@dataclass(frozen=True)
class BatchInfo:
    """What the ``on_batch`` hook is told about the batch being committed."""

    backfill_id: str
    #: 1 for the first batch of this run.
    number: int
    #: The cursor the batch started after (None: from the start).
    after: int | None
    batch: Batch


#: Called inside each batch's transaction, after its rows are written and before the commit.
#: Raising rolls the batch back and fails the run (tests use it to crash mid-batch).
OnBatch = Callable[[BatchInfo], None]


class BackfillReporter(Protocol):
    """Receives progress from the runner, in the running thread (the CLI draws a bar)."""

    def started(self, backfill: Backfill, *, done: int, total: int) -> None:
        """A run began: ``done`` rows written before it, ``total`` expected in all."""

    def progress(self, backfill: Backfill, *, done: int, total: int) -> None:
        """A batch committed."""

    def finished(self, backfill: Backfill, result: BackfillResult) -> None:
        """The run ended (done, failed or pending)."""


class NullReporter:
    def started(self, backfill: Backfill, *, done: int, total: int) -> None:
        pass

    def progress(self, backfill: Backfill, *, done: int, total: int) -> None:
        pass

    def finished(self, backfill: Backfill, result: BackfillResult) -> None:
        pass


@dataclass(frozen=True)
class BackfillResult:
    """How one run of one backfill ended."""

    id: str
    #: done, failed, or pending (rows appeared behind the cursor faster than it swept).
    state: str
    #: Rows this run wrote.
    rows_written: int
    batches: int
    seconds: float
    #: Rows still missing at the end (0 when done; not counted after a failure: None).
    missing: int | None
    #: The cursor stored when the run ended: a new run resumes after it.
    cursor: int | None
    error: str | None = None
    retries: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Progress:
    written: int = 0
    batches: int = 0
    retries: int = 0
    started: float = field(default_factory=time.perf_counter)


class BackfillRunner:
    """Runs backfills against one database. Constructing it does no I/O.

    Example::

        runner = BackfillRunner(Database.from_url(url))
        result = runner.run(SYSTEM_BACKFILLS[0])
        print(result.state, result.rows_written)
    """

    def __init__(
        self,
        db: Database,
        *,
        sizing: BatchSizing | None = None,
        retry: RetryPolicy | None = None,
        reporter: BackfillReporter | None = None,
        on_batch: OnBatch | None = None,
        max_sweeps: int = 2,
    ) -> None:
        self.db = db
        self.dialect = db.dialect
        self.sizing = sizing or BatchSizing()
        self.retry = retry or RetryPolicy()
        self.reporter = reporter or NullReporter()
        self.on_batch = on_batch
        self.max_sweeps = max_sweeps

    def run(self, backfill: Backfill) -> BackfillResult:
        """Run ``backfill`` until no row is missing, resuming at its stored cursor.

        Never raises for a failure of the backfill itself: the result (and the state row) say
        ``failed`` with the error. KeyboardInterrupt and SystemExit leave it ``pending`` at the
        last committed cursor and propagate.

        Raises:
            DatabaseUnreachableError, AuthenticationError: no connection at all.
        """
        progress = _Progress()
        with self.db.connect() as conn:
            try:
                result = self._run(conn, backfill, progress)
            except Exception as exc:
                result = self._failed(backfill, progress, exc)
            except BaseException:
                self._record_after_error(backfill.id, outcome=state.PENDING, error="interrupted")
                raise
        self.reporter.finished(backfill, result)
        return result

    # -- one run -----------------------------------------------------------------------------

    def _run(self, conn: Connection, backfill: Backfill, progress: _Progress) -> BackfillResult:
        row, expected = self._start(conn, backfill, progress)
        if row is None:  # done, and nothing is missing: the state row stays as it is
            return self._result(conn, backfill, progress, state.DONE, 0)
        size = self.sizing.clamp(row.batch_size)
        total = row.rows_done + expected
        self.reporter.started(backfill, done=row.rows_done, total=total)
        sweeps = 0
        while True:
            size = self._walk(conn, backfill, size, total, progress)
            missing = self._count_missing(conn, backfill)
            if not missing or sweeps >= self.max_sweeps:
                break
            sweeps += 1
            log.info("backfill %s: %d rows behind its cursor; walking again", backfill.id, missing)
            self._set_state(conn, progress, backfill, cursor_value=None)
        if missing:
            error = (
                f"{missing} rows were still missing after {sweeps + 1} walks (written behind "
                "the cursor while it ran); run the backfill again to give them their rows"
            )
            self._set_state(conn, progress, backfill, state=state.PENDING, last_error=error)
            return self._result(conn, backfill, progress, state.PENDING, missing, error)
        self._set_state(conn, progress, backfill, state=state.DONE, finished_at_ms=now_ms())
        return self._result(conn, backfill, progress, state.DONE, 0)

    def _start(
        self, conn: Connection, backfill: Backfill, progress: _Progress
    ) -> tuple[BackfillState | None, int]:
        """Mark the backfill running; return its row as it was and the rows it expects to
        write. A done backfill is counted exactly, and left untouched (None) if it misses
        nothing; the others are estimated (the walk's end counts them exactly)."""

        def ensure() -> BackfillState:
            state.ensure(conn, self.dialect, backfill.id, backfill.description)
            found = state.read(conn, backfill.id)
            assert found is not None
            return found

        before = self._transaction(conn, progress, ensure)
        if before.state == state.DONE or backfill.estimate is None:
            expected = self._count_missing(conn, backfill)
            if before.state == state.DONE and not expected:
                return None, 0
        else:
            estimate = backfill.estimate
            expected = self._reading(
                conn, lambda reader: estimate(reader, self.dialect, before.cursor)
            )

        def mark_running() -> BackfillState:
            row = state.lock(conn, backfill.id)
            values = state.start_values(row, expected=expected, description=backfill.description)
            state.set_values(conn, backfill.id, **values)
            return row

        return self._transaction(conn, progress, mark_running), expected

    def _set_state(
        self, conn: Connection, progress: _Progress, backfill: Backfill, **values: Any
    ) -> None:
        self._transaction(conn, progress, lambda: state.set_values(conn, backfill.id, **values))

    def _result(
        self,
        conn: Connection,
        backfill: Backfill,
        progress: _Progress,
        outcome: str,
        missing: int,
        error: str | None = None,
    ) -> BackfillResult:
        return BackfillResult(
            id=backfill.id,
            state=outcome,
            rows_written=progress.written,
            batches=progress.batches,
            seconds=round(time.perf_counter() - progress.started, 3),
            missing=missing,
            cursor=self._read(conn, backfill.id).cursor,
            error=error,
            retries=progress.retries,
        )

    def _walk(
        self, conn: Connection, backfill: Backfill, size: int, total: int, progress: _Progress
    ) -> int:
        """Batches until none is left after the cursor; returns the adapted batch size."""
        while True:
            batch, done, seconds = self._batch(conn, backfill, size, progress)
            if batch.scanned == 0:
                return size
            progress.written += batch.written
            total = max(total, done)
            self.reporter.progress(backfill, done=done, total=total)
            size = self.sizing.next_size(size, scanned=batch.scanned, seconds=seconds)

    def _batch(
        self, conn: Connection, backfill: Backfill, size: int, progress: _Progress
    ) -> tuple[Batch, int, float]:
        number = progress.batches + 1

        def attempt() -> tuple[Batch, int, float]:
            with self.dialect.session_lock(conn, f"metadb_backfill:{backfill.id}"):
                with self.dialect.begin_serializable(conn):
                    row = state.lock(conn, backfill.id)
                    began = time.perf_counter()
                    batch = backfill.process_batch(conn, self.dialect, row.cursor, size)
                    if self.on_batch is not None and batch.scanned:
                        self.on_batch(BatchInfo(backfill.id, number, row.cursor, batch))
                    if batch.cursor is not None:
                        state.record_batch(
                            conn,
                            backfill.id,
                            cursor=batch.cursor,
                            written=batch.written,
                            batch_size=size,
                        )
                seconds = time.perf_counter() - began  # the commit counts, the queue does not
            return batch, row.rows_done + batch.written, seconds

        result = self._retrying(conn, progress, attempt)
        if result[0].scanned:
            progress.batches = number
        return result

    def _count_missing(self, conn: Connection, backfill: Backfill) -> int:
        return self._reading(conn, lambda reader: backfill.count_missing(reader, self.dialect))

    def _read(self, conn: Connection, backfill_id: str) -> BackfillState:
        row = self._reading(conn, lambda reader: state.read(reader, backfill_id))
        assert row is not None  # created by _start
        return row

    # -- transactions and retries ------------------------------------------------------------

    def _transaction(self, conn: Connection, progress: _Progress, action: Callable[[], T]) -> T:
        """A write to the state row alone, outside batches. Not SERIALIZABLE: its row lock is
        enough, and a SERIALIZABLE one would fail whenever a batch of another runner changed
        the row first, as long as that runner keeps batching."""

        def attempt() -> T:
            with self.dialect.begin_write(conn):
                return action()

        return self._retrying(conn, progress, attempt)

    def _reading(self, conn: Connection, read: Callable[[Connection], T]) -> T:
        """A read (counts, estimates) on a connection of its own, at the database's default
        isolation: the run's connection may be set to take SQLite's write lock on BEGIN."""

        def attempt() -> T:
            with self.db.connect() as reader, reader.begin():
                return read(reader)

        return self._retrying(conn, _Progress(), attempt)

    def _retrying(self, conn: Connection, progress: _Progress, attempt: Callable[[], T]) -> T:
        tries = 0
        while True:
            tries += 1
            try:
                return attempt()
            except DBAPIError as exc:
                cause = exc.orig if exc.orig is not None else exc
                if (
                    conn.invalidated
                    or not self.dialect.is_retryable(cause)
                    or tries >= self.retry.attempts
                ):
                    raise
                progress.retries += 1
                log.debug("retrying after %s (try %d)", self.db.server_error(exc), tries)
                time.sleep(self.retry.delay(tries))

    # -- failures ----------------------------------------------------------------------------

    def _failed(self, backfill: Backfill, progress: _Progress, exc: Exception) -> BackfillResult:
        message = self._describe(exc)
        log.error("backfill %s failed: %s", backfill.id, message, exc_info=exc)
        cursor = self._record_after_error(backfill.id, outcome=state.FAILED, error=message)
        return BackfillResult(
            id=backfill.id,
            state=state.FAILED,
            rows_written=progress.written,
            batches=progress.batches,
            seconds=round(time.perf_counter() - progress.started, 3),
            missing=None,
            cursor=cursor,
            error=message,
            retries=progress.retries,
        )

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, DBAPIError):
            return f"the database refused a statement: {self.db.server_error(exc)}"
        return f"{type(exc).__name__}: {exc}"

    def _record_after_error(self, backfill_id: str, *, outcome: str, error: str) -> int | None:
        """Best effort, on a new connection (the run's may be broken): the caller reports the
        error whether or not it could be stored."""
        try:
            with self.db.connect() as conn, conn.begin():
                state.set_values(conn, backfill_id, state=outcome, last_error=error[:4000])
                row = state.read(conn, backfill_id)
                return None if row is None else row.cursor
        except Exception:
            log.warning("could not record the state of backfill %s", backfill_id, exc_info=True)
            return None
