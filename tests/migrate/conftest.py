"""Helpers for migration tests: write a source directory, inspect a database."""

from __future__ import annotations

import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy

from metadb.db import Database
from metadb.migrate import MigrateConfig

WriteSource = Callable[[dict[str, str]], Path]

#: Three portable migrations; the SQL runs unchanged on SQLite, PostgreSQL and MySQL.
PORTABLE = {
    "000001_create_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50));",
    "000001_create_users.down.sql": "DROP TABLE users;",
    "000002_create_teams.up.sql": (
        "-- two statements\n"
        "CREATE TABLE teams (id INTEGER PRIMARY KEY, title VARCHAR(50));\n"
        "INSERT INTO teams (id, title) VALUES (1, 'core; platform');\n"
    ),
    "000002_create_teams.down.sql": "DROP TABLE teams;",
    "000003_seed_users.up.sql": (
        "INSERT INTO users (id, name) VALUES (1, 'ada');\n"
        "INSERT INTO users (id, name) VALUES (2, 'it''s 50% done');\n"
    ),
    "000003_seed_users.down.sql": "DELETE FROM users WHERE id IN (1, 2);",
}


@pytest.fixture
def write_source(tmp_path: Path) -> WriteSource:
    """Write ``{relative path: text}`` under a new source directory and return it."""
    counter = iter(range(1000))

    def write(files: dict[str, str]) -> Path:
        root = tmp_path / f"migrations{next(counter)}"
        for name, body in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body, encoding="utf-8")
        return root

    return write


def metadb_executable() -> str:
    """The ``metadb`` command of the environment running the tests."""
    beside = Path(sys.executable).parent / "metadb"
    if beside.exists():
        return str(beside)
    found = shutil.which("metadb")
    assert found, "the metadb command is not installed"
    return found


@contextmanager
def migration_lock_held(db: Database) -> Iterator[None]:
    """Hold ``db``'s migration lock from another thread, as another run would, in the block."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.dialect.migration_lock(
            db.engine, db.url, table="schema_migrations", timeout=5, on_wait=lambda _: None
        ):
            holding.set()
            release.wait(60)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    try:
        assert holding.wait(10)
        yield
    finally:
        release.set()
        holder.join(30)


def config(url: str, source: Path | None, **options: object) -> MigrateConfig:
    return MigrateConfig(database=url, source=source, lock_timeout=10, **options)  # type: ignore[arg-type]


def table_names(url: str) -> set[str]:
    db = Database.from_url(url)
    try:
        with db.connect() as conn:
            return {t.lower() for t in sqlalchemy.inspect(conn).get_table_names()}
    finally:
        db.dispose()


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    db = Database.from_url(url)
    try:
        with db.connect() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(sql)]
    finally:
        db.dispose()


def execute(url: str, *statements: str) -> None:
    db = Database.from_url(url)
    try:
        with db.connect() as conn, conn.begin():
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        db.dispose()
