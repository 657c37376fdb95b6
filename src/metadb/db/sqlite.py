"""SQLite (the standard library's sqlite3): WAL, BEGIN IMMEDIATE, and a lock file for runs.

pysqlite's own transaction handling is switched off (``isolation_level = None``) and metadb
emits ``BEGIN`` itself, as SQLAlchemy's documentation recommends, so that DDL is transactional
and a migration step can take the write lock up front with ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    and_,
    case,
    event,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.dml import Insert

from metadb.db.dialect import Dialect, JsonMember, OnWait, client_label, register
from metadb.db.locking import poll_lock
from metadb.db.urls import DatabaseURL

try:
    import fcntl
except ImportError:  # Windows: runs are then serialised by BEGIN IMMEDIATE alone
    fcntl = None  # type: ignore[assignment]

#: Execution option that makes the next transaction BEGIN IMMEDIATE (take the write lock now).
WRITE_OPTION = "metadb_sqlite_write"


class SqliteDialect(Dialect):
    name = "sqlite"
    transactional_ddl = True
    sqlglot_name = "sqlite"
    sqlalchemy_names = ("sqlite",)
    #: How ml-metadata stores a PROTO property here: base64 text in a BLOB column.
    mlmd_proto_storage = "base64-text"
    mlmd_int_bits = 64

    def engine_options(self, url: DatabaseURL, *, lock_timeout: float) -> dict[str, Any]:
        # sqlite3's timeout is the busy timeout: how long a writer waits for another writer.
        return {"connect_args": {"timeout": lock_timeout, "check_same_thread": False}}

    def configure_engine(self, engine: Engine, *, lock_timeout: float) -> None:
        memory = engine.url.database in (None, "", ":memory:")

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None
            if not memory:
                dbapi_conn.execute("PRAGMA journal_mode=WAL")

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            options = conn.get_execution_options()
            if options.get("isolation_level") == "AUTOCOMMIT":
                return  # each statement commits on its own
            immediate = options.get(WRITE_OPTION, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    def begin_write(self, conn: Connection) -> Any:
        # Connection.execution_options() changes the connection itself, and the "begin" hook
        # runs inside begin(): switch the option on for this BEGIN only.
        conn.execution_options(**{WRITE_OPTION: True})
        try:
            return conn.begin()
        finally:
            conn.execution_options(**{WRITE_OPTION: False})

    def reserve_ids(self, conn: Connection, table: Table, count: int) -> int | None:
        # SQLAlchemy cannot batch INSERT ... RETURNING here with the rows' order kept (SQLite
        # does not promise RETURNING's order), so it sends one statement per row. A metadata
        # store write holds SQLite's write lock from BEGIN IMMEDIATE, so no other writer can
        # take ids between this read and the insert; AUTOINCREMENT's next id is past both the
        # largest id ever handed out (sqlite_sequence) and the largest present. Were the lock
        # not held, the insert would fail on the primary key, never reuse an id.
        quoted = conn.dialect.identifier_preparer.quote(table.name)
        last = conn.exec_driver_sql(
            "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = ?), 0), "
            f"COALESCE((SELECT MAX(id) FROM {quoted}), 0))",
            (table.name,),
        ).scalar_one()
        return int(last) + 1

    @contextmanager
    def migration_lock(
        self,
        engine: Engine,
        url: DatabaseURL,
        *,
        table: str,
        timeout: float,
        on_wait: OnWait,
    ) -> Iterator[None]:
        # Each migration step already runs under BEGIN IMMEDIATE with the version re-read inside,
        # which alone keeps concurrent runs correct. The lock file beside the database adds what
        # SQLite cannot say: who is migrating, and a whole run at a time (non-transactional files).
        path = url.database
        if path is None or fcntl is None:
            with nullcontext():
                yield
            return
        lock_path = Path(f"{path}.metadb-lock")
        with open(lock_path, "a+") as handle:

            def try_acquire() -> bool:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return False
                return True

            def holder() -> str | None:
                handle.seek(0)
                return handle.read().strip() or None

            poll_lock(
                try_acquire,
                holder,
                what=f"migration lock ({lock_path})",
                timeout=timeout,
                on_wait=on_wait,
            )
            try:
                handle.seek(0)
                handle.truncate()
                handle.write(f"{client_label()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
                handle.flush()
                yield
            finally:
                handle.seek(0)
                handle.truncate()
                handle.flush()
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    @contextmanager
    def guarded_session(
        self, conn: Connection, *, lock_timeout: float, statement_timeout: float
    ) -> Iterator[None]:
        # SQLite's only lock wait is the busy timeout: how long a writer (BEGIN IMMEDIATE, or a
        # write in autocommit) waits for another writer; a waiting writer queues nobody behind
        # it. Set on the sqlite3 connection itself, because a statement through SQLAlchemy would
        # begin a transaction. SQLite has no statement timeout: ``statement_timeout`` is unused.
        if lock_timeout <= 0:  # 0 means "wait forever" elsewhere; keep the connect timeout
            yield
            return
        raw = conn.connection.driver_connection
        assert raw is not None
        before = raw.execute("PRAGMA busy_timeout").fetchone()[0]
        raw.execute(f"PRAGMA busy_timeout = {round(lock_timeout * 1000)}")
        try:
            yield
        finally:
            if not conn.invalidated:
                raw.execute(f"PRAGMA busy_timeout = {int(before)}")

    @contextmanager
    def begin_guarded(
        self, conn: Connection, *, lock_timeout: float, statement_timeout: float
    ) -> Iterator[Any]:
        # The busy timeout must be in force before BEGIN IMMEDIATE, which is where SQLite waits.
        with (
            self.guarded_session(
                conn, lock_timeout=lock_timeout, statement_timeout=statement_timeout
            ),
            self.begin_write(conn) as transaction,
        ):
            yield transaction

    def insert_ignoring_duplicates(self, table: Table) -> Insert:
        return sqlite_insert(table).on_conflict_do_nothing()

    def is_auth_failure(self, exc: BaseException) -> bool:
        return False

    def json_member(self, document: ColumnElement[Any], key: str) -> JsonMember:
        # json_valid agrees with json.loads except where SQLite reads C strings: it stops at a
        # NUL character, and its JSON functions cut a decoded "\u0000" short. Those documents
        # go to Python. (GLOB scans faster than instr; a GLOB pattern cannot hold a NUL.)
        exact = or_(
            document.is_(None),
            and_(
                func.json_valid(document) == 1,
                func.instr(document, func.char(0)) == 0,
                not_(document.op("GLOB", is_comparison=True)(literal("*\\u0000*"))),
            ),
        )
        # json_extract takes the first of repeated keys and does not match an escaped key
        # ("n\u0061me"), where Python takes the last and matches. So json_extract reads only
        # documents without "\u" that hold the quoted key at most once; json_each (three times
        # slower; decoded keys, the last one wins) reads the others. SQLite caches a parsed
        # document for the statement, so json_valid, json_type and json_extract parse it once.
        quoted = json.dumps(key)
        path = f"$.{quoted}"
        plain = not_(
            or_(
                document.op("GLOB", is_comparison=True)(literal("*\\u*")),
                document.op("GLOB", is_comparison=True)(literal(f"*{quoted}*{quoted}*")),
            )
        )
        extracted = case(
            (func.json_type(document, path) == "text", func.json_extract(document, path))
        )
        members = func.json_each(document).table_valued("key", "value", "type", "id")
        each = (
            select(case((members.c.type == "text", members.c.value)))
            .where(members.c.key == key)
            .order_by(members.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        return JsonMember(
            exact=exact,
            text=case((plain, extracted), else_=each),
            is_string=func.json_type(document) == "text",
        )

    def is_lock_timeout(self, exc: BaseException) -> bool:
        return "database is locked" in str(exc)

    def create_database(self, conn: Connection, name: str) -> None:
        Path(name).touch()

    def database_exists(self, conn: Connection, name: str) -> bool:
        return Path(name).is_file()

    def drop_database(self, conn: Connection, name: str) -> None:
        for suffix in ("", "-wal", "-shm", "-journal", ".metadb-lock"):
            if os.path.exists(name + suffix):
                os.remove(name + suffix)


register(SqliteDialect())
