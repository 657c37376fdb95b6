"""The filtered, metric-sorted search is planned the way each database serves it best.

SQLite builds an ``IN (SELECT ...)`` list in full before it uses it; a metric range such as
``loss < 0.5`` holds half of the runs, and building that list was most of a search's cost.
So on SQLite a metric predicate is a correlated ``EXISTS``, probed by the metric's primary key
for only the runs the page walks, while annotation predicates stay ``IN`` so that a selective
one can drive the search. PostgreSQL and MariaDB plan ``IN`` as a hashed or index-driven
semi-join and keep it.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event

import metadb.runs
from metadb.db import Database
from metadb.runs import parse_filter
from metadb.runs import query as q
from metadb.runs import tables as t
from metadb.store.session import insert_rows

RUNS = 3000
FILTER = {"and": [{"value_equals": {"key": "team", "value": "team-3"}},
                  {"metric": {"name": "loss", "op": "<", "value": 0.5}}]}  # fmt: skip


def load(url: str) -> None:
    """RUNS runs with a team annotation (one of 20) and two metrics, then ANALYZE."""
    rng = random.Random(7)
    ids = range(1, RUNS + 1)
    metadb.runs.connect(url).close()  # migrates
    db = Database.from_url(url)
    try:
        with db.connect() as conn, conn.begin():
            run_columns = ("id", "name", "state", "created_at_ms", "updated_at_ms")
            runs = [(i, f"run-{i}", "SUCCEEDED", i, i) for i in ids]
            insert_rows(conn, t.run.insert(), run_columns, runs)
            teams = [(i, "team", f"team-{rng.randrange(20)}") for i in ids]
            teams += [(i, "env", rng.choice(("prod", "dev"))) for i in ids]
            annotation_columns = ("run_id", "annotation_key", "annotation_value")
            insert_rows(conn, t.annotation.insert(), annotation_columns, teams)
            metrics = [(i, name, rng.random()) for i in ids for name in ("accuracy", "loss")]
            insert_rows(conn, t.metric.insert(), ("run_id", "name", "value"), metrics)
        with db.connect(autocommit=True) as conn:
            conn.exec_driver_sql("ANALYZE")
    finally:
        db.dispose()


def page_query_plan(
    conn: Connection, filter_: dict[str, Any] = FILTER
) -> tuple[list[tuple[int, Any, bool]], list[str]]:
    """The first page of the search, and SQLite's plan of the statement that found it."""
    seen: list[tuple[str, Any]] = []

    def capture(*args: Any) -> None:
        seen.append((args[2], args[3]))

    event.listen(conn, "before_cursor_execute", capture)
    try:
        rows = q.page_rows(
            conn,
            node=parse_filter(filter_),
            sort=q.Sort.parse("metric:accuracy desc"),
            cursor=None,
            limit=21,
        )
    finally:
        event.remove(conn, "before_cursor_execute", capture)
    [(statement, parameters)] = [(s, p) for s, p in seen if "metadb_run_metric" in s]
    assert parameters is not None
    plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    return rows, [str(row[3]) for row in plan]


def test_sqlite_probes_metric_predicates_instead_of_listing_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plans.sqlite'}"
    load(url)
    db = Database.from_url(url)
    try:
        with db.connect() as conn:
            rows, plan = page_query_plan(conn)
            expected = conn.exec_driver_sql(
                "SELECT m.run_id FROM metadb_run_metric m "
                "JOIN metadb_run_annotation a ON a.run_id = m.run_id "
                "JOIN metadb_run_metric l ON l.run_id = m.run_id "
                "WHERE m.name = 'accuracy' AND a.annotation_key = 'team' "
                "AND a.annotation_value = 'team-3' AND l.name = 'loss' AND l.value < 0.5 "
                "ORDER BY m.value DESC, m.run_id DESC LIMIT 21"
            ).all()
    finally:
        db.dispose()

    assert [run_id for run_id, _, _ in rows] == [row[0] for row in expected]
    # No list is built from the metric index: the loss test is a key probe per run.
    assert not any("LIST SUBQUERY" in step and "ix_metadb_run_metric_nv" in step for step in plan)
    assert any("fm USING" in step and "(run_id=? AND name=?)" in step for step in plan), plan


def test_sqlite_walks_the_sort_index_when_an_annotation_matches_many_runs(
    tmp_path: Path,
) -> None:
    """``env = prod`` holds half of the runs: listing them all and sorting costs more than
    walking the accuracy index and probing each run's annotation by key."""
    url = f"sqlite:///{tmp_path / 'plans.sqlite'}"
    load(url)
    broad = {"value_equals": {"key": "env", "value": "prod"}}
    db = Database.from_url(url)
    try:
        with db.connect() as conn:
            rows, plan = page_query_plan(conn, broad)
            expected = conn.exec_driver_sql(
                "SELECT m.run_id FROM metadb_run_metric m "
                "JOIN metadb_run_annotation a ON a.run_id = m.run_id "
                "WHERE m.name = 'accuracy' AND a.annotation_key = 'env' "
                "AND a.annotation_value = 'prod' "
                "ORDER BY m.value DESC, m.run_id DESC LIMIT 21"
            ).all()
    finally:
        db.dispose()

    assert [run_id for run_id, _, _ in rows] == [row[0] for row in expected]
    assert not any("LIST SUBQUERY" in step or "TEMP B-TREE" in step for step in plan), plan
    assert any("ix_metadb_run_metric_nv" in step for step in plan), plan
