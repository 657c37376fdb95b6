"""``metadb backfill`` as a user meets it: the installed command, run as a subprocess."""

from __future__ import annotations

import sqlalchemy as sa

from metadb.db import Database
from tests.backfill.conftest import add_plain_runs, annotations, expected
from tests.cli.test_cli import error_line, run, run_json


def test_user_lists_verifies_runs_and_checks_the_backfills(mdb: Database, migrated_url: str):
    db = ("--database", migrated_url)
    add_plain_runs(mdb, 30)

    listed = run_json("backfill", "list")
    missing = run_json("backfill", "verify", *db, expect=3)
    ran = run_json("backfill", "run", *db)
    verified = run_json("backfill", "verify", *db)
    status = run_json("backfill", "status", *db)

    assert [b["id"] for b in listed] == ["system_annotations.created_by", "system_annotations.name"]
    assert [m["missing"] for m in missing] == [30, 30]
    assert [(r["state"], r["rows_written"]) for r in ran["results"]] == [("done", 30)] * 2
    assert [v["missing"] for v in verified] == [0, 0]
    assert [(s["state"], s["rows_done"]) for s in status] == [("done", 30)] * 2
    assert annotations(mdb) == expected(mdb)


def test_people_see_progress_on_stderr_and_a_summary_on_stdout(mdb: Database, migrated_url: str):
    add_plain_runs(mdb, 10)

    result = run("backfill", "run", "system_annotations.name", "--database", migrated_url)
    verify = run("backfill", "verify", "--database", migrated_url)

    assert result.returncode == 0, result.stderr
    assert "system_annotations.name: done, 10 rows written" in result.stdout
    assert verify.returncode == 3
    assert "system_annotations.created_by: 10 missing" in verify.stdout
    assert "system_annotations.name: complete" in verify.stdout
    assert "metadb backfill run" in verify.stdout


def _rename(db: Database, old: str, new: str) -> None:
    with db.connect() as conn, conn.begin():
        conn.execute(sa.text(f"ALTER TABLE {old} RENAME TO {new}"))


def test_a_failed_backfill_exits_1_and_status_exits_3_until_it_is_run_again(
    mdb: Database, migrated_url: str
):
    db = ("--database", migrated_url)
    add_plain_runs(mdb, 5)
    _rename(mdb, "metadb_run_annotation", "metadb_run_annotation_away")

    failed = run_json("backfill", "run", *db, expect=1)
    status = run("backfill", "status", *db)
    _rename(mdb, "metadb_run_annotation_away", "metadb_run_annotation")
    again = run_json("backfill", "run", *db)

    assert [r["state"] for r in failed["results"]] == ["failed", "failed"]
    assert failed["error"]["code"] == "backfill_failed"
    assert "metadb backfill run system_annotations.name" in failed["error"]["message"]
    assert status.returncode == 3 and "failed" in status.stdout
    assert "metadb_run_annotation" in status.stdout  # the server's error, in the table
    assert [r["state"] for r in again["results"]] == ["done", "done"]
    assert run("backfill", "status", *db).returncode == 0
    assert annotations(mdb) == expected(mdb)


def test_usage_and_database_errors_have_their_exit_codes(database_url: str):
    unknown = run("backfill", "run", "nope", "--database", database_url)
    unmigrated = run("backfill", "status", "--database", database_url)
    unmigrated_json = run_json("backfill", "run", "--database", database_url, expect=1)

    assert unknown.returncode == 2
    assert "no backfill named 'nope'" in error_line(unknown.stderr)
    assert unmigrated.returncode == 1
    assert "Run 'metadb migrate up' first" in error_line(unmigrated.stderr)
    assert unmigrated_json["error"]["code"] == "statement"
