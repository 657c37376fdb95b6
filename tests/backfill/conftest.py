"""A migrated database per test, and runs written straight into ``metadb_run`` (as old metadb
versions and other writers left them: without their system annotations)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import sqlalchemy as sa

from metadb import migrate
from metadb.db import Database
from metadb.runs import tables
from metadb.runs.system import CREATED_BY, NAME, system_annotations

KEYS = (CREATED_BY, NAME)


@pytest.fixture
def migrated_url(database_url: str) -> str:
    """A fresh database of the test's backend at metadb's latest schema version."""
    migrate.up(migrate.MigrateConfig(database=database_url, lock_timeout=10))
    return database_url


@pytest.fixture
def mdb(migrated_url: str) -> Iterator[Database]:
    database = Database.from_url(migrated_url, lock_timeout=10)
    yield database
    database.dispose()


def run_row(i: int, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": f"run-{i}",
        "state": "SUCCEEDED",
        "created_at_ms": 1_700_000_000_000 + i,
        "updated_at_ms": 1_700_000_000_000 + i,
        "created_by": f"user-{i % 7}",
        "extra_data": {"pipeline_name": f"pipeline-{i % 5}"},
        "pipeline_spec": None,
    }
    row.update(values)
    return row


def add_runs(db: Database, rows: Sequence[dict[str, Any]]) -> None:
    """Insert runs as they are given (JSON values through SQLAlchemy's JSON type)."""
    with db.connect() as conn, conn.begin():
        for row in rows:  # one by one: the rows need not share their columns
            conn.execute(tables.run.insert().values(**row))


def add_plain_runs(db: Database, count: int, *, first_id: int | None = None) -> None:
    rows = [run_row(i) for i in range(count)]
    if first_id is not None:
        for offset, row in enumerate(rows):
            row["id"] = first_id + offset
    with db.connect() as conn, conn.begin():
        conn.execute(tables.run.insert(), rows)


def set_raw_extra_data(db: Database, run_id: int, raw: str) -> None:
    """Store ``raw`` as the run's extra_data text exactly (JSON the JSON type would not write)."""
    value = "CAST(:raw AS jsonb)" if db.dialect.name == "postgresql" else ":raw"
    with db.connect() as conn, conn.begin():
        conn.execute(
            sa.text(f"UPDATE metadb_run SET extra_data = {value} WHERE id = :id"),
            {"raw": raw, "id": run_id},
        )


def annotations(db: Database) -> dict[tuple[int, str], str]:
    with db.connect() as conn:
        rows = conn.execute(sa.select(tables.annotation)).all()
    return {(r.run_id, r.annotation_key): r.annotation_value for r in rows}


def annotation_count(db: Database) -> int:
    with db.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(tables.annotation)).scalar_one()
        )


def expected(db: Database) -> dict[tuple[int, str], str]:
    """What ``system_annotations()`` gives every run, reading extra_data as SQLAlchemy's JSON
    type does (``json.loads`` of the stored text; text that is not JSON stays text)."""
    with db.connect() as conn:
        rows = conn.execute(
            sa.select(
                tables.run.c.id,
                tables.run.c.created_by,
                sa.cast(tables.run.c.extra_data, sa.Text).label("extra"),
                tables.run.c.pipeline_spec,
            )
        ).all()
    result = {}
    for row in rows:
        try:
            extra = None if row.extra is None else json.loads(row.extra)
        except ValueError:
            extra = row.extra
        values = system_annotations(
            created_by=row.created_by, extra_data=extra, pipeline_spec=row.pipeline_spec
        )
        for key, value in values.items():
            result[(row.id, key)] = value
    return result


def run_ids(db: Database) -> list[int]:
    with db.connect() as conn:
        return [r.id for r in conn.execute(sa.select(tables.run.c.id).order_by(tables.run.c.id))]


def state_row(db: Database, backfill_id: str) -> Any:
    with db.connect() as conn:
        return conn.execute(
            sa.select(tables.backfill).where(tables.backfill.c.id == backfill_id)
        ).one()
