"""Fixtures shared by every test: a fresh, empty database per test on each backend.

SQLite always runs. PostgreSQL and MySQL run when METADB_TEST_POSTGRES_URL /
METADB_TEST_MYSQL_URL point at a server (an admin URL; each test creates and drops its own
database there) and are skipped otherwise. With METADB_TEST_REQUIRE_ALL=1 (CI) a missing
variable or an unreachable server fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from metadb.db import Database
from metadb.errors import DatabaseError

BACKENDS = ("sqlite", "postgresql", "mysql")
ENV_VARS = {"postgresql": "METADB_TEST_POSTGRES_URL", "mysql": "METADB_TEST_MYSQL_URL"}
REQUIRE_ALL = os.environ.get("METADB_TEST_REQUIRE_ALL") == "1"


def _unavailable(reason: str) -> None:
    if REQUIRE_ALL:
        pytest.fail(f"{reason} (METADB_TEST_REQUIRE_ALL=1 makes this a failure)")
    pytest.skip(reason)


def admin_database(backend: str) -> Database:
    """The server-level database of ``backend``, from its environment variable."""
    var = ENV_VARS[backend]
    raw = os.environ.get(var)
    if not raw:
        _unavailable(f"{var} is not set; set it to an admin URL to run the {backend} tests")
    assert raw is not None
    admin = Database.from_url(raw)
    try:
        with admin.connect():
            pass
    except DatabaseError as exc:
        admin.dispose()
        _unavailable(f"{backend} server from {var} is unreachable: {exc}")
    return admin


def fresh_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """Yield the URL (with password) of a new empty database; drop it afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'metadb.sqlite'}"
        return
    admin = admin_database(backend)
    name = f"metadb_test_{uuid.uuid4().hex[:12]}"
    with admin.connect(autocommit=True) as conn:
        admin.dialect.create_database(conn, name)
    try:
        yield admin.url.with_database(name).url.render_as_string(hide_password=False)
    finally:
        with admin.connect(autocommit=True) as conn:
            admin.dialect.drop_database(conn, name)
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of the test's backend, as a URL string."""
    yield from fresh_database(backend, tmp_path)


@pytest.fixture
def postgresql_url(tmp_path: Path) -> Iterator[str]:
    """A fresh PostgreSQL database, for behaviour only PostgreSQL has."""
    yield from fresh_database("postgresql", tmp_path)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A :class:`Database` on the fresh database, disposed after the test."""
    database = Database.from_url(database_url, lock_timeout=10)
    yield database
    database.dispose()
