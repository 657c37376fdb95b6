"""Reading runs and tasks: rows to dataclasses, one query per table for a set of run ids.

A page never joins runs to their annotations, metrics or tasks (a join repeats each run's wide
columns per child row, and grouping them back is what made KFP's lists slow): each child table
is read once with ``run_id IN (ids)``, through its primary key or ``(run_id, id)`` index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from metadb.errors import NotFoundError
from metadb.runs import tables as t
from metadb.runs.model import Run, Task

#: The run columns of a list view: all but the spec.
LIST_COLUMNS = tuple(c for c in t.run.c if c.name != "pipeline_spec")


def load_runs(conn: Connection, ids: Sequence[int], *, full: bool) -> list[Run]:
    """The runs ``ids`` (in that order; missing ones left out), one query per table."""
    if not ids:
        return []
    columns = t.run.c if full else LIST_COLUMNS
    found = {
        int(r.id): _run(r._mapping)
        for r in conn.execute(select(*columns).where(t.run.c.id.in_(list(ids))))
    }
    wanted = list(found)
    for run_id, values in annotations_of(conn, wanted).items():
        found[run_id].annotations = values
    for run_id, metrics in metrics_of(conn, wanted).items():
        found[run_id].metrics = metrics
    for run_id, tasks in tasks_of(conn, wanted).items():
        found[run_id].tasks = tasks
    return [found[i] for i in ids if i in found]


def _run(row: Any) -> Run:
    return Run(
        id=int(row["id"]),
        name=row["name"],
        state=row["state"],
        created_at_ms=int(row["created_at_ms"]),
        updated_at_ms=int(row["updated_at_ms"]),
        pipeline_name=row["pipeline_name"],
        created_by=row["created_by"],
        finished_at_ms=row["finished_at_ms"],
        mlmd_context_id=row["mlmd_context_id"],
        extra_data=row["extra_data"],
        pipeline_spec=row.get("pipeline_spec"),
    )


def annotations_of(conn: Connection, ids: list[int]) -> dict[int, dict[str, str]]:
    a = t.annotation.c
    found: dict[int, dict[str, str]] = {}
    if ids:
        query = select(a.run_id, a.annotation_key, a.annotation_value).where(a.run_id.in_(ids))
        for run_id, key, value in conn.execute(query.order_by(a.run_id, a.annotation_key)):
            found.setdefault(int(run_id), {})[key] = value
    return found


def metrics_of(conn: Connection, ids: list[int]) -> dict[int, dict[str, float]]:
    m = t.metric.c
    found: dict[int, dict[str, float]] = {}
    if ids:
        query = select(m.run_id, m.name, m.value).where(m.run_id.in_(ids))
        for run_id, name, value in conn.execute(query.order_by(m.run_id, m.name)):
            found.setdefault(int(run_id), {})[name] = float(value)
    return found


def tasks_of(conn: Connection, ids: list[int]) -> dict[int, list[Task]]:
    found: dict[int, list[Task]] = {}
    if ids:
        query = select(t.task).where(t.task.c.run_id.in_(ids)).order_by(t.task.c.id)
        for row in conn.execute(query):
            task = _task(row._mapping)
            found.setdefault(task.run_id, []).append(task)
    return found


def _task(row: Any) -> Task:
    return Task(
        id=int(row["id"]),
        run_id=int(row["run_id"]),
        name=row["name"],
        state=row["state"],
        started_at_ms=row["started_at_ms"],
        finished_at_ms=row["finished_at_ms"],
        mlmd_execution_id=row["mlmd_execution_id"],
    )


def task_by_id(conn: Connection, task_id: int) -> Task:
    row = conn.execute(select(t.task).where(t.task.c.id == task_id)).first()
    if row is None:
        raise NotFoundError(f"no task with id {task_id}")
    return _task(row._mapping)
