"""Runtime guards: a migration statement that waits for a lock the application holds gives up
after the statement lock timeout, retries with backoff, and either succeeds once the holder lets
go or stops with an error naming the table and the holder, leaving the database clean
(transactional steps) or resumable (MySQL's statement-by-statement steps)."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Connection

from metadb import migrate
from metadb.db import Database
from metadb.errors import ConfigError, MigrationFailedError, TableLockTimeoutError
from metadb.migrate.guards import StatementGuards, statement_tables
from tests.migrate.conftest import PORTABLE, WriteSource, config, metadb_executable, query

SERVERS = ("postgresql", "mysql")

#: 1 creates the table the application uses; 2 creates another table, then alters the busy one.
ALTER_BUSY_TABLE = {
    "000001_create_users.up.sql": PORTABLE["000001_create_users.up.sql"],
    "000001_create_users.down.sql": PORTABLE["000001_create_users.down.sql"],
    "000002_add_email.up.sql": (
        "CREATE TABLE audit (id INTEGER PRIMARY KEY);\n"
        "ALTER TABLE users ADD COLUMN email VARCHAR(50);\n"
    ),
    "000002_add_email.down.sql": "ALTER TABLE users DROP COLUMN email;\nDROP TABLE audit;\n",
}


class Holder:
    """An application transaction that holds a lock on ``users`` until released."""

    def __init__(self, url: str, backend: str) -> None:
        self.backend = backend
        self.released = threading.Event()
        if backend == "sqlite":
            # A writer: SQLite's only lock a migration can wait for.
            path = url.removeprefix("sqlite:///")
            self._raw = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._raw.execute("BEGIN IMMEDIATE")
            self._raw.execute("INSERT INTO users (id, name) VALUES (100, 'app')")
            return
        self._db = Database.from_url(url)
        self._conn: Connection = self._db.engine.connect()
        self._conn.begin()
        # Reading in an open transaction keeps a lock that ALTER TABLE must wait for
        # (PostgreSQL: ACCESS SHARE; MySQL: a shared metadata lock).
        self._conn.exec_driver_sql("SELECT * FROM users").all()

    def release(self) -> None:
        if self.released.is_set():
            return
        self.released.set()
        if self.backend == "sqlite":
            self._raw.rollback()
            self._raw.close()
        else:
            self._conn.rollback()
            self._conn.close()
            self._db.dispose()

    @contextmanager
    def released_on_first_retry(self) -> Iterator[None]:
        """Let go as soon as the migration has timed out once and says it will retry."""
        holder = self

        class OnRetry(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                if "retry" in record.getMessage():
                    holder.release()

        logger = logging.getLogger("metadb.migrate.guards")
        handler = OnRetry(logging.WARNING)
        logger.addHandler(handler)
        try:
            yield
        finally:
            logger.removeHandler(handler)

    def close(self) -> None:
        self.release()


@contextmanager
def lock_held(url: str, backend: str) -> Iterator[Holder]:
    holder = Holder(url, backend)
    try:
        yield holder
    finally:
        holder.close()


def guarded(url: str, source: Path, **guards: float) -> migrate.MigrateConfig:
    return replace(config(url, source), **guards)  # type: ignore[arg-type]


def history(url: str) -> list[tuple[object, ...]]:
    return query(
        url,
        "SELECT version, status, statements_done, note FROM schema_migrations_history ORDER BY id",
    )


@pytest.mark.parametrize("backend", SERVERS, indirect=True)
def test_migration_waits_out_a_short_transaction_with_retries(
    database_url: str, backend: str, write_source: WriteSource
) -> None:
    source = write_source(ALTER_BUSY_TABLE)
    migrate.up(config(database_url, source), 1)
    cfg = guarded(
        database_url, source, statement_lock_timeout=1, lock_retries=4, lock_retry_backoff=0.2
    )
    with lock_held(database_url, backend) as holder, holder.released_on_first_retry():
        clock = time.monotonic()
        report = migrate.up(cfg)
        elapsed = time.monotonic() - clock
    assert report.version_after == 2
    assert holder.released.is_set()
    assert 1.0 <= elapsed < 15
    assert query(database_url, "SELECT email FROM users") == []
    [*_, last] = history(database_url)
    assert last[:3] == (2, "succeeded", 2)
    assert "lock timeout" in str(last[3])
    # The statement before the ALTER ran exactly once: a re-run of a committed CREATE TABLE
    # would have failed (MySQL); a rolled-back one was undone (PostgreSQL).
    assert query(database_url, "SELECT COUNT(*) FROM audit") == [(0,)]


@pytest.mark.parametrize("backend", SERVERS, indirect=True)
def test_migration_gives_up_on_a_long_transaction_and_names_it(
    database_url: str, backend: str, write_source: WriteSource
) -> None:
    source = write_source(ALTER_BUSY_TABLE)
    migrate.up(config(database_url, source), 1)
    cfg = guarded(
        database_url, source, statement_lock_timeout=0.5, lock_retries=1, lock_retry_backoff=0.1
    )
    with lock_held(database_url, backend):
        clock = time.monotonic()
        with pytest.raises(TableLockTimeoutError) as raised:
            migrate.up(cfg)
        elapsed = time.monotonic() - clock
        # PostgreSQL can tell exactly who holds the table; MariaDB (performance_schema off)
        # names the open transactions.
        assert raised.value.holder is not None
        assert ("server pid" if backend == "postgresql" else "connection") in raised.value.holder
    error = raised.value
    assert elapsed < 10  # two attempts of ~1 s, not the server's default wait (a day on MySQL)
    assert error.tables == ["users"]
    assert error.attempts == 2
    assert error.statement_index == 1
    assert "users" in str(error) and "ALTER TABLE users" in str(error)
    if backend == "postgresql":
        assert not error.dirty
        assert "rolled back" in str(error)
        assert query(database_url, "SELECT version, dirty FROM schema_migrations") == [(1, False)]
        assert history(database_url)[-1][:2] == (2, "rolled_back")
        assert query(database_url, "SELECT COUNT(*) FROM pg_tables WHERE tablename = 'audit'") == [
            (0,)
        ]
        report = migrate.up(cfg)  # the holder is gone: the same command now works
    else:
        assert error.dirty
        assert "metadb migrate resume" in str(error)
        assert query(database_url, "SELECT version, dirty FROM schema_migrations") == [(2, 1)]
        assert history(database_url)[-1][:3] == (2, "failed", 1)
        report = migrate.resume(cfg)  # continues at the ALTER; the CREATE TABLE ran once
        assert report.steps[0].resumed_at_statement == 1
    assert report.version_after == 2
    assert query(database_url, "SELECT COUNT(*) FROM audit") == [(0,)]


def test_sqlite_migration_gives_up_on_a_busy_writer(
    tmp_path: Path, write_source: WriteSource
) -> None:
    url = f"sqlite:///{tmp_path / 'app.sqlite'}"
    source = write_source(ALTER_BUSY_TABLE)
    migrate.up(config(url, source), 1)
    cfg = guarded(url, source, statement_lock_timeout=0.3, lock_retries=1, lock_retry_backoff=0.1)
    with lock_held(url, "sqlite"), pytest.raises(TableLockTimeoutError) as raised:
        migrate.up(cfg)
    assert not raised.value.dirty
    assert query(url, "SELECT version, dirty FROM schema_migrations") == [(1, 0)]
    with lock_held(url, "sqlite") as holder, holder.released_on_first_retry():
        assert migrate.up(cfg).version_after == 2
    assert "lock timeout" in str(history(url)[-1][3])


@pytest.mark.parametrize("backend", SERVERS, indirect=True)
def test_statement_timeout_stops_a_long_statement(
    database_url: str, backend: str, write_source: WriteSource
) -> None:
    sleep = "SELECT pg_sleep(30)" if backend == "postgresql" else "SELECT SLEEP(30)"
    source = write_source({"000001_slow.up.sql": f"{sleep};", "000001_slow.down.sql": "SELECT 1;"})
    clock = time.monotonic()
    with pytest.raises(MigrationFailedError) as raised:
        migrate.up(guarded(database_url, source, statement_timeout=0.5))
    assert time.monotonic() - clock < 10
    assert not isinstance(raised.value, TableLockTimeoutError)  # not retried: it would time out
    assert "timeout" in raised.value.server_error or "max_statement_time" in (
        raised.value.server_error
    )


def test_guards_end_with_the_step(db: Database) -> None:
    """The SET statements bound the migration's own statements, not the pooled connection's
    later users (version reads, the application using the same engine)."""
    probe = {
        "postgresql": "SELECT current_setting('lock_timeout'), "
        "current_setting('statement_timeout')",
        "mysql": "SELECT @@SESSION.lock_wait_timeout, @@SESSION.innodb_lock_wait_timeout",
        "sqlite": "PRAGMA busy_timeout",
    }[db.url.dialect]
    guards = {"lock_timeout": 2.0, "statement_timeout": 3.0}
    with db.connect() as conn:
        before = conn.exec_driver_sql(probe).one()
        conn.rollback()
        with db.dialect.begin_guarded(conn, **guards):
            during = conn.exec_driver_sql(probe).one()
        assert conn.exec_driver_sql(probe).one() == before
        conn.rollback()
    with db.connect(autocommit=True) as conn:
        with db.dialect.guarded_session(conn, **guards):
            assert conn.exec_driver_sql(probe).one() == during
        assert conn.exec_driver_sql(probe).one() == before
    expected = {"postgresql": ("2s", "3s"), "mysql": (2, 2), "sqlite": (2000,)}
    assert tuple(during) == expected[db.url.dialect]


def test_cli_flags_and_exit_code(postgresql_url: str, write_source: WriteSource) -> None:
    source = write_source(ALTER_BUSY_TABLE)
    migrate.up(config(postgresql_url, source), 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("METADB_")}
    argv = [metadb_executable(), "migrate", "up", "--database", postgresql_url]
    argv += ["--source", str(source), "--statement-lock-timeout", "0.3", "--lock-retries", "0"]
    with lock_held(postgresql_url, "postgresql"):
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 4, result.stderr
    assert "users" in result.stderr and "server pid" in result.stderr
    assert "Traceback" not in result.stderr


def test_guards_refuse_negative_values() -> None:
    with pytest.raises(ConfigError, match="lock_retries"):
        StatementGuards(lock_retries=-1)
    assert [StatementGuards(retry_backoff=1).pause(n) for n in (1, 2, 3, 9)] == [1, 2, 4, 30]


def test_statement_tables_names_what_a_statement_locks() -> None:
    assert statement_tables("ALTER TABLE app.users ADD COLUMN x INT", dialect="mysql") == [
        "app.users"
    ]
    assert statement_tables(
        "UPDATE users SET x = 1 WHERE id IN (SELECT user_id FROM orders)", dialect="postgres"
    ) == ["users", "orders"]


def test_guards_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from metadb.config import load_settings

    monkeypatch.setenv("METADB_STATEMENT_LOCK_TIMEOUT", "2.5")
    monkeypatch.setenv("METADB_LOCK_RETRIES", "7")
    monkeypatch.delenv("METADB_LOCK_TIMEOUT", raising=False)
    cfg = migrate.MigrateConfig.from_settings(load_settings(), statement_timeout=60)
    assert cfg.guards == StatementGuards(
        lock_timeout=2.5, statement_timeout=60, lock_retries=7, retry_backoff=1.0
    )
    assert cfg.lock_timeout == 60  # the migration lock's own timeout is another setting
