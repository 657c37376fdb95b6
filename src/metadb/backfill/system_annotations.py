"""The built-in backfills: every run gets the rows ``system/pipeline_run.created_by`` and
``system/pipeline_run.name``, with exactly the values :func:`metadb.runs.system.system_annotations`
gives it at creation.

Each batch computes in SQL what SQL can compute exactly, then in Python the rest:

1. ``INSERT ... SELECT`` of the batch's runs that miss the row and whose value SQL is sure of,
   anti-joined to the annotations and ignoring duplicates (a concurrent writer may add one);
   the SQL value is NULL where SQL is not sure, and those runs are left out.
   ``created_by`` is always sure. The name comes from JSON: SQL is sure where the dialect's
   :meth:`~metadb.db.dialect.Dialect.json_member` says it reads the JSON as ``json.loads`` does
   (PostgreSQL: always; SQLite: valid JSON without NUL; MySQL/MariaDB, whose JSON functions are
   lax: plain objects only, checked by a strict pattern). On PostgreSQL text that is not JSON
   fails the statement; it is rolled back to a savepoint.
2. When step 1 wrote fewer rows than the batch has runs, the runs of the batch still missing the
   row are read and given the value of ``metadb.runs.system`` itself, in Python. It fetches
   ``pipeline_spec`` (the large column) only for runs whose extra data has no pipeline name.

Values are cut to 255 characters by SUBSTR, which counts characters on all three databases (UTF-8
text on SQLite, the database encoding on PostgreSQL, utf8mb4 on MySQL) as Python's slicing does.
Known limits: text that no column can hold (lone UTF-16 surrogates; NUL on PostgreSQL) fails the
batch with the database's error, as it would fail the run's creation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Text,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.exc import DataError

from metadb.backfill.definition import Backfill, Batch, key_range, keyset_range
from metadb.db.dialect import Dialect
from metadb.runs import system
from metadb.runs.tables import annotation, run

#: Ids per statement when Python reads specs by id (well under every parameter limit).
CHUNK = 1000
#: INSERT's rowcount is read after SQLAlchemy closed the cursor, which psycopg 3 resets to -1.
COUNT_ROWS = {"preserve_rowcount": True}
#: SQL for a run's value, NULL where SQL is not sure of it; None: Python decides every value.
SqlRule = Callable[[Dialect], "ColumnElement[Any] | None"]
#: The values Python gives to the runs that ``runs`` selects (the batch's runs missing the row).
PythonRule = Callable[[Connection, ColumnElement[bool]], dict[int, str]]


def missing(key: str, *, after: int | None = None, last: int | None = None) -> ColumnElement[bool]:
    """Runs that have no annotation ``key``: the anti-join of every batch (counts use
    :func:`count_missing_query`).

    With a batch's ``after`` and ``last``, the annotation side is bounded to the batch's keys
    too. Redundant for the result, but it keeps the plan's work to the batch: PostgreSQL,
    whose statistics still call the annotations empty early in a backfill, otherwise merges
    each batch against every annotation with the key, which makes a whole walk quadratic.
    """
    conditions = [annotation.c.run_id == run.c.id, annotation.c.annotation_key == key]
    if last is not None:
        conditions.append(key_range(annotation.c.run_id, after, last))
    return not_(exists().where(*conditions))


def count_missing_query(key: str) -> Select[int]:
    """The number of runs without annotation ``key``, as an outer join: the same anti-join as
    :func:`missing` for PostgreSQL and SQLite, but MariaDB plans NOT EXISTS over a whole table
    by materialising every annotation of the key first (3x slower at a million runs) and
    LEFT JOIN ... IS NULL as one primary-key lookup per run."""
    joined = run.outerjoin(
        annotation, and_(annotation.c.run_id == run.c.id, annotation.c.annotation_key == key)
    )
    return select(func.count()).select_from(joined).where(annotation.c.run_id.is_(None))


def system_annotation_backfill(
    backfill_id: str, key: str, description: str, *, sql: SqlRule, python: PythonRule
) -> Backfill:
    """A backfill giving every run the annotation ``key``, by the two-step batch above."""

    def count_missing(conn: Connection, dialect: Dialect) -> int:
        return int(conn.execute(count_missing_query(key)).scalar_one())

    def estimate(conn: Connection, dialect: Dialect, after: int | None) -> int:
        runs = select(func.count()).select_from(run)
        if after is not None:
            runs = runs.where(run.c.id > after)
        return int(conn.execute(runs).scalar_one())

    def process_batch(conn: Connection, dialect: Dialect, after: int | None, limit: int) -> Batch:
        last, scanned = keyset_range(conn, run.c.id, after, limit)
        if last is None:
            return Batch(cursor=None, scanned=0, written=0)
        batch = and_(key_range(run.c.id, after, last), missing(key, after=after, last=last))
        written = _insert_sure_values(conn, dialect, key, batch, sql(dialect))
        if written < scanned:  # some runs had the row already, or SQL was not sure of them
            written += _insert(conn, dialect, key, python(conn, batch))
        return Batch(cursor=last, scanned=scanned, written=written)

    return Backfill(backfill_id, description, count_missing, process_batch, estimate)


def _insert_sure_values(
    conn: Connection,
    dialect: Dialect,
    key: str,
    batch: ColumnElement[bool],
    value: ColumnElement[Any] | None,
) -> int:
    if value is None:
        return 0
    # OFFSET 0 keeps the derived table from being merged into the outer query (PostgreSQL's
    # and SQLite's optimisation fence), so that the value is computed once per run, not once
    # more in the WHERE clause.
    computed = select(run.c.id, value.label("v")).where(batch).offset(0).subquery()
    rows = select(computed.c.id, literal(key, Text), computed.c.v).where(computed.c.v.is_not(None))
    statement = dialect.insert_ignoring_duplicates(annotation).from_select(
        ["run_id", "annotation_key", "annotation_value"], rows
    )
    try:
        with conn.begin_nested():
            return int(conn.execute(statement, execution_options=COUNT_ROWS).rowcount)
    except DataError:
        return 0  # PostgreSQL met text that is not JSON: Python decides this batch


def _insert(conn: Connection, dialect: Dialect, key: str, values: dict[int, str]) -> int:
    if not values:
        return 0
    rows = [
        {"run_id": run_id, "annotation_key": key, "annotation_value": value}
        for run_id, value in values.items()
    ]
    statement = dialect.insert_ignoring_duplicates(annotation)
    return int(conn.execute(statement, rows, execution_options=COUNT_ROWS).rowcount)


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


# -- system/pipeline_run.created_by -------------------------------------------------------------


def _created_by_sql(dialect: Dialect) -> ColumnElement[Any]:
    return _clip(func.coalesce(run.c.created_by, ""))


def _created_by_python(conn: Connection, runs: ColumnElement[bool]) -> dict[int, str]:
    rows = conn.execute(select(run.c.id, run.c.created_by).where(runs))
    return {row.id: system.clip(row.created_by) for row in rows}


# -- system/pipeline_run.name -------------------------------------------------------------------


def _name_sql(dialect: Dialect) -> ColumnElement[Any] | None:
    extra = dialect.json_member(run.c.extra_data, "pipeline_name")
    spec = dialect.json_member(run.c.pipeline_spec, "name")
    if extra is None or spec is None:
        return None
    from_spec = case(
        (or_(run.c.pipeline_spec.is_(None), run.c.pipeline_spec == ""), ""),
        (spec.exact, func.coalesce(spec.text, "")),
    )
    # Each CASE branch is reached only where the document is exact (json_member's contract).
    # extra_data holding a JSON *string* is decoded once more by the Python rule: Python's case.
    name = case(
        (run.c.extra_data.is_(None), from_spec),
        (not_(extra.exact), None),
        (extra.is_string, None),
        else_=func.coalesce(extra.text, from_spec),
    )
    return _clip(name)


def _name_python(conn: Connection, runs: ColumnElement[bool]) -> dict[int, str]:
    values: dict[int, str] = {}
    extras: dict[int, Any] = {}
    query = select(run.c.id, cast(run.c.extra_data, Text).label("extra")).where(runs)
    for row in conn.execute(query):
        extra = _decoded(row.extra)
        name = system.pipeline_name(extra, None)  # extra data's name wins over the spec's
        if name is not None:
            values[row.id] = system.clip(name)
        else:
            extras[row.id] = extra
    for chunk in _chunks(list(extras)):  # the large column, only for the runs that need it
        query = select(run.c.id, run.c.pipeline_spec).where(run.c.id.in_(chunk))
        for row in conn.execute(query):
            computed = system.system_annotations(
                created_by=None, extra_data=extras[row.id], pipeline_spec=row.pipeline_spec
            )
            values[row.id] = computed[system.NAME]
    return values


def _decoded(raw: str | None) -> Any:
    """extra_data as the run store reads it (SQLAlchemy's JSON type decodes it once); text that
    is not JSON stays text, which the rule reads as no pipeline name."""
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _clip(value: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.substr(value, 1, system.VALUE_LIMIT)


CREATED_BY = system_annotation_backfill(
    "system_annotations.created_by",
    system.CREATED_BY,
    "Give every run the annotation system/pipeline_run.created_by: its creator, '' if none.",
    sql=_created_by_sql,
    python=_created_by_python,
)
NAME = system_annotation_backfill(
    "system_annotations.name",
    system.NAME,
    "Give every run the annotation system/pipeline_run.name: extra data's pipeline_name, "
    "else the pipeline spec's name, '' if neither.",
    sql=_name_sql,
    python=_name_python,
)
#: The built-in backfills, in the order ``run`` takes them (any order gives the same rows).
SYSTEM_BACKFILLS = (CREATED_BY, NAME)
