"""What the backfills ask of each dialect, checked against the real servers: which errors are a
lost race worth retrying, and which JSON the database reads exactly as ``json.loads`` does."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DataError, DBAPIError

from metadb.db import Database
from metadb.runs import tables
from tests.backfill.conftest import add_plain_runs, run_ids


def _lose_a_serialization_race(db: Database) -> None:
    """PostgreSQL: two SERIALIZABLE transactions update the same row; the later one fails."""
    add_plain_runs(db, 1)
    with db.connect() as first, db.connect() as second:
        first_tx = first.execution_options(isolation_level="SERIALIZABLE").begin()
        first.execute(sa.select(tables.run)).all()
        with second.begin():
            second.execute(sa.update(tables.run).values(updated_at_ms=2))
        try:
            first.execute(sa.update(tables.run).values(updated_at_ms=3))
        finally:
            first_tx.rollback()


def _time_out_waiting_for_a_row_lock(db: Database) -> None:
    """MySQL: a row lock held by another transaction outlasts innodb_lock_wait_timeout."""
    add_plain_runs(db, 1)
    with db.connect() as holder, db.connect() as waiter, holder.begin():
        holder.execute(sa.update(tables.run).values(updated_at_ms=2))
        with waiter.begin():
            waiter.exec_driver_sql("SET SESSION innodb_lock_wait_timeout = 1")
            waiter.execute(sa.update(tables.run).values(updated_at_ms=3))


def _lose_a_deadlock(db: Database) -> None:
    """MySQL and PostgreSQL: two transactions lock two rows in opposite orders."""
    add_plain_runs(db, 2)
    first_id, second_id = run_ids(db)[-2:]
    failures: list[BaseException] = []
    both_hold_one = threading.Barrier(2)

    def lock(first: int, then: int) -> None:
        try:
            with db.connect() as conn, conn.begin():
                conn.execute(
                    sa.update(tables.run).where(tables.run.c.id == first).values(updated_at_ms=5)
                )
                both_hold_one.wait()
                conn.execute(
                    sa.update(tables.run).where(tables.run.c.id == then).values(updated_at_ms=6)
                )
        except DBAPIError as exc:
            failures.append(exc)

    threads = [
        threading.Thread(target=lock, args=pair)
        for pair in ((first_id, second_id), (second_id, first_id))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(failures) == 1
    raise failures[0]


def _find_the_database_locked(db: Database) -> None:
    """SQLite: a second writer gives up after its busy timeout."""
    impatient = Database.from_url(db.url, lock_timeout=0.1)
    try:
        with (
            db.connect() as holder,
            impatient.connect() as waiter,
            db.dialect.begin_write(holder),
        ):
            holder.execute(sa.update(tables.run).values(updated_at_ms=2))
            with impatient.dialect.begin_write(waiter):
                pass
    finally:
        impatient.dispose()


LOST_RACES: dict[str, list[Callable[[Database], None]]] = {
    "postgresql": [_lose_a_serialization_race, _lose_a_deadlock],
    "mysql": [_time_out_waiting_for_a_row_lock, _lose_a_deadlock],
    "sqlite": [_find_the_database_locked],
}


def test_real_lost_races_are_retryable_and_ordinary_errors_are_not(mdb: Database, backend: str):
    for lose in LOST_RACES[backend]:
        with pytest.raises(DBAPIError) as lost:
            lose(mdb)
        assert mdb.dialect.is_retryable(lost.value.orig), (lose.__name__, lost.value)

    with pytest.raises(DBAPIError) as broken, mdb.connect() as conn:
        conn.execute(sa.text("SELECT no_such_column FROM metadb_run"))
    assert not mdb.dialect.is_retryable(broken.value.orig)


DOCUMENTS = [
    '{"name": "plain"}',
    '{"name": "first", "name": "last"}',
    '{"n\\u0061me": "escaped key"}',
    '{"name": "\\u65e5\\ud83d\\ude00 \\"q\\" \\n"}',
    '{"name": null}',
    '{"name": 1}',
    '{"other": "x"}',
    '["name"]',
    '"a string"',
    "42",
    "null",
    '{"name": "x", "v": NaN}',
    '{"name": "trailing"} x',
    '{"x": 1., "name": "lax"}',
    "not json",
    '{"name": "a\\u0000b"}',
    # MariaDB's JSON functions are lax, case-blind nowhere, and stop at 32 levels.
    '{"x": "\\x41", "name": "bad escape"}',
    '{"x": 2., "name": "bad number"}',
    '{"x": 1E, "name": "bad exponent"}',
    '{"x": 01, "name": "leading zero"}',
    '{"x": TRUE, "name": "capital true"}',
    '{"x\tkey": 1, "name": "raw tab in a key"}',
    '{"name": "raw\ttab"}',
    '{"x": 1}\f',
    '{"NAME": "capital key"}',
    '{"x": {"name": "nested"}}',
    '{"x": {"name": "nested"}, "name": "top"}',
    '{"x": "name", "name": "value named like the key"}',
    '{"name": "x", "a": ' + "[" * 40 + "]" * 40 + "}",
    '{"a": ' + "[" * 31 + "]" * 31 + ', "name": "depth 32"}',
    '{"a": ' + "[" * 20 + "]" * 20 + ', "name": "depth 21"}',
    '{"name": "日本語 😀 ' + "é" * 300 + '"}',
    '{ "name" : "spaced" , "n": -0.5e+3, "t": [true, false, null, {}, []] }',
    '{"name": {"name": "object"}}',
    '{"x": {"name": 1, "name": 2}, "name": "nested repeats"}',
    '{"names": "x", "name": "key with a longer twin"}',
    '{"name": "a", "x": {}, "name": "repeated after a nested object"}',
    '{"x": ' + "1" * 1200 + ', "name": "huge int"}',
    '{"name": "x", "v": Infinity}',
]


def _python_reading(document: str) -> tuple[str, Any]:
    try:
        parsed = json.loads(document)
    except ValueError:
        return ("invalid", None)
    if isinstance(parsed, str):
        return ("string", None)
    name = parsed.get("name") if isinstance(parsed, dict) else None
    return ("value", name if isinstance(name, str) else None)


def test_json_member_is_exact_where_it_says_so(mdb: Database, backend: str):
    member = mdb.dialect.json_member(tables.run.c.pipeline_spec, "name")
    assert member is not None
    add_plain_runs(mdb, len(DOCUMENTS))
    # json_member's contract: text and is_string only where exact.
    query = sa.select(
        member.exact,
        sa.case((member.exact, member.text)),
        sa.case((member.exact, member.is_string)),
    )
    exact_ones = 0
    with mdb.connect() as conn:
        for run_id, document in zip(run_ids(mdb), DOCUMENTS, strict=True):
            with conn.begin():
                conn.execute(
                    sa.update(tables.run)
                    .where(tables.run.c.id == run_id)
                    .values(pipeline_spec=document)
                )
            try:
                with conn.begin():
                    exact, text, is_string = conn.execute(
                        query.where(tables.run.c.id == run_id)
                    ).one()
            except DataError:  # PostgreSQL: not JSON for jsonb; the caller asks Python
                assert _python_reading(document)[0] in ("invalid", "value"), document
                continue
            if not exact:
                continue
            exact_ones += 1
            kind, value = _python_reading(document)
            assert kind != "invalid", document
            assert bool(is_string) == (kind == "string"), document
            assert text == value, document
    assert exact_ones >= 10
