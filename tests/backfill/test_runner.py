"""The runner: batches that crash roll back and are redone, stored cursors are honoured, two
runners and concurrent writers never duplicate a row or surface an error, and runs added
meanwhile end up covered. On SQLite, PostgreSQL and MySQL unless a test says otherwise."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa

from metadb import backfill
from metadb.backfill import BackfillFailedError, BatchInfo, BatchSizing
from metadb.backfill.runner import BackfillRunner
from metadb.backfill.system_annotations import CREATED_BY, NAME
from metadb.db import Database
from metadb.runs import system, tables
from tests.backfill.conftest import (
    add_plain_runs,
    annotation_count,
    annotations,
    expected,
    run_ids,
    run_row,
    state_row,
)


def fixed(size: int) -> BatchSizing:
    return BatchSizing(initial=size, minimum=size, maximum=size)


def name_rows(db: Database) -> int:
    return sum(1 for (_, key) in annotations(db) if key == system.NAME)


def test_a_crash_mid_batch_rolls_that_batch_back_and_the_next_run_resumes_at_its_cursor(
    mdb: Database,
):
    add_plain_runs(mdb, 55)
    ids = run_ids(mdb)

    def crash_in_third_batch(info: BatchInfo) -> None:
        if info.number == 3:
            raise RuntimeError("simulated crash")

    with pytest.raises(BackfillFailedError, match="simulated crash") as failure:
        backfill.run_backfills(mdb, [NAME.id], sizing=fixed(10), on_batch=crash_in_third_batch)

    result = failure.value.results[0]
    assert (result.state, result.rows_written, result.cursor) == ("failed", 20, ids[19])
    assert "it resumes after run id" in str(failure.value)
    stored = state_row(mdb, NAME.id)
    assert (stored.state, stored.cursor_value, stored.rows_done) == ("failed", str(ids[19]), 20)
    assert "RuntimeError: simulated crash" in stored.last_error
    assert name_rows(mdb) == 20  # the third batch's rows rolled back with its cursor

    afters: list[int | None] = []
    report = backfill.run_backfills(
        mdb, [NAME.id], sizing=fixed(10), on_batch=lambda info: afters.append(info.after)
    )

    assert afters[0] == ids[19]  # not from the start
    assert afters == [ids[19], ids[29], ids[39], ids[49]]
    assert report.results[0].rows_written == 35
    stored = state_row(mdb, NAME.id)
    assert (stored.state, stored.rows_done, stored.attempts) == ("done", 55, 2)
    assert stored.last_error is None
    assert annotations(mdb) == {k: v for k, v in expected(mdb).items() if k[1] == system.NAME}


def test_a_killed_process_loses_only_its_open_batch(mdb: Database, migrated_url: str):
    add_plain_runs(mdb, 45)
    ids = run_ids(mdb)
    script = textwrap.dedent(
        f"""
        import sys, time
        from metadb import backfill
        def hang_in_third_batch(info):
            if info.number == 3:  # rows written, transaction open
                print("in batch 3", flush=True)
                time.sleep(600)
        sizing = backfill.BatchSizing(initial=10, minimum=10, maximum=10)
        backfill.run_backfills(sys.argv[1], [{NAME.id!r}], sizing=sizing,
                               on_batch=hang_in_third_batch)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, migrated_url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "in batch 3"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)

    stored = state_row(mdb, NAME.id)
    assert (stored.state, stored.cursor_value, stored.rows_done) == ("running", str(ids[19]), 20)
    assert name_rows(mdb) == 20

    afters: list[int | None] = []
    report = backfill.run_backfills(
        mdb, [NAME.id], sizing=fixed(10), on_batch=lambda info: afters.append(info.after)
    )

    assert afters[0] == ids[19]
    assert report.results[0].rows_written == 25
    assert state_row(mdb, NAME.id).rows_done == 45
    assert name_rows(mdb) == 45


def test_an_interrupted_run_is_left_pending_at_its_last_committed_batch(mdb: Database):
    add_plain_runs(mdb, 30)
    ids = run_ids(mdb)

    def interrupt(info: BatchInfo) -> None:
        if info.number == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backfill.run_backfills(mdb, [CREATED_BY.id], sizing=fixed(10), on_batch=interrupt)

    stored = state_row(mdb, CREATED_BY.id)
    assert (stored.state, stored.cursor_value, stored.rows_done) == ("pending", str(ids[9]), 10)
    backfill.run_backfills(mdb)
    assert annotations(mdb) == expected(mdb)


def test_two_runners_and_a_run_writer_never_duplicate_annotations_or_fail(
    mdb: Database, migrated_url: str
):
    initial = 400
    add_plain_runs(mdb, initial)
    errors: list[BaseException] = []
    reports: list[backfill.BackfillReport] = []
    start = threading.Barrier(3)

    def runner() -> None:
        db = Database.from_url(migrated_url, lock_timeout=30)  # a process of its own, in effect
        try:
            start.wait()
            reports.append(backfill.run_backfills(db, sizing=fixed(15)))
        except BaseException as exc:
            errors.append(exc)
        finally:
            db.dispose()

    def run_writer() -> None:
        """Creates runs with their system annotations in one transaction, as RunStore does."""
        db = Database.from_url(migrated_url, lock_timeout=30)
        try:
            start.wait()
            for i in range(60):
                _create_run_with_annotations(db, initial + i)
        except BaseException as exc:
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=t) for t in (runner, runner, run_writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert errors == []
    assert len(reports) == 2
    assert annotations(mdb) == expected(mdb)
    assert annotation_count(mdb) == 2 * (initial + 60)
    for definition in (CREATED_BY, NAME):
        written = [
            r.rows_written for report in reports for r in report.results if r.id == definition.id
        ]
        assert sum(written) == initial  # each row written once, by one of the two
        assert state_row(mdb, definition.id).rows_done == initial


def _create_run_with_annotations(db: Database, i: int) -> None:
    row = run_row(i)
    for tries in range(20):
        try:
            with db.connect() as conn, db.dialect.begin_write(conn):
                run_id = conn.execute(tables.run.insert().values(**row)).inserted_primary_key[0]
                values = system.system_annotations(
                    created_by=row["created_by"], extra_data=row["extra_data"], pipeline_spec=None
                )
                conn.execute(
                    tables.annotation.insert(),
                    [
                        {"run_id": run_id, "annotation_key": k, "annotation_value": v}
                        for k, v in values.items()
                    ],
                )
            return
        except sa.exc.DBAPIError as exc:  # the writer, too, may lose a deadlock on MySQL
            if tries == 19 or not db.dialect.is_retryable(exc.orig or exc):
                raise


class InsertsRunsAfterBatch:
    """A reporter that, once the given batch has committed, adds runs without annotations: some
    after the cursor and one behind it (a transaction that took a low id and committed late)."""

    def __init__(self, db: Database, *, after_batch: int, behind_id: int, new_ids: list[int]):
        self.db = db
        self.after_batch = after_batch
        self.behind_id = behind_id
        self.new_ids = new_ids
        self.batches = 0

    def started(self, definition: backfill.Backfill, *, done: int, total: int) -> None:
        pass

    def progress(self, definition: backfill.Backfill, *, done: int, total: int) -> None:
        self.batches += 1
        if self.batches == self.after_batch:
            rows = [run_row(i, id=i) for i in [self.behind_id, *self.new_ids]]
            with self.db.connect() as conn, conn.begin():
                conn.execute(tables.run.insert(), rows)

    def finished(self, definition: backfill.Backfill, result: Any) -> None:
        pass


def test_runs_inserted_while_a_backfill_runs_are_covered_before_it_ends(mdb: Database):
    add_runs_with_gaps = [run_row(i, id=i) for i in range(2, 82, 2)]  # 40 runs, even ids
    with mdb.connect() as conn, conn.begin():
        conn.execute(tables.run.insert(), add_runs_with_gaps)
    reporter = InsertsRunsAfterBatch(mdb, after_batch=3, behind_id=3, new_ids=[500, 501])

    report = backfill.run_backfills(mdb, [NAME.id], sizing=fixed(10), reporter=reporter)

    result = report.results[0]
    assert (result.state, result.missing, result.rows_written) == ("done", 0, 43)
    assert backfill.verify_backfills(mdb, [NAME.id])[0].missing == 0
    assert annotations(mdb) == {k: v for k, v in expected(mdb).items() if k[1] == system.NAME}


def test_runs_added_after_a_backfill_is_done_are_counted_by_verify_and_filled_by_run(
    mdb: Database,
):
    add_plain_runs(mdb, 10)
    backfill.run_backfills(mdb)
    add_plain_runs(mdb, 3)  # a writer that does not add the system annotations

    assert [v.missing for v in backfill.verify_backfills(mdb)] == [3, 3]
    assert [s.state for s in backfill.backfill_status(mdb)] == ["done", "done"]
    report = backfill.run_backfills(mdb)

    assert [r.rows_written for r in report.results] == [3, 3]
    assert [v.missing for v in backfill.verify_backfills(mdb)] == [0, 0]
    assert annotations(mdb) == expected(mdb)


def test_rows_appearing_behind_the_cursor_on_every_walk_leave_the_backfill_pending(
    mdb: Database,
):
    with mdb.connect() as conn, conn.begin():
        conn.execute(tables.run.insert(), [run_row(i, id=i) for i in range(100, 130)])

    class AddsOneBehindPerWalk(InsertsRunsAfterBatch):
        """When the first walk ends (30 rows done) and when the sweep has written the run added
        then (31), a run with a low id appears: each time behind the cursor."""

        seen: ClassVar[set[int]] = set()

        def progress(self, definition: backfill.Backfill, *, done: int, total: int) -> None:
            if done in (30, 31) and done not in self.seen:
                self.seen.add(done)
                with self.db.connect() as conn, conn.begin():
                    conn.execute(tables.run.insert().values(**run_row(0, id=done - 29)))

    reporter = AddsOneBehindPerWalk(mdb, after_batch=0, behind_id=0, new_ids=[])
    runner = BackfillRunner(mdb, sizing=fixed(10), reporter=reporter, max_sweeps=1)

    result = runner.run(NAME)

    assert (result.state, result.missing, result.rows_written) == ("pending", 1, 31)
    stored = state_row(mdb, NAME.id)
    assert stored.state == "pending" and "run the backfill again" in stored.last_error
    assert backfill.run_backfills(mdb, [NAME.id]).results[0].state == "done"
    assert backfill.verify_backfills(mdb, [NAME.id])[0].missing == 0


def test_batch_sizes_adapt_to_the_target_duration_within_bounds():
    sizing = BatchSizing(target_seconds=0.5, initial=1000, minimum=100, maximum=50_000)

    assert sizing.next_size(1000, scanned=1000, seconds=0.05) == 2000  # at most twice
    assert sizing.next_size(1000, scanned=1000, seconds=0.4) == 1250
    assert sizing.next_size(1000, scanned=1000, seconds=10.0) == 250  # at most a quarter
    assert sizing.next_size(200, scanned=200, seconds=10.0) == 100  # never below the minimum
    assert sizing.next_size(40_000, scanned=40_000, seconds=0.01) == 50_000
    assert sizing.next_size(1000, scanned=10, seconds=0.001) == 1000  # a short last batch
    assert sizing.clamp(None) == 1000 and sizing.clamp(10) == 100


def test_the_adapted_batch_size_is_stored_and_a_resumed_run_starts_at_it(mdb: Database):
    add_plain_runs(mdb, 300)
    sizing = BatchSizing(target_seconds=10.0, initial=10, minimum=10, maximum=40)
    sizes: list[int] = []

    backfill.run_backfills(
        mdb, [CREATED_BY.id], sizing=sizing, on_batch=lambda i: sizes.append(i.batch.scanned)
    )

    assert sizes[:3] == [10, 20, 40]  # fast batches: doubling up to the maximum
    assert state_row(mdb, CREATED_BY.id).batch_size == 40


def test_a_batch_that_loses_a_serialization_race_is_retried(postgresql_url: str):
    from metadb import migrate

    migrate.up(migrate.MigrateConfig(database=postgresql_url, lock_timeout=10))
    db = Database.from_url(postgresql_url)
    other = Database.from_url(postgresql_url)
    add_plain_runs(db, 20)
    ids = run_ids(db)
    raced = []

    def race(info: BatchInfo) -> None:
        """On the first try: a SERIALIZABLE writer reads the annotation this batch is writing
        and changes a run it read, then commits first (write skew: one of them must fail)."""
        if raced:
            return
        raced.append(info.number)
        with (
            other.connect() as conn,
            conn.execution_options(isolation_level="SERIALIZABLE").begin(),
        ):
            conn.execute(sa.select(tables.annotation).where(tables.annotation.c.run_id == ids[0]))
            conn.execute(
                sa.update(tables.run).where(tables.run.c.id == ids[0]).values(updated_at_ms=1)
            )

    try:
        report = backfill.run_backfills(db, [NAME.id], on_batch=race)
        assert report.results[0].retries >= 1
        assert report.results[0].rows_written == 20
        assert name_rows(db) == 20
    finally:
        db.dispose()
        other.dispose()
