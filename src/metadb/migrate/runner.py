"""Applies migrations one version at a time, safely under concurrent runs and failures.

A run holds the dialect's migration lock (PostgreSQL advisory lock, MySQL GET_LOCK, SQLite lock
file) from start to end, and every step re-reads the version before it acts. A step runs one of
two ways:

* **In a transaction** (PostgreSQL and SQLite): the file's statements, the new version and the
  history row commit together. A failure rolls all of it back; the database is never dirty.
* **Tracked** (MySQL, whose DDL commits implicitly, or a file marked ``metadb:no-transaction``):
  the version is first set dirty, then each statement runs on its own and its progress is
  recorded in the history row. A failure leaves the version dirty with the failed statement
  recorded, and :meth:`MigrationRunner.resume` continues from there once the cause is fixed.

Every statement runs under the runtime guards of :mod:`metadb.migrate.guards`: a bounded wait
for table locks (and optionally a bounded run time). A statement that gives up on a lock is
retried with growing pauses: the whole step in a transaction (it was rolled back, nothing is
half-done), or only the failed statement in a tracked step (the earlier ones committed).
"""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from metadb.clock import utcnow
from metadb.config import DEFAULT_MIGRATIONS_TABLE
from metadb.db.database import Database
from metadb.db.dialect import whoami
from metadb.errors import (
    BaselineError,
    ChangedMigrationError,
    DirtyDatabaseError,
    IrreversibleMigrationError,
    MigrationFailedError,
    MissingMigrationError,
    NothingToResumeError,
    VersionNotFoundError,
)
from metadb.migrate.bundled import LegacyTables, history_table_name, move_legacy_tables
from metadb.migrate.guards import GuardedRun, StatementGuards
from metadb.migrate.reporter import NullReporter, Reporter
from metadb.migrate.source import Migration, MigrationFile, MigrationSource
from metadb.migrate.tables import (
    HistoryRow,
    HistoryTable,
    VersionState,
    VersionTable,
    prefix_checksum,
)

log = logging.getLogger(__name__)

#: A file to apply and the version the database is at once it has run.
_Step = tuple[MigrationFile, int | None]


@dataclass(frozen=True)
class StepResult:
    """One migration file applied."""

    version: int
    name: str
    direction: str
    path: str
    statements: int
    duration_ms: int
    transactional: bool
    version_after: int | None
    resumed_at_statement: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _StatementFailed(Exception):
    def __init__(self, index: int, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.index = index
        self.cause = cause


class _LockTimedOut(Exception):
    """A statement (index) gave up waiting for a lock: worth retrying."""

    def __init__(self, index: int, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.index = index
        self.cause = cause


class MigrationRunner:
    """Runs the migrations of one source against one database.

    Library callers normally use the functions in :mod:`metadb.migrate` instead.
    """

    def __init__(
        self,
        db: Database,
        source: MigrationSource,
        *,
        table: str = DEFAULT_MIGRATIONS_TABLE,
        reporter: Reporter | None = None,
        guards: StatementGuards | None = None,
        legacy: LegacyTables | None = None,
    ) -> None:
        self.db = db
        self.source = source
        self.versions = VersionTable(table)
        self.history = HistoryTable(history_table_name(table))
        #: Where an earlier metadb kept this version (:mod:`metadb.migrate.bundled`): read
        #: from there until :meth:`locked` moves it over.
        self.legacy = legacy
        if legacy is not None and legacy.current:
            self.versions, self.history = legacy.versions, legacy.history
        self._lock_name = table
        self.reporter = reporter or NullReporter()
        self.guards = guards or StatementGuards()
        self.guarded = GuardedRun(db, self.guards)

    # -- commands ----------------------------------------------------------------------------

    def up(self, steps: int | None = None, *, allow_changed: bool = False) -> list[StepResult]:
        """Apply pending migrations, all or ``steps`` of them."""
        with self.locked():
            self.check_applied(allow_changed=allow_changed)
            return self._walk(self._next_up, steps)

    def down(self, steps: int | None = 1) -> list[StepResult]:
        """Revert applied migrations, newest first: ``steps`` of them, or all for None."""
        with self.locked():
            self.check_applied(allow_changed=True)
            return self._walk(self._next_down, steps)

    def goto(self, version: int, *, allow_changed: bool = False) -> list[StepResult]:
        """Migrate up or down until the database is at ``version``."""
        self._require(version)
        with self.locked():
            state = self.check_applied(allow_changed=allow_changed)
            if state.version is None or state.version < version:
                return self._walk(lambda s: self._next_up(s, until=version), None)
            return self._walk(lambda s: self._next_down(s, until=version), None)

    def force(self, version: int) -> VersionState:
        """Set the version and clear the dirty flag, without running anything."""
        migration = self._require(version)
        with self.locked(), self.db.connect() as conn, self.db.dialect.begin_write(conn):
            before = self.versions.read(conn)
            note = f"forced from version {before.version} (dirty={before.dirty})"
            self._record_version(conn, migration, "force", note)
        return VersionState(version, False)

    def baseline(self, version: int, *, note: str, if_unversioned: bool = False) -> bool:
        """Record ``version`` as applied to a database whose schema was made without metadb.

        Returns whether it recorded anything: with ``if_unversioned`` a database that already
        has a version (another run adopted it first) is left alone instead of raising.

        Raises:
            VersionNotFoundError: the source has no such version.
            BaselineError: the database already has a version.
        """
        migration = self._require(version)
        with self.locked(), self.db.connect() as conn, self.db.dialect.begin_write(conn):
            state = self.versions.read(conn)
            if state.version is not None or state.dirty:
                if if_unversioned:
                    return False
                raise BaselineError(state.version, state.dirty)
            self._record_version(conn, migration, "baseline", note)
        log.warning("baselined the database at version %s: %s", version, note)
        return True

    def _require(self, version: int) -> Migration:
        migration = self.source.get(version)
        if migration is None:
            raise VersionNotFoundError(version, self.source.location, self.source.versions)
        return migration

    def _record_version(
        self, conn: Connection, migration: Migration, direction: str, note: str
    ) -> None:
        """Set the version to ``migration``'s, clean, running nothing, and say why in history."""
        self.versions.write(conn, migration.version, dirty=False)
        self.history.record(
            conn,
            **self._row_values(migration.up, direction, migration.version),
            status=HistoryTable.SUCCEEDED,
            finished_at=utcnow(),
            duration_ms=0,
            note=note,
        )

    def resume(self) -> StepResult:
        """Finish the migration whose failure left the database dirty, at the failed statement.

        Raises:
            NothingToResumeError: the database is not dirty, or metadb has no record of the run.
            ChangedMigrationError: a statement that already ran has changed in the file.
        """
        with self.locked():
            with self.db.connect() as conn:
                state = self.versions.read(conn)
                rows = self.history.rows(conn, limit=1)
            if not state.dirty:
                raise NothingToResumeError(f"the database is not dirty (version {state.version})")
            last = rows[0] if rows else None
            if last is None or last.status not in HistoryTable.RESUMABLE:
                raise NothingToResumeError(
                    "metadb has no record of the failed run; check the schema by hand and run "
                    "'metadb migrate force VERSION'"
                )
            file = self._file_of(last)
            if file is None:
                raise MissingMigrationError(last.version, self.source.location)
            done = [file.statement_at(i)[0] for i in range(last.statements_done)]
            if prefix_checksum(done) != last.done_checksum:
                raise ChangedMigrationError([(last.version, str(file.path))])
            target = state.version
            return self._apply_tracked(file, target, start_at=last.statements_done, resumed=last.id)

    # -- checks ------------------------------------------------------------------------------

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the migration lock and make sure the version and history tables exist."""
        with self.db.connect():
            pass  # fail fast, with a clear error, before waiting for any lock
        with self.db.dialect.migration_lock(
            self.db.engine,
            self.db.url,
            table=self._lock_name,
            timeout=self.db.lock_timeout,
            on_wait=self.reporter.lock_wait,
        ):
            if self.legacy is not None:
                self._move_legacy(self.legacy)
            with self.db.connect() as conn:
                # Checked first without the write lock, which SQLite would queue for.
                missing = not (self.versions.exists(conn) and self.history.exists(conn))
            if missing:
                with self.db.connect() as conn, self.db.dialect.begin_write(conn):
                    self.versions.create(conn)
                    self.history.create(conn)
            yield

    def _move_legacy(self, legacy: LegacyTables) -> None:
        versions = VersionTable(self._lock_name)
        history = HistoryTable(history_table_name(self._lock_name))
        move_legacy_tables(self.db, legacy, versions=versions, history=history)
        self.versions, self.history, self.legacy = versions, history, None

    def check_applied(self, *, allow_changed: bool) -> VersionState:
        """Refuse to go on when the database is dirty, or at a version the source lacks, or
        (unless ``allow_changed``) when an applied migration's file has changed."""
        with self.db.connect() as conn:
            state = self.versions.read(conn)
            if state.dirty:
                raise self.dirty_error(conn, state)
            recorded = self.history.applied_checksums(conn)
        if state.version is not None and self.source.get(state.version) is None:
            raise MissingMigrationError(state.version, self.source.location)
        if not allow_changed:
            changed = self.changed_files(state, recorded)
            if changed:
                raise ChangedMigrationError(changed)
        return state

    def changed_files(self, state: VersionState, recorded: dict[int, str]) -> list[tuple[int, str]]:
        changed = []
        for migration in self.source.at_or_below(state.version):
            checksum = recorded.get(migration.version)
            if checksum is not None and checksum != migration.up.checksum:
                changed.append((migration.version, str(migration.up.path)))
        return sorted(changed)

    def dirty_error(self, conn: Connection, state: VersionState) -> DirtyDatabaseError:
        rows = self.history.rows(conn, limit=1)
        last = rows[0] if rows else None
        if last is None or last.status not in HistoryTable.RESUMABLE:
            return DirtyDatabaseError(
                version=state.version,
                path=None,
                statement_index=None,
                statement=None,
                error=None,
                resumable=False,
            )
        statement = None
        file = self._file_of(last)
        if file is not None and last.statements_done < file.statement_count:
            statement = file.statement_at(last.statements_done)[0]
        return DirtyDatabaseError(
            version=state.version,
            path=last.path,
            statement_index=last.statements_done,
            statement=statement,
            error=last.error or "the run stopped before it finished (killed or disconnected)",
            resumable=True,
        )

    def _file_of(self, row: HistoryRow) -> MigrationFile | None:
        """The file a history row applied, if the source still has it."""
        migration = self.source.get(row.version)
        if migration is None:
            return None
        return migration.up if row.direction == "up" else migration.down

    # -- stepping ----------------------------------------------------------------------------

    def _walk(
        self, pick: Callable[[VersionState], _Step | None], steps: int | None
    ) -> list[StepResult]:
        """Apply what ``pick`` chooses for the current version, ``steps`` times or until None."""
        results: list[StepResult] = []
        while steps is None or len(results) < steps:
            with self.db.connect() as conn:
                state = self.versions.read(conn)
                if state.dirty:
                    raise self.dirty_error(conn, state)
            chosen = pick(state)
            if chosen is None:
                break
            file, target = chosen
            result = self._apply(file, target, expected=state)
            if result is not None:
                results.append(result)
        return results

    def _next_up(self, state: VersionState, *, until: int | None = None) -> _Step | None:
        pending = self.source.after(state.version)
        if not pending or (until is not None and pending[0].version > until):
            return None
        return pending[0].up, pending[0].version

    def _next_down(self, state: VersionState, *, until: int | None = None) -> _Step | None:
        applied = self.source.at_or_below(state.version)
        if not applied or (until is not None and applied[0].version <= until):
            return None
        migration: Migration = applied[0]
        if migration.down is None:
            raise IrreversibleMigrationError(migration.version, str(migration.up.path))
        return migration.down, self.source.previous(migration.version)

    def _apply(
        self, file: MigrationFile, target: int | None, *, expected: VersionState
    ) -> StepResult | None:
        if file.transactional and self.db.dialect.transactional_ddl:
            return self._apply_in_transaction(file, target, expected=expected)
        return self._apply_tracked(file, target, start_at=0, resumed=None)

    def _apply_in_transaction(
        self, file: MigrationFile, target: int | None, *, expected: VersionState
    ) -> StepResult | None:
        started, clock = utcnow(), time.monotonic()
        total = file.statement_count
        self.reporter.step_started(file, total)
        timeouts = 0
        while True:
            try:
                if not self._try_in_transaction(file, target, expected, started, clock, timeouts):
                    return None  # moved by a tool outside metadb's lock: walk again
                break
            except _LockTimedOut as timed_out:
                timeouts += 1
                if timeouts < self.guards.attempts:
                    self.guarded.wait_to_retry(file, timed_out.index, timeouts)
                    continue
                error = self.db.server_error(timed_out.cause)
                self._record_rolled_back(file, target, started, clock, timed_out, error, timeouts)
                raise self.guarded.failure(
                    file, timed_out.index, error, dirty=False, now=expected.version
                ) from timed_out.cause
            except _StatementFailed as failed:
                error = self.db.server_error(failed.cause)
                self._record_rolled_back(file, target, started, clock, failed, error, timeouts)
                log.error("%s statement %d failed: %s", file.path, failed.index + 1, error)
                raise self._failure(file, failed, error, dirty=False, now=expected.version) from (
                    failed.cause
                )
        return self._result(file, target, total, clock, transactional=True)

    def _try_in_transaction(
        self,
        file: MigrationFile,
        target: int | None,
        expected: VersionState,
        started: datetime,
        clock: float,
        timeouts: int,
    ) -> bool:
        """One attempt at a step in a transaction; False when the version moved meanwhile."""
        total = file.statement_count
        with self.db.connect() as conn:
            try:
                with self.db.dialect.begin_guarded(conn, **self.guarded.options):
                    # Re-read under the write lock: the version may have moved since it was read.
                    if self.versions.read(conn) != expected:
                        return False
                    for index in range(total):
                        self._execute(conn, file, index)
                        self.reporter.statement_done(file, index + 1, total)
                    self.versions.write(conn, target, dirty=False)
                    self.history.record(
                        conn,
                        **self._row_values(file, file.direction, target),
                        status=HistoryTable.SUCCEEDED,
                        started_at=started,
                        finished_at=utcnow(),
                        duration_ms=int((time.monotonic() - clock) * 1000),
                        statements_done=total,
                        statements_total=total,
                        done_checksum=self._prefix(file, total),
                        note=self.guarded.note(timeouts),
                    )
            except DBAPIError as exc:
                # SQLite waits for the write lock at BEGIN IMMEDIATE, before any statement.
                if self.db.dialect.is_lock_timeout(exc.orig or exc):
                    raise _LockTimedOut(0, exc) from exc
                raise
        return True

    def _record_rolled_back(
        self,
        file: MigrationFile,
        target: int | None,
        started: datetime,
        clock: float,
        failed: _StatementFailed | _LockTimedOut,
        error: str,
        timeouts: int,
    ) -> None:
        try:
            with (
                self.db.connect() as book,
                self.db.dialect.begin_guarded(book, **self.guarded.options),
            ):
                self.history.record(
                    book,
                    **self._row_values(file, file.direction, target),
                    status=HistoryTable.ROLLED_BACK,
                    started_at=started,
                    finished_at=utcnow(),
                    duration_ms=int((time.monotonic() - clock) * 1000),
                    statements_done=0,
                    statements_total=file.statement_count,
                    error=f"statement {failed.index + 1}: {error}",
                    note=self.guarded.note(timeouts),
                )
        except DBAPIError as exc:
            # After a lock timeout on SQLite the holder still has the write lock the record
            # needs: say so rather than hide the migration's own error behind this one.
            if not self.db.dialect.is_lock_timeout(exc.orig or exc):
                raise
            log.warning("could not record the failed attempt in the history: %s", exc.orig)

    def _apply_tracked(
        self, file: MigrationFile, target: int | None, *, start_at: int, resumed: int | None
    ) -> StepResult:
        started, clock = utcnow(), time.monotonic()
        total = file.statement_count
        self.reporter.step_started(file, total)
        done_texts = [file.statement_at(i)[0] for i in range(start_at)]
        with (
            self.db.connect() as book,
            self.db.connect(autocommit=True) as run,
            self.db.dialect.guarded_session(run, **self.guarded.options),
        ):
            with book.begin():
                row = self.history.record(
                    book,
                    **self._row_values(file, file.direction, target),
                    status=HistoryTable.RUNNING,
                    started_at=started,
                    statements_done=start_at,
                    statements_total=total,
                    done_checksum=prefix_checksum(done_texts),
                    resumed_from=resumed,
                )
                self.versions.write(book, target, dirty=True)
            timeouts = 0
            try:
                for index in range(start_at, total):
                    timeouts += self._execute_retrying(run, file, index)
                    done_texts.append(file.statement_at(index)[0])
                    with book.begin():
                        self.history.progress(
                            book, row, done=index + 1, done_checksum=prefix_checksum(done_texts)
                        )
                    self.reporter.statement_done(file, index + 1, total)
            except (_StatementFailed, _LockTimedOut) as failed:
                error = self.db.server_error(failed.cause)
                timed_out = isinstance(failed, _LockTimedOut)
                note = self.guarded.note(timeouts + (self.guards.attempts if timed_out else 0))
                with book.begin():
                    self.history.finish(
                        book,
                        row,
                        status=HistoryTable.FAILED,
                        started_at=started,
                        error=error,
                        note=note,
                    )
                if isinstance(failed, _LockTimedOut):
                    raise self.guarded.failure(
                        file, failed.index, error, dirty=True, now=target
                    ) from failed.cause
                log.error("%s statement %d failed: %s", file.path, failed.index + 1, error)
                raise self._failure(file, failed, error, dirty=True, now=target) from failed.cause
            with book.begin():
                self.versions.write(book, target, dirty=False)
                self.history.finish(
                    book,
                    row,
                    status=HistoryTable.SUCCEEDED,
                    started_at=started,
                    note=self.guarded.note(timeouts),
                )
        return self._result(file, target, total, clock, transactional=False, resumed_at=start_at)

    def _execute_retrying(self, run: Connection, file: MigrationFile, index: int) -> int:
        """Run statement ``index`` of a tracked step, retrying it after lock timeouts; returns
        how many lock timeouts it met. Raises _LockTimedOut once the attempts are used up."""
        for attempt in range(1, self.guards.attempts + 1):
            try:
                if file.python:
                    with (
                        self.db.connect() as py,
                        self.db.dialect.begin_guarded(py, **self.guarded.options),
                    ):
                        self._execute(py, file, index)
                else:
                    self._execute(run, file, index)
                return attempt - 1
            except _LockTimedOut as timed_out:
                if attempt == self.guards.attempts:
                    raise
                self.guarded.wait_to_retry(file, timed_out.index, attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _execute(self, conn: Connection, file: MigrationFile, index: int) -> None:
        try:
            if file.python:
                _call_python(file, conn)
            else:
                text, _line = file.statement_at(index)
                conn.execution_options(no_parameters=True).exec_driver_sql(text)
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise self.db.translate_connect_error(exc) from exc
            if self.db.dialect.is_lock_timeout(exc.orig or exc):
                raise _LockTimedOut(index, exc) from exc
            raise _StatementFailed(index, exc) from exc
        except Exception as exc:
            if not file.python:
                raise
            raise _StatementFailed(index, exc) from exc

    # -- helpers -----------------------------------------------------------------------------

    def _row_values(
        self, file: MigrationFile, direction: str, target: int | None
    ) -> dict[str, Any]:
        return {
            "version": file.version,
            "name": file.name,
            "direction": direction,
            "target_version": target,
            "path": str(file.path),
            "checksum": file.checksum,
            "applied_by": whoami(),
        }

    @staticmethod
    def _prefix(file: MigrationFile, count: int) -> str:
        return prefix_checksum([file.statement_at(i)[0] for i in range(count)])

    def _failure(
        self,
        file: MigrationFile,
        failed: _StatementFailed,
        error: str,
        *,
        dirty: bool,
        now: int | None,
    ) -> MigrationFailedError:
        text, line = file.statement_at(failed.index)
        return MigrationFailedError(
            path=str(file.path),
            version=file.version,
            direction=file.direction,
            statement_index=failed.index,
            statements_total=file.statement_count,
            line=line,
            statement=text,
            server_error=error,
            dirty=dirty,
            version_now=now,
        )

    def _result(
        self,
        file: MigrationFile,
        target: int | None,
        total: int,
        clock: float,
        *,
        transactional: bool,
        resumed_at: int = 0,
    ) -> StepResult:
        result = StepResult(
            version=file.version,
            name=file.name,
            direction=file.direction,
            path=str(file.path),
            statements=total,
            duration_ms=int((time.monotonic() - clock) * 1000),
            transactional=transactional,
            version_after=target,
            resumed_at_statement=resumed_at,
        )
        log.info(
            "migrated %s %s %s in %d ms (%d statements, now at version %s)",
            file.direction,
            file.version,
            file.name,
            result.duration_ms,
            total,
            target,
        )
        self.reporter.step_finished(file, result.duration_ms)
        return result


def _call_python(file: MigrationFile, conn: Connection) -> None:
    spec = importlib.util.spec_from_file_location(
        f"metadb_migration_{file.version}_{file.direction}", file.path
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    getattr(module, file.direction)(conn)
