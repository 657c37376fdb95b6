"""MySQL and MariaDB (PyMySQL): DDL commits implicitly; the lock is ``GET_LOCK``.

Text: metadb connects with utf8mb4, which is right for every client that does the same (Kubeflow's
model registry, ...). ml-metadata's C++ client does not: it talks over a latin1 connection and
sends UTF-8 bytes, which the server takes for latin1 characters, one per byte, so a utf8mb4
column holds "hÃ©" for "hé". The opt-in text mode "mlmd-latin1" makes metadb store and read
exactly what ml-metadata does (:func:`to_mlmd_latin1`, :func:`from_mlmd_latin1`).
"""

from __future__ import annotations

import codecs
import hashlib
import math
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    Text,
    and_,
    case,
    false,
    func,
    literal,
    or_,
    text,
)
from sqlalchemy.sql.dml import Insert

from metadb.db.dialect import (
    SERVER_POOL_OPTIONS,
    Dialect,
    JsonMember,
    OnWait,
    TextCodec,
    register,
)
from metadb.db.locking import poll_lock
from metadb.db.urls import DatabaseURL, check_mysql_text
from metadb.errors import WriteConflictError

_ADVISORY_LOCK_SALT = 1486364155
_ACCESS_DENIED = {1044, 1045, 1698}
_LOCK_WAIT_TIMEOUT = 1205
_DEADLOCK = 1213


def lock_name(database: str, table: str) -> str:
    """golang-migrate's MySQL lock name: ``GenerateAdvisoryLockId("db:table")``."""
    return str((zlib.crc32(f"{database}:{table}".encode()) * _ADVISORY_LOCK_SALT) & 0xFFFFFFFF)


def _mysql_latin1_table() -> str:
    chars = []
    for byte in range(256):
        try:
            chars.append(bytes([byte]).decode("cp1252"))
        except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D: undefined in cp1252
            chars.append(chr(byte))
    return "".join(chars)


#: MySQL's latin1, byte by byte: cp1252, except that the five bytes cp1252 leaves undefined
#: are the C1 control characters of the same number (U+0081, U+008D, U+008F, U+0090, U+009D).
MYSQL_LATIN1 = _mysql_latin1_table()
_MYSQL_LATIN1_ENCODING = codecs.charmap_build(MYSQL_LATIN1)


def mysql_latin1_decode(data: bytes) -> str:
    """``data`` read as MySQL's latin1: every byte is a character."""
    return codecs.charmap_decode(data, "strict", MYSQL_LATIN1)[0]


def mysql_latin1_encode(text: str) -> bytes:
    """``text`` in MySQL's latin1. Raises UnicodeEncodeError for a character it lacks."""
    return codecs.charmap_encode(text, "strict", _MYSQL_LATIN1_ENCODING)[0]


def to_mlmd_latin1(text: str) -> str:
    """What a utf8mb4 column holds when ml-metadata writes ``text``: its UTF-8 bytes as latin1."""
    return text if text.isascii() else mysql_latin1_decode(text.encode("utf-8"))


def from_mlmd_latin1(stored: str) -> str:
    """The text ml-metadata wrote, from what the column holds (:func:`to_mlmd_latin1` undone).

    A value that ml-metadata cannot have written (a character outside latin1, or bytes that are
    not UTF-8: text from a utf8mb4 client) is returned as it is stored.
    """
    if stored.isascii():
        return stored
    try:
        return mysql_latin1_encode(stored).decode("utf-8")
    except UnicodeError:
        return stored


MLMD_LATIN1 = TextCodec(to_db=to_mlmd_latin1, from_db=from_mlmd_latin1)


class MysqlServer(NamedTuple):
    """The server behind a MySQL-dialect connection (:meth:`MysqlDialect.server`)."""

    #: MariaDB (True) or MySQL (False).
    mariadb: bool
    #: The server's version as numbers, (10, 11, 6); () where the server did not say.
    version: tuple[int, ...]

    @property
    def product(self) -> str:
        """ "MariaDB" or "MySQL", for messages."""
        return "MariaDB" if self.mariadb else "MySQL"


class MysqlDialect(Dialect):
    name = "mysql"
    transactional_ddl = False
    sqlglot_name = "mysql"
    #: SQLAlchemy names the dialect "mariadb" when a URL says so (metadb's own say mysql).
    sqlalchemy_names = ("mysql", "mariadb")
    hash_comments = True
    executable_comments = True
    double_quoted_strings = True
    #: How ml-metadata stores a PROTO property here: the base64 text as bytes.
    mlmd_proto_storage = "base64-bytes"

    def engine_options(self, url: DatabaseURL, *, lock_timeout: float) -> dict[str, Any]:
        return {**SERVER_POOL_OPTIONS, "connect_args": {"connect_timeout": 10}}

    @staticmethod
    def server(conn: Connection) -> MysqlServer:
        """Which server ``conn`` is connected to: MariaDB or MySQL, and its version.

        SQLAlchemy reads both once per engine, on its first connection (``SELECT VERSION()``),
        and keeps them on the engine's dialect: this reads that, no I/O. Called where MariaDB
        and MySQL differ: :meth:`guard_sql`, :meth:`has_recursive_cte`, and the hints' live
        facts (:mod:`metadb.hints.facts_mysql`).
        """
        version: list[int] = []
        for part in conn.dialect.server_version_info or ():
            if not isinstance(part, int):  # ("5.7.44-log": (5, 7, 44, "log"))
                break
            version.append(part)
        mariadb = bool(getattr(conn.dialect, "is_mariadb", False))
        return MysqlServer(mariadb=mariadb, version=tuple(version))

    def has_recursive_cte(self, conn: Connection) -> bool:
        # WITH RECURSIVE: MySQL 8.0.1, MariaDB 10.2.2.
        server = self.server(conn)
        return server.version >= ((10, 2, 2) if server.mariadb else (8, 0, 1))

    def mlmd_text_codec(self, mode: str) -> TextCodec | None:
        return MLMD_LATIN1 if check_mysql_text(mode) == "mlmd-latin1" else None

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
        # GET_LOCK belongs to the session, not to a transaction, so one connection holds it
        # while the migration runs on another. Each poll waits up to 1 s on the server.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            database = conn.execute(text("SELECT DATABASE()")).scalar_one()
            name = lock_name(database, table)

            def try_acquire() -> bool:
                got = conn.execute(text("SELECT GET_LOCK(:n, 1)"), {"n": name}).scalar()
                return got == 1

            poll_lock(
                try_acquire,
                lambda: self._holder(conn, name),
                what=f"migration lock (MySQL GET_LOCK('{name}'))",
                timeout=timeout,
                on_wait=on_wait,
            )
            try:
                yield
            finally:
                if not conn.invalidated:
                    conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": name})

    @staticmethod
    def _holder(conn: Connection, name: str) -> str | None:
        session = conn.execute(text("SELECT IS_USED_LOCK(:n)"), {"n": name}).scalar()
        if session is None:
            return None
        row = conn.execute(
            text("SELECT USER, HOST, TIME FROM information_schema.PROCESSLIST WHERE ID = :id"),
            {"id": session},
        ).first()
        if row is None:
            return f"connection {session}"
        return f"connection {session} (user {row.USER} from {row.HOST}, {row.TIME}s in its state)"

    def insert_ignoring_duplicates(self, table: Table) -> Insert:
        return table.insert().prefix_with("IGNORE")

    def is_auth_failure(self, exc: BaseException) -> bool:
        return _error_code(exc) in _ACCESS_DENIED

    def is_lock_timeout(self, exc: BaseException) -> bool:
        return _error_code(exc) == _LOCK_WAIT_TIMEOUT

    def is_retryable(self, exc: BaseException) -> bool:
        return _error_code(exc) in (_LOCK_WAIT_TIMEOUT, _DEADLOCK)

    def guard_sql(
        self, conn: Connection, *, lock_timeout: float, statement_timeout: float
    ) -> list[str]:
        sql = []
        if lock_timeout > 0:
            # Whole seconds, at least 1. lock_wait_timeout bounds metadata-lock waits (DDL
            # behind an open transaction); innodb_lock_wait_timeout bounds row-lock waits (DML).
            seconds = max(1, math.ceil(lock_timeout))
            sql.append(f"SET SESSION lock_wait_timeout = {seconds}")
            sql.append(f"SET SESSION innodb_lock_wait_timeout = {seconds}")
        if statement_timeout > 0:
            if self.server(conn).mariadb:
                sql.append(f"SET SESSION max_statement_time = {statement_timeout:.6f}")
            else:
                # MySQL's max_execution_time bounds SELECT statements only: DDL and DML in a
                # migration run without a time limit there.
                sql.append(f"SET SESSION max_execution_time = {round(statement_timeout * 1000)}")
        return sql

    def unguard_sql(self, conn: Connection) -> list[str]:
        names = ["lock_wait_timeout", "innodb_lock_wait_timeout"]
        names.append("max_statement_time" if self.server(conn).mariadb else "max_execution_time")
        return [f"SET SESSION {name} = DEFAULT" for name in names]

    def lock_holders(self, conn: Connection, tables: Sequence[str]) -> str | None:
        # performance_schema.metadata_locks names the holders exactly, but MariaDB ships with
        # performance_schema off; then the open transactions are the candidates.
        holders = []
        for table in tables:
            schema, _, name = table.rpartition(".")
            rows = conn.execute(
                text(
                    "SELECT t.PROCESSLIST_ID AS id, t.PROCESSLIST_USER AS user, "
                    "t.PROCESSLIST_HOST AS host, m.LOCK_TYPE AS mode "
                    "FROM performance_schema.metadata_locks m "
                    "JOIN performance_schema.threads t ON t.THREAD_ID = m.OWNER_THREAD_ID "
                    "WHERE m.OBJECT_TYPE = 'TABLE' AND m.LOCK_STATUS = 'GRANTED' "
                    "AND m.OBJECT_SCHEMA = COALESCE(:s, DATABASE()) AND m.OBJECT_NAME = :n "
                    "AND t.PROCESSLIST_ID <> CONNECTION_ID()"
                ),
                {"s": schema or None, "n": name},
            )
            holders += [
                f"connection {r.id} (user {r.user} from {r.host}, {r.mode} on {table})"
                for r in rows
            ]
        if holders:
            return "; ".join(holders)
        rows = conn.execute(
            text(
                "SELECT p.ID AS id, p.USER AS user, p.HOST AS host, p.COMMAND AS command, "
                "TIMESTAMPDIFF(SECOND, x.trx_started, NOW()) AS seconds "
                "FROM information_schema.INNODB_TRX x "
                "JOIN information_schema.PROCESSLIST p ON p.ID = x.trx_mysql_thread_id "
                "WHERE p.ID <> CONNECTION_ID() ORDER BY x.trx_started LIMIT 3"
            )
        )
        candidates = [
            f"connection {r.id} (user {r.user} from {r.host}, {r.command}, in a transaction "
            f"open for {r.seconds}s)"
            for r in rows
        ]
        if not candidates:
            return None
        return "one of the open transactions: " + "; ".join(candidates)

    def json_member(self, document: ColumnElement[Any], key: str) -> JsonMember:
        # MariaDB's JSON functions are lax: JSON_VALID accepts what json.loads rejects (unknown
        # escapes like "\x41", numbers like "2." and "1E", raw control characters), and
        # JSON_EXTRACT keeps the first of repeated keys, does not match escaped keys and gives
        # up (NULL) past 31 levels of nesting. So SQL is trusted only with plain documents: a
        # JSON object in strict RFC 8259 syntax without a single backslash, whose top level
        # holds the key at most once (one PCRE pattern checks both; where it gives up, "match
        # limit exceeded" is a warning and no match), and that JSON_VALID parses whole (at most
        # 31 levels: json.loads raises RecursionError near 1,000). There both read the same
        # tree and unquoting is the identity; the other documents go to Python.
        if not key.isidentifier() or not key.isascii():
            raise ValueError(f"json_member: key {key!r} is not a plain identifier")
        plain = literal(plain_json_object_pattern(key), Text)
        exact = or_(
            document.is_(None),
            and_(
                document.op("REGEXP", is_comparison=True)(plain),
                func.json_valid(document) == 1,
            ),
        )
        # Two JSON_EXTRACTs cost less than one REGEXP_REPLACE capturing the member.
        extracted = func.json_extract(document, literal(f"$.{key}", Text))
        member = case((func.left(extracted, 1) == '"', func.json_unquote(extracted)))
        # Exact documents are NULL or objects, never a JSON string.
        return JsonMember(exact=exact, text=member, is_string=false())

    def create_database(self, conn: Connection, name: str) -> None:
        quoted = conn.dialect.identifier_preparer.quote_identifier(name)
        conn.exec_driver_sql(
            f"CREATE DATABASE {quoted} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )

    def database_exists(self, conn: Connection, name: str) -> bool:
        found = conn.execute(
            text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :n"), {"n": name}
        ).first()
        return found is not None

    def drop_database(self, conn: Connection, name: str) -> None:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")

    @contextmanager
    def named_lock(self, conn: Connection, key: str, *, timeout: float) -> Iterator[None]:
        # GET_LOCK belongs to the session, not to the transaction, and its names are
        # server-wide: the name hashes the database with the key. The session leaves this
        # block after the transaction ended, whether it committed or failed, and the lock is
        # released here; a dropped connection releases it on the server.
        name = named_lock_name(conn.engine.url.database or "", key)
        got = conn.execute(
            text("SELECT GET_LOCK(:n, :t)"), {"n": name, "t": max(1, math.ceil(timeout))}
        ).scalar()
        if got != 1:  # 0: timed out; NULL: killed or failed
            holder = self._holder(conn, name) or "another connection"
            raise WriteConflictError(
                doing=f"waiting for the lock on {key!r}",
                attempts=1,
                detail=f"GET_LOCK('{name}') gave up after {timeout:g}s; held by {holder}",
            )
        try:
            yield
        finally:
            if not conn.invalidated:
                conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": name})

    # -- limits (metadb.store.limits, metadb.store.session) -----------------------------------

    #: ml-metadata's columns: uri and the other text columns are TEXT (65,535 bytes),
    #: string_value is MEDIUMTEXT (16 MiB). Their indexes take a 255-character prefix, so
    #: only the column's width limits a value.
    text_max_bytes: ClassVar[dict[str, int]] = {
        "uri": 65_535,
        "string_value": 16_777_215,
        "text": 65_535,
    }

    def statement_timeout_sql(self, conn: Connection, seconds: float) -> str | None:
        if self.server(conn).mariadb:
            return f"SET SESSION max_statement_time = {seconds:g}"  # every statement
        return f"SET SESSION max_execution_time = {math.ceil(seconds * 1000)}"  # SELECTs only

    def is_statement_timeout(self, exc: BaseException) -> bool:
        return _error_code(exc) in _STATEMENT_TIMEOUT


_WS = r"[ \t\n\r]*+"
_STRING = r'"[^"\\\x00-\x1f]*+"'
_NUMBER = r"-?+(?:0|[1-9][0-9]{0,999})(?:\.[0-9]++)?+(?:[eE][-+]?+[0-9]++)?+"
_PAIR = rf"{_STRING}{_WS}:{_WS}(?&v){_WS}"
_ARRAY = rf"\[{_WS}(?:(?&v){_WS}(?:,{_WS}(?&v){_WS})*+)?+\]"
_VALUE = (
    rf"(?(DEFINE)(?<v>(?&o)|{_ARRAY}|{_STRING}|{_NUMBER}|true|false|null)"
    rf"(?<o>\{{{_WS}(?:{_PAIR}(?:,{_WS}{_PAIR})*+)?+\}}))"
)


def plain_json_object_pattern(key: str) -> str:
    """A PCRE pattern matching a JSON object in RFC 8259's syntax, without backslashes or
    control characters in its strings, whose top level has the member ``key`` (an ASCII
    identifier) at most once (group "member" captures it, quotes included, where it is a
    string). ``json.loads`` reads every text it matches (integers stop at 1,000 digits, below
    Python's limit on int()). ``(?-i)``: REGEXP follows the column's
    collation, which may ignore case."""
    # One pair of the top level: the key sets group 1 ("seen") and fails if it is set
    # already. Each pair is followed by a comma and another pair, or by the closing brace.
    pair = (
        rf'(?:"{key}"(?(<seen>)(*FAIL))(?<seen>){_WS}:{_WS}(?>(?<member>{_STRING})|(?&v))'
        rf'|"(?!{key}")[^"\\\x00-\x1f]*+"{_WS}:{_WS}(?&v))'
        rf"{_WS}(?:,{_WS}(?=\")|(?=\}}))"
    )
    return rf"(?-i)\A{_WS}\{{{_WS}(?:{pair})*+\}}{_WS}\z{_VALUE}"


#: MariaDB's ER_STATEMENT_TIMEOUT (max_statement_time), MySQL's ER_QUERY_TIMEOUT
#: (max_execution_time).
_STATEMENT_TIMEOUT = (1969, 3024)


def _error_code(exc: BaseException) -> int | None:
    """PyMySQL errors carry the server's error number as their first argument."""
    args: tuple[object, ...] = exc.args
    return args[0] if args and isinstance(args[0], int) else None


def named_lock_name(database: str, key: str) -> str:
    """The GET_LOCK name of :meth:`MysqlDialect.named_lock`: under MySQL's 64 characters,
    distinct per database."""
    digest = hashlib.sha1(f"{database}\x00{key}".encode()).hexdigest()
    return f"metadb:{digest}"


register(MysqlDialect())
