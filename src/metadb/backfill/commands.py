"""One function per ``metadb backfill`` command; the CLI only parses arguments and calls these.

Example::

    from metadb import backfill

    report = backfill.run_backfills("postgresql://app@db/metadb")
    for result in report.results:
        print(result.id, result.state, result.rows_written)
    print(backfill.verify_backfills("postgresql://app@db/metadb"))  # rows still missing, per id

A server starts the pending ones without waiting for them::

    handle = backfill.start_pending_backfills_in_background(database)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy
from sqlalchemy.exc import DBAPIError

from metadb.backfill import state
from metadb.backfill.definition import Backfill
from metadb.backfill.runner import (
    BackfillReporter,
    BackfillResult,
    BackfillRunner,
    BatchSizing,
    OnBatch,
)
from metadb.backfill.state import BackfillState
from metadb.backfill.system_annotations import SYSTEM_BACKFILLS
from metadb.db.database import Database
from metadb.db.urls import DatabaseURL
from metadb.errors import BackfillFailedError, StatementError, UnknownBackfillError

log = logging.getLogger(__name__)

#: A database as every function here accepts it: a URL (any form metadb reads) or a Database,
#: which is then used as it is and not disposed.
DatabaseLike = str | DatabaseURL | Database


@dataclass(frozen=True)
class BackfillReport:
    """What :func:`run_backfills` did, one result per backfill it ran."""

    results: list[BackfillResult]

    @property
    def failed(self) -> list[BackfillResult]:
        return [r for r in self.results if r.state == state.FAILED]

    def as_dict(self) -> dict[str, Any]:
        return {"results": [r.as_dict() for r in self.results], "failed": len(self.failed)}


@dataclass(frozen=True)
class Verification:
    """How many rows a backfill still has to write, counted (an anti-join count)."""

    id: str
    missing: int

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "missing": self.missing}


def list_backfills(*, backfills: Sequence[Backfill] | None = None) -> list[Backfill]:
    """The known backfills (metadb's built-in ones unless ``backfills`` is given). No I/O."""
    return list(SYSTEM_BACKFILLS if backfills is None else backfills)


def run_backfills(
    database: DatabaseLike,
    ids: Sequence[str] | None = None,
    *,
    backfills: Sequence[Backfill] | None = None,
    sizing: BatchSizing | None = None,
    reporter: BackfillReporter | None = None,
    on_batch: OnBatch | None = None,
) -> BackfillReport:
    """Run the backfills ``ids``, or all of them, until none misses a row. Each counts its
    missing rows first: one that misses none and is done is left as it is; the others resume at
    their stored cursor (a done one walks again from the start). Every selected backfill runs
    even if an earlier one fails.

    Raises:
        UnknownBackfillError: an id names no backfill; nothing ran.
        BackfillFailedError: a backfill failed; its state says so and the next run resumes it.
        StatementError: the database has no ``metadb_backfill`` table ('metadb migrate up').
        DatabaseUnreachableError, AuthenticationError: no connection.
    """
    selected = _select(list_backfills(backfills=backfills), ids)
    with _opened(database) as db:
        with _reading(db, "reading backfill state"):
            pass  # the tables exist: failures from here on are the backfills' own
        runner = BackfillRunner(db, sizing=sizing, reporter=reporter, on_batch=on_batch)
        report = BackfillReport([runner.run(b) for b in selected])
    if report.failed:
        raise BackfillFailedError(report.results)
    return report


def backfill_status(
    database: DatabaseLike, *, backfills: Sequence[Backfill] | None = None
) -> list[BackfillState]:
    """The stored state of every known backfill (``pending`` for one that never ran), then of
    any unknown one the table holds (a backfill of another metadb version). Changes nothing.

    Raises:
        StatementError: the database has no ``metadb_backfill`` table.
    """
    known = list_backfills(backfills=backfills)
    with _opened(database) as db, _reading(db, "reading backfill state") as conn:
        stored = state.read_all(conn)
    rows = [
        stored.pop(b.id) if b.id in stored else BackfillState.never_run(b.id, b.description)
        for b in known
    ]
    return rows + list(stored.values())


def verify_backfills(
    database: DatabaseLike,
    ids: Sequence[str] | None = None,
    *,
    backfills: Sequence[Backfill] | None = None,
) -> list[Verification]:
    """Count the rows each backfill (``ids``, or all) still has to write. Changes nothing.

    Raises:
        UnknownBackfillError: an id names no backfill.
        StatementError: a count failed (the runs tables are missing: 'metadb migrate up').
    """
    selected = _select(list_backfills(backfills=backfills), ids)
    with _opened(database) as db, _reading(db, "counting missing rows") as conn:
        return [Verification(b.id, b.count_missing(conn, db.dialect)) for b in selected]


@dataclass
class BackgroundBackfills:
    """The handle :func:`start_pending_backfills_in_background` returns."""

    thread: threading.Thread
    #: Set when the thread ends: the report (failed backfills are in it), or the error that
    #: stopped it before any backfill ran (unreachable database, no migrations).
    report: BackfillReport | None = None
    error: BaseException | None = None
    _finished: threading.Event = field(default_factory=threading.Event)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has ended."""
        return self._finished.wait(timeout)

    @property
    def done(self) -> bool:
        return self._finished.is_set()


def start_pending_backfills_in_background(
    database: DatabaseLike,
    *,
    backfills: Sequence[Backfill] | None = None,
    sizing: BatchSizing | None = None,
) -> BackgroundBackfills:
    """Run the backfills (:func:`run_backfills`) in a daemon thread, for servers and programs that
    start metadb: start-up does not wait for them, and nothing they do raises into it. A failure
    is logged (logger ``metadb.backfill``) and stored in the backfill's status; the next start,
    or 'metadb backfill run', resumes it.

    Example::

        handle = start_pending_backfills_in_background("postgresql://app@db/metadb")
        ...
        handle.join(timeout=5)  # only if the caller wants to wait
    """
    handle = BackgroundBackfills(threading.Thread())

    def work() -> None:
        try:
            handle.report = run_backfills(database, backfills=backfills, sizing=sizing)
        except BackfillFailedError as exc:
            handle.report = BackfillReport(exc.results)
            log.error("background backfills: %s", exc)
        except Exception as exc:  # nothing may escape into start-up
            handle.error = exc
            log.error("background backfills did not run: %s", exc, exc_info=exc)
        finally:
            handle._finished.set()

    handle.thread = threading.Thread(target=work, name="metadb-backfills", daemon=True)
    try:
        handle.thread.start()
    except RuntimeError as exc:  # no thread can be started (interpreter shutting down)
        handle.error = exc
        handle._finished.set()
        log.error("background backfills did not start: %s", exc)
    return handle


def _select(known: Sequence[Backfill], ids: Sequence[str] | None) -> list[Backfill]:
    if ids is None:
        return list(known)
    by_id = {b.id: b for b in known}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise UnknownBackfillError(unknown, list(by_id))
    return [by_id[i] for i in dict.fromkeys(ids)]


@contextmanager
def _opened(database: DatabaseLike) -> Iterator[Database]:
    if isinstance(database, Database):
        yield database
        return
    db = Database.from_url(database)
    try:
        yield db
    finally:
        db.dispose()


@contextmanager
def _reading(db: Database, doing: str) -> Iterator[sqlalchemy.Connection]:
    """A connection in a transaction; a missing table or a failed statement becomes a
    StatementError that says what to do."""
    with db.connect() as conn:
        try:
            with conn.begin():
                if not sqlalchemy.inspect(conn).has_table(state.TABLE_NAME):
                    raise StatementError(
                        f"{db.url.masked()} has no {state.TABLE_NAME} table: the database is "
                        "not migrated to metadb's schema version 3. Run 'metadb migrate up' first"
                    )
                yield conn
        except DBAPIError as exc:
            raise db.translate_statement_error(exc, doing=doing) from exc
