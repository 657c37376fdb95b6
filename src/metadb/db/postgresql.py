"""PostgreSQL (psycopg 3): transactional DDL and an advisory lock held by an idle connection."""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Engine,
    Table,
    Text,
    case,
    cast,
    func,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.sql.dml import Insert

from metadb.db.dialect import (
    SERVER_POOL_OPTIONS,
    Dialect,
    JsonMember,
    OnWait,
    client_label,
    register,
)
from metadb.db.locking import poll_lock
from metadb.db.urls import DatabaseURL

#: SQLSTATEs of a transaction that lost a race: serialization_failure, deadlock_detected,
#: lock_not_available.
_RETRYABLE = {"40001", "40P01", "55P03"}
#: First half of the two-integer advisory lock keys of :meth:`PostgresqlDialect.session_lock`
#: (golang-migrate's and metadb's migration locks use one bigint key: another key space).
_SESSION_LOCK_CLASS = 0x6D646221  # "mdb!"

# golang-migrate's salt; using its key derivation makes metadb and golang-migrate exclude
# each other when both point at the same version table.
_ADVISORY_LOCK_SALT = 1486364155


def _guard_sql(verb: str, *, lock_timeout: float, statement_timeout: float) -> list[str]:
    # Milliseconds, as PostgreSQL's own unit for both settings; 0 disables the bound.
    return [
        f"{verb} lock_timeout = {round(lock_timeout * 1000)}",
        f"{verb} statement_timeout = {round(statement_timeout * 1000)}",
    ]


def advisory_lock_id(database: str, schema: str, table: str) -> int:
    """golang-migrate's ``GenerateAdvisoryLockId(database, schema, table)``."""
    joined = "\x00".join([schema, table, database]).encode()
    return (zlib.crc32(joined) * _ADVISORY_LOCK_SALT) & 0xFFFFFFFF


class PostgresqlDialect(Dialect):
    name = "postgresql"
    transactional_ddl = True
    sqlglot_name = "postgres"
    sqlalchemy_names = ("postgresql",)
    #: ml-metadata created its tables with unquoted names, which PostgreSQL folds to lower case.
    mlmd_lower_case_names = True
    #: How ml-metadata stores a PROTO property here: the serialized bytes (bytea).
    mlmd_proto_storage = "raw"

    def engine_options(self, url: DatabaseURL, *, lock_timeout: float) -> dict[str, Any]:
        return {
            **SERVER_POOL_OPTIONS,
            "connect_args": {"connect_timeout": 10, "application_name": client_label()},
        }

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
        # The lock lives on its own connection, idle outside any transaction, so a
        # CREATE INDEX CONCURRENTLY in the migration (which waits for every open transaction)
        # cannot deadlock against it. pg_try_advisory_lock is polled because
        # pg_advisory_lock would wait forever.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            database, schema = conn.execute(
                text("SELECT current_database(), current_schema()")
            ).one()
            key = advisory_lock_id(database, schema, table)

            def try_acquire() -> bool:
                return bool(
                    conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
                )

            poll_lock(
                try_acquire,
                lambda: self._holder(conn, key),
                what=f"migration lock (PostgreSQL advisory lock {key})",
                timeout=timeout,
                on_wait=on_wait,
            )
            try:
                yield
            finally:
                if not conn.invalidated:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})

    @staticmethod
    def _holder(conn: Connection, key: int) -> str | None:
        row = conn.execute(
            text(
                "SELECT a.pid, a.usename, a.application_name, a.client_addr, a.backend_start "
                "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 "
                "AND l.objid::bigint = :k AND l.objsubid = 1"
            ),
            {"k": key},
        ).first()
        if row is None:
            return None
        app = f" '{row.application_name}'" if row.application_name else ""
        return (
            f"server pid {row.pid} (user {row.usename}{app} from {row.client_addr or 'local'}, "
            f"connected since {row.backend_start:%Y-%m-%d %H:%M:%S})"
        )

    def insert_ignoring_duplicates(self, table: Table) -> Insert:
        return pg_insert(table).on_conflict_do_nothing()

    def is_auth_failure(self, exc: BaseException) -> bool:
        message = str(exc)
        return "password authentication failed" in message or (
            "role" in message and "does not exist" in message
        )

    def is_lock_timeout(self, exc: BaseException) -> bool:
        return getattr(exc, "sqlstate", None) == "55P03"  # lock_not_available

    @contextmanager
    def begin_serializable(self, conn: Connection) -> Iterator[Any]:
        # SET TRANSACTION, not the isolation_level execution option: that one stays on the
        # connection, and the runner's counts and state reads need no SSI locks.
        with conn.begin() as transaction:
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
            yield transaction

    def is_retryable(self, exc: BaseException) -> bool:
        return getattr(exc, "sqlstate", None) in _RETRYABLE

    @contextmanager
    def session_lock(self, conn: Connection, name: str) -> Iterator[None]:
        # Taken before the batch's transaction begins, because a SERIALIZABLE transaction that
        # waits for a row another runner changes fails when it gets it; waiting here instead
        # gives the next transaction a snapshot taken after the other runner committed.
        # pg_advisory_lock queues the waiters, so two runners take turns.
        key = {"c": _SESSION_LOCK_CLASS, "k": zlib.crc32(name.encode()) & 0x7FFFFFFF}
        with conn.begin():
            conn.execute(text("SET LOCAL lock_timeout = '60s'"))
            conn.execute(text("SELECT pg_advisory_lock(:c, :k)"), key)
        try:
            yield
        finally:
            if not conn.invalidated:
                if conn.in_transaction():
                    conn.rollback()
                with conn.begin():
                    conn.execute(text("SELECT pg_advisory_unlock(:c, :k)"), key)

    def guard_sql(
        self, conn: Connection, *, lock_timeout: float, statement_timeout: float
    ) -> list[str]:
        return _guard_sql("SET", lock_timeout=lock_timeout, statement_timeout=statement_timeout)

    def unguard_sql(self, conn: Connection) -> list[str]:
        return ["RESET lock_timeout", "RESET statement_timeout"]

    @contextmanager
    def begin_guarded(
        self, conn: Connection, *, lock_timeout: float, statement_timeout: float
    ) -> Iterator[Any]:
        # SET LOCAL ends with the transaction, whether it commits or rolls back.
        with self.begin_write(conn) as transaction:
            for sql in _guard_sql(
                "SET LOCAL", lock_timeout=lock_timeout, statement_timeout=statement_timeout
            ):
                conn.exec_driver_sql(sql)
            yield transaction

    def lock_holders(self, conn: Connection, tables: Sequence[str]) -> str | None:
        holders = []
        for table in tables:
            rows = conn.execute(
                text(
                    "SELECT a.pid, a.usename, a.application_name, a.state, l.mode, "
                    "extract(epoch FROM now() - a.xact_start)::int AS seconds, "
                    "left(regexp_replace(a.query, '\\s+', ' ', 'g'), 120) AS query "
                    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'relation' AND l.granted "
                    "AND l.relation = to_regclass(:t) AND a.pid <> pg_backend_pid() "
                    "ORDER BY a.xact_start LIMIT 3"
                ),
                {"t": table},
            )
            for row in rows:
                app = f" '{row.application_name}'" if row.application_name else ""
                holders.append(
                    f"server pid {row.pid} (user {row.usename}{app}, {row.mode} on {table}, "
                    f"{row.state} in a transaction open for {row.seconds}s, last query: "
                    f"{row.query!r})"
                )
        return "; ".join(holders) or None

    def json_member(self, document: ColumnElement[Any], key: str) -> JsonMember:
        # jsonb reads JSON as json.loads does (a repeated key keeps its last value). Text that is
        # not JSON makes the cast fail with a DataError; PostgreSQL 15 has no way to test it
        # first (pg_input_is_valid is 16+), so callers catch that and leave the batch to Python.
        # The cast sits in a derived table so that a document is parsed once per row.
        if isinstance(document.type, JSON):
            parsed: ColumnElement[Any] = document
            value = self._string_member(parsed, key)
        else:
            inner = (
                select(cast(func.nullif(document, ""), JSONB).label("v"))
                .correlate_except()
                .subquery("metadb_json")
            )
            parsed = cast(func.nullif(document, ""), JSONB)
            value = select(self._string_member(inner.c.v, key)).scalar_subquery()
        return JsonMember(exact=true(), text=value, is_string=func.jsonb_typeof(parsed) == "string")

    @staticmethod
    def _string_member(parsed: ColumnElement[Any], key: str) -> ColumnElement[Any]:
        member = parsed.op("->")(key)
        return case(
            (func.jsonb_typeof(member) == "string", parsed.op("->>", return_type=Text)(key))
        )

    def create_database(self, conn: Connection, name: str) -> None:
        quoted = conn.dialect.identifier_preparer.quote_identifier(name)
        _autocommit(conn).exec_driver_sql(f"CREATE DATABASE {quoted}")

    def database_exists(self, conn: Connection, name: str) -> bool:
        found = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first()
        return found is not None

    def drop_database(self, conn: Connection, name: str) -> None:
        _autocommit(conn).exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @contextmanager
    def named_lock(self, conn: Connection, key: str, *, timeout: float) -> Iterator[None]:
        # One round trip: a transaction-scoped advisory lock, which the server releases when
        # the transaction ends (commit, rollback, a dropped connection), so leaving the block
        # has nothing to do, and which works behind a transaction pooler (PgBouncer). It waits
        # as a row lock does: for as long as the holder's transaction runs, unless the
        # server's lock_timeout is set (55P03, which the session retries). Its two-integer key
        # space is apart from the migration lock's bigint keys (golang-migrate's too).
        conn.execute(_NAMED_LOCK, {"c": _NAMED_LOCK_CLASS, "k": named_lock_key(key)})
        yield

    # -- limits (metadb.store.limits, metadb.store.session) -----------------------------------

    text_accepts_nul = False
    #: A btree index row holds at most 2,704 bytes. idx_artifact_uri indexes uri alone;
    #: idx_*_property_string indexes (name, is_custom_property, string_value), and a name of
    #: 255 four-byte characters leaves string_value about 1,660 bytes. Compressible text may
    #: fit beyond that; these bounds hold for any text.
    text_max_bytes: ClassVar[dict[str, int]] = {"uri": 2_600, "string_value": 1_600}

    def statement_timeout_sql(self, conn: Connection, seconds: float) -> str | None:
        return f"SET statement_timeout = {math.ceil(seconds * 1000)}"  # 0: none

    def is_statement_timeout(self, exc: BaseException) -> bool:
        return getattr(exc, "sqlstate", None) == "57014"  # query_canceled


def _autocommit(conn: Connection) -> Connection:
    """``conn`` switched to AUTOCOMMIT (CREATE/DROP DATABASE cannot run in a transaction),
    unless it is already: SQLAlchemy refuses the switch once the connection has run a
    statement."""
    if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return conn
    return conn.execution_options(isolation_level="AUTOCOMMIT")


#: First half of the two-integer keys of :meth:`PostgresqlDialect.named_lock`.
_NAMED_LOCK_CLASS = 0x6D64626C  # "mdbl"
_NAMED_LOCK = text("SELECT pg_advisory_xact_lock(:c, :k)")


def named_lock_key(key: str) -> int:
    """The int4 half of a named lock's advisory key: CRC-32 of ``key``, signed. Two keys that
    collide only make their writers take turns."""
    value = zlib.crc32(key.encode())
    return value - (1 << 32) if value >= 1 << 31 else value


register(PostgresqlDialect())
