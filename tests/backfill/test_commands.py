"""The library functions behind ``metadb backfill``: status, errors, and the background start
that servers use, which never raises into start-up."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa

from metadb import backfill
from metadb.backfill import Backfill, Batch, UnknownBackfillError
from metadb.backfill.system_annotations import CREATED_BY, NAME
from metadb.db import Database
from metadb.db.dialect import Dialect
from metadb.errors import DatabaseUnreachableError, StatementError
from tests.backfill.conftest import add_plain_runs, annotations, expected


def _count_nothing(conn: sa.Connection, dialect: Dialect) -> int:
    return 1  # always something to do, so that process_batch runs


def _process_a_missing_table(
    conn: sa.Connection, dialect: Dialect, after: int | None, limit: int
) -> Batch:
    conn.execute(sa.text("INSERT INTO no_such_table (id) VALUES (1)"))
    return Batch(cursor=1, scanned=1, written=1)


BROKEN = Backfill(
    "broken.table",
    "Writes to a table that does not exist.",
    _count_nothing,
    _process_a_missing_table,
)


def test_the_public_api_is_what_all_says():
    module = importlib.import_module("metadb.backfill")

    assert all(hasattr(module, name) for name in module.__all__)
    assert {
        "run_backfills",
        "backfill_status",
        "verify_backfills",
        "list_backfills",
        "start_pending_backfills_in_background",
        "Backfill",
        "BackfillRunner",
    } <= set(module.__all__)


def test_list_names_the_built_in_backfills_without_touching_a_database():
    assert [b.id for b in backfill.list_backfills()] == [
        "system_annotations.created_by",
        "system_annotations.name",
    ]
    assert all(b.description for b in backfill.list_backfills())


def test_status_shows_never_run_backfills_as_pending_then_their_stored_state(mdb: Database):
    before = backfill.backfill_status(mdb)
    assert [(s.id, s.state, s.rows_done, s.cursor) for s in before] == [
        (CREATED_BY.id, "pending", 0, None),
        (NAME.id, "pending", 0, None),
    ]
    add_plain_runs(mdb, 25)

    backfill.run_backfills(mdb)

    after = {s.id: s.as_dict() for s in backfill.backfill_status(mdb)}
    name = after[NAME.id]
    assert name["state"] == "done" and name["rows_done"] == 25 and name["rows_estimate"] == 25
    assert name["attempts"] == 1 and name["last_error"] is None and name["cursor"] > 0
    assert name["started_at"] <= name["finished_at"]  # ISO 8601 text, comparable
    assert name["description"] == NAME.description


def test_a_failed_backfill_is_reported_with_its_error_and_the_others_still_run(mdb: Database):
    add_plain_runs(mdb, 5)

    with pytest.raises(backfill.BackfillFailedError, match=r"broken\.table failed") as failure:
        backfill.run_backfills(mdb, backfills=[BROKEN, NAME])

    assert [r.state for r in failure.value.results] == ["failed", "done"]
    states = {s.id: s for s in backfill.backfill_status(mdb, backfills=[BROKEN, NAME])}
    assert states[BROKEN.id].state == "failed"
    assert "no_such_table" in (states[BROKEN.id].last_error or "")
    assert states[NAME.id].state == "done"


def test_unknown_ids_are_refused_before_anything_runs(mdb: Database):
    add_plain_runs(mdb, 3)

    with pytest.raises(UnknownBackfillError, match=r"'nope'.*Known: system_annotations"):
        backfill.run_backfills(mdb, [NAME.id, "nope"])
    with pytest.raises(UnknownBackfillError):
        backfill.verify_backfills(mdb, ["nope"])

    assert annotations(mdb) == {}


def test_a_database_without_the_runs_schema_says_to_migrate(database_url: str):
    for action in (backfill.run_backfills, backfill.backfill_status, backfill.verify_backfills):
        with pytest.raises(StatementError, match="metadb migrate up"):
            action(database_url)


def test_background_start_runs_the_backfills_without_waiting(mdb: Database):
    add_plain_runs(mdb, 40)

    handle = backfill.start_pending_backfills_in_background(mdb)

    assert handle.thread.daemon
    assert handle.join(timeout=60)
    assert handle.error is None and handle.report is not None
    assert [r.state for r in handle.report.results] == ["done", "done"]
    assert annotations(mdb) == expected(mdb)


def test_background_start_never_raises_when_a_backfill_is_broken(
    mdb: Database, caplog: pytest.LogCaptureFixture
):
    add_plain_runs(mdb, 5)
    caplog.set_level(logging.ERROR, logger="metadb")

    handle = backfill.start_pending_backfills_in_background(mdb, backfills=[BROKEN, CREATED_BY])

    assert handle.join(timeout=60)
    assert handle.error is None and handle.report is not None
    assert [r.state for r in handle.report.results] == ["failed", "done"]
    assert any("broken.table" in record.getMessage() for record in caplog.records)
    status = {s.id: s for s in backfill.backfill_status(mdb, backfills=[BROKEN, CREATED_BY])}
    assert status[BROKEN.id].state == "failed" and status[BROKEN.id].last_error


def test_background_start_never_raises_when_the_database_is_unusable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.ERROR, logger="metadb")
    unmigrated = backfill.start_pending_backfills_in_background(f"sqlite:///{tmp_path / 'x.db'}")
    unreachable = backfill.start_pending_backfills_in_background(
        "postgresql://nobody@127.0.0.1:1/none"
    )
    not_a_url = backfill.start_pending_backfills_in_background("oracle://x")

    for handle in (unmigrated, unreachable, not_a_url):
        assert handle.join(timeout=60)
        assert handle.report is None and handle.error is not None
    assert isinstance(unmigrated.error, StatementError)
    assert isinstance(unreachable.error, DatabaseUnreachableError)
    assert len([r for r in caplog.records if "did not run" in r.getMessage()]) == 3
