"""What differs between SQLite, PostgreSQL and MySQL/MariaDB, behind one small interface.

Core code never asks which database it is talking to; it asks the dialect object
(:func:`dialect_for`, or :func:`dialect_of` for a connection). Differences are class attributes
(``transactional_ddl``) or overridden methods. One module per dialect holds its class:
:mod:`metadb.db.sqlite`, :mod:`metadb.db.postgresql`, :mod:`metadb.db.mysql`.

A feature whose implementation differs per database in more than a hook (live facts for the
hints, credential managers, data-metrics readers, the runs search's semi-joins) keeps one
implementation per dialect in a :class:`DialectRegistry`, the one mechanism for that: the
feature module creates the registry and fills it; callers look it up by dialect.
tests/db/test_dialect_contract.py holds every dialect and every registry to the same contract.
"""

from __future__ import annotations

import getpass
import importlib
import os
import socket
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, ClassVar, Generic, NamedTuple, TypeVar

from sqlalchemy import ColumnElement, Connection, Engine, Table
from sqlalchemy.sql.dml import Insert

from metadb.db.urls import DIALECTS, DatabaseURL, check_mysql_text

#: Called once when a lock is not free, with a description of who holds it (or None).
OnWait = Callable[[str | None], None]

#: Connection pool of a client-server database (PostgreSQL, MySQL), sized for ``metadb serve``
#: (FastAPI runs up to 40 requests at once in its thread pool): 10 connections kept, 20 more
#: under load, 30 s to wait for a free one. Each connection is pinged when it is taken from the
#: pool, so connections the server closed (a restart, pg_terminate_backend, KILL, an idle
#: timeout) are replaced there instead of failing a request; recycled after 30 minutes so that
#: none outlives a proxy's or the server's idle timeout.
SERVER_POOL_OPTIONS: dict[str, Any] = {
    "pool_size": 10,
    "max_overflow": 20,
    "pool_timeout": 30,
    "pool_pre_ping": True,
    "pool_recycle": 1800,
}


class TextCodec(NamedTuple):
    """How the string values of MLMD's tables differ between Python and the database."""

    #: A Python string to the value the database is to hold.
    to_db: Callable[[str], str]
    #: A value the database holds to the Python string.
    from_db: Callable[[str], str]


class JsonMember(NamedTuple):
    """SQL that reads one member of a JSON document the way Python's ``json.loads`` does.

    Built by :meth:`Dialect.json_member`. ``text`` and ``is_string`` may raise on text that is
    not JSON: evaluate them only where ``exact`` is true (``CASE WHEN exact THEN ... END``).
    """

    #: True where the database reads the document exactly as ``json.loads`` does (SQL NULL
    #: counts as read); false where it might read it differently: Python decides those rows.
    exact: ColumnElement[Any]
    #: The member's value where the document is a JSON object whose member is a JSON string
    #: (the last one when the key repeats, as in Python); NULL otherwise.
    text: ColumnElement[Any]
    #: True where the document is a JSON string.
    is_string: ColumnElement[Any]


class Dialect(ABC):
    """One database family's behaviour. Stateless: one instance serves every engine."""

    #: The name used in URLs, source sub-directories and messages.
    name: ClassVar[str]
    #: DDL runs inside a transaction and rolls back with it (PostgreSQL, SQLite; not MySQL).
    transactional_ddl: ClassVar[bool]
    #: sqlglot's name for the dialect, used to split and parse statements.
    sqlglot_name: ClassVar[str]
    #: How ml-metadata stores a PROTO property value (a serialized google.protobuf.Any):
    #: "raw" bytes, "base64-bytes" or "base64-text".
    mlmd_proto_storage: ClassVar[str]
    #: Width of ml-metadata's ``int_value`` column: INT (32) on PostgreSQL and MySQL, SQLite's
    #: INTEGER (64). A property value past it is refused before it reaches the database.
    mlmd_int_bits: ClassVar[int] = 32
    #: ml-metadata's tables are named in lower case ("artifact", not "Artifact"): PostgreSQL,
    #: where ml-metadata created them with unquoted names. Read by :mod:`metadb.store.tables`.
    mlmd_lower_case_names: ClassVar[bool] = False
    #: The names SQLAlchemy gives this dialect (``conn.dialect.name``); :func:`dialect_of`
    #: maps a connection back to its dialect with them.
    sqlalchemy_names: ClassVar[tuple[str, ...]]
    #: Lexical rules of the SQL the migration splitter (:mod:`metadb.migrate.splitter`) must
    #: know beyond sqlglot's tokens: ``#`` starts a comment to the end of the line (MySQL).
    hash_comments: ClassVar[bool] = False
    #: ``/*! ... */`` is a comment the server runs (MySQL, as in mysqldump output): the
    #: splitter keeps it as, or with, a statement.
    executable_comments: ClassVar[bool] = False
    #: ``"..."`` quotes a string, not an identifier (MySQL without ANSI_QUOTES). Read by the
    #: splitter to name what an unterminated quote opened.
    double_quoted_strings: ClassVar[bool] = False

    def engine_options(self, url: DatabaseURL, *, lock_timeout: float) -> dict[str, Any]:
        """Keyword arguments for :func:`sqlalchemy.create_engine`. Called by ``Database``."""
        return {}

    def configure_engine(self, engine: Engine, *, lock_timeout: float) -> None:  # noqa: B027
        """Attach event hooks to a new engine (no I/O). Called once by ``Database``."""

    @abstractmethod
    def migration_lock(
        self,
        engine: Engine,
        url: DatabaseURL,
        *,
        table: str,
        timeout: float,
        on_wait: OnWait,
    ) -> AbstractContextManager[None]:
        """Hold the lock that lets one migration run at a time on this database.

        Called by the migration runner around a whole run. Waits up to ``timeout`` seconds,
        calling ``on_wait(holder)`` once if the lock is taken, then raises
        :class:`~metadb.errors.LockTimeoutError`.
        """

    def mlmd_text_codec(self, mode: str) -> TextCodec | None:
        """The conversion of MLMD's string values in text ``mode`` (one of
        :data:`~metadb.db.urls.MYSQL_TEXT_MODES`), or None when strings go as they are.

        Only MySQL has a mode that converts: ml-metadata stores proper UTF-8 on SQLite and
        PostgreSQL, so every mode is the same there. Called by
        :func:`metadb.store.tables.mlmd_tables`.

        Raises:
            ConfigError: ``mode`` is not a text mode.
        """
        check_mysql_text(mode)
        return None

    def begin_write(self, conn: Connection) -> AbstractContextManager[Any]:
        """Open a write transaction that takes the write lock up front where the database
        has one (SQLite: BEGIN IMMEDIATE). Called by the migration runner for each step, the
        metadata store's write sessions and the backfill runner."""
        return conn.begin()

    def begin_serializable(self, conn: Connection) -> AbstractContextManager[Any]:
        """Open a transaction for writes that race with other writers, at the isolation that
        makes the race safe: a conflict fails the transaction (:meth:`is_retryable` says so)
        instead of writing a wrong result. Called by the backfill runner for each batch.

        The base class uses :meth:`begin_write` (SQLite: BEGIN IMMEDIATE, writers go one at a
        time). MySQL keeps REPEATABLE READ: INSERT ... SELECT takes row locks there already,
        and SERIALIZABLE would only add shared locks on every read.
        """
        return self.begin_write(conn)

    def is_retryable(self, exc: BaseException) -> bool:
        """Whether a driver error means the transaction lost a race and can simply run again
        (a serialization failure, a deadlock, a lock wait that gave up). Called by the
        backfill runner, which then runs the batch again."""
        return self.is_lock_timeout(exc)

    def session_lock(self, conn: Connection, name: str) -> AbstractContextManager[None]:
        """Queue behind other sessions doing the work called ``name``: hold a lock on ``conn``,
        outside any transaction, while the block runs. Called by the backfill runner around
        each batch, so that two runners of one backfill take turns instead of colliding.

        The base class holds nothing: the batch's own transaction queues the runners (SQLite's
        BEGIN IMMEDIATE, MySQL's row lock on the backfill's state row).
        """
        return nullcontext()

    def guard_sql(
        self, conn: Connection, *, lock_timeout: float, statement_timeout: float
    ) -> list[str]:
        """The statements that bound, for the session of ``conn``, how long a migration
        statement waits for a lock and how long it runs (seconds; 0 leaves that unbounded).
        Used by :meth:`guarded_session` and :meth:`begin_guarded`; the base class has none."""
        return []

    def unguard_sql(self, conn: Connection) -> list[str]:
        """The statements that put the session's settings of :meth:`guard_sql` back."""
        return []

    @contextmanager
    def guarded_session(
        self, conn: Connection, *, lock_timeout: float, statement_timeout: float
    ) -> Iterator[None]:
        """Keep the migration guards on ``conn``, an AUTOCOMMIT connection, for the block.

        Called by the migration runner around a step run statement by statement. A statement
        that waits longer than ``lock_timeout`` for a lock fails (:meth:`is_lock_timeout`).
        """
        for sql in self.guard_sql(
            conn, lock_timeout=lock_timeout, statement_timeout=statement_timeout
        ):
            conn.exec_driver_sql(sql)
        try:
            yield
        finally:
            if not conn.invalidated:
                for sql in self.unguard_sql(conn):
                    conn.exec_driver_sql(sql)

    @contextmanager
    def begin_guarded(
        self, conn: Connection, *, lock_timeout: float, statement_timeout: float
    ) -> Iterator[Any]:
        """Open a migration step's write transaction (:meth:`begin_write`) with the guards of
        :meth:`guarded_session` in force until it ends. Called by the migration runner."""
        with (
            self.begin_write(conn) as transaction,
            self.guarded_session(
                conn, lock_timeout=lock_timeout, statement_timeout=statement_timeout
            ),
        ):
            yield transaction

    def has_recursive_cte(self, conn: Connection) -> bool:
        """Whether the server ``conn`` is connected to runs ``WITH RECURSIVE``. Called by the
        lineage walker (:mod:`metadb.store.lineage`), which walks one hop per query where it
        does not. The base class: yes (every PostgreSQL and SQLite metadb runs on)."""
        return True

    def lock_holders(self, conn: Connection, tables: Sequence[str]) -> str | None:
        """Who holds locks on ``tables`` (or may, where the server cannot tell), for the
        message of a statement that gave up waiting; None when unknown. Called by the
        migration guards and by ``metadb hints``."""
        return None

    def json_member(self, document: ColumnElement[Any], key: str) -> JsonMember | None:
        """SQL reading member ``key`` of the JSON document in ``document`` (a JSON or text
        column) exactly as Python's ``json.loads`` would, or None when this database cannot
        (the caller then computes in Python). Called by the built-in backfills.
        """
        return None

    @abstractmethod
    def is_auth_failure(self, exc: BaseException) -> bool:
        """Whether a driver error raised while connecting means bad credentials. Called by
        :meth:`Database.translate_connect_error <metadb.db.database.Database>`."""

    def is_lock_timeout(self, exc: BaseException) -> bool:
        """Whether a driver error means a lock wait gave up. Called by the migration runner
        and the operator's reconcile loop to say so in their messages."""
        return False

    def reserve_ids(self, conn: Connection, table: Table, count: int) -> int | None:
        """The first of ``count`` consecutive new ids of ``table`` that the caller may insert
        explicitly in this write transaction, or None where the database hands out ids itself
        (then rows are inserted with RETURNING, or one by one reading lastrowid). Called by the
        metadata store's batched inserts (:mod:`metadb.store.session`)."""
        return None

    @abstractmethod
    def insert_ignoring_duplicates(self, table: Table) -> Insert:
        """An INSERT that skips rows violating a unique key instead of failing. Called by the
        metadata store's links, the backfill state table and the built-in backfills."""

    @abstractmethod
    def create_database(self, conn: Connection, name: str) -> None:
        """Create a database on the server ``conn`` is connected to (SQLite: ``name`` is a
        file path). Called by the test fixtures (tests/conftest.py)."""

    @abstractmethod
    def database_exists(self, conn: Connection, name: str) -> bool:
        """Whether the server ``conn`` is connected to has database ``name``."""

    def create_database_if_missing(self, conn: Connection, name: str) -> bool:
        """Create database ``name`` as :meth:`create_database` does, unless it exists; return
        whether it was created. Called by ``metadb db init`` on an autocommit connection."""
        exists = self.database_exists(conn, name)
        conn.commit()  # CREATE DATABASE runs outside the transaction the query began
        if exists:
            return False
        self.create_database(conn, name)
        return True

    @abstractmethod
    def drop_database(self, conn: Connection, name: str) -> None:
        """Drop a database if it exists, ending its sessions where the server needs that.
        Called by the test fixtures (tests/conftest.py)."""

    def named_lock(
        self, conn: Connection, key: str, *, timeout: float
    ) -> AbstractContextManager[None]:
        """Hold the lock called ``key`` (any string; per database) for the write transaction on
        ``conn``, so that writers doing work under the same key take turns. It guards the
        "look up, else insert" writes that no unique key of ml-metadata's schema protects: a
        type by its kind and name, the cycle check of parent contexts.

        Called by :meth:`metadb.store.session.StoreSession.run` right after it begins a write
        transaction, before the transaction's first read (MySQL's REPEATABLE READ snapshot is
        taken at the first read: one taken before the lock would miss what the previous
        holder wrote) and before any row lock (so no deadlock can mix the two). Entering
        takes the lock, waiting up to ``timeout`` seconds where the database bounds the wait;
        the session leaves the block only after the transaction has committed or rolled back,
        so whoever gets the lock next sees the holder's rows.

        The base class holds nothing: SQLite's BEGIN IMMEDIATE already lets one writer in at
        a time.

        Raises:
            WriteConflictError: the lock stayed taken for ``timeout`` seconds.
        """
        return nullcontext()

    # -- limits: what text columns accept, how long a statement may run ----------------------
    # Read by metadb.store.limits.TextRules (store writes) and metadb.store.session (timeouts).

    #: Whether text columns store NUL characters (PostgreSQL's text refuses them).
    text_accepts_nul: ClassVar[bool] = True
    #: UTF-8 bytes the unbounded text columns take, by kind: "uri" (Artifact.uri),
    #: "string_value" (property string and STRUCT values), "text" (other TEXT columns).
    #: A kind that is missing is unbounded. Listed per database in docs/store.md.
    text_max_bytes: ClassVar[dict[str, int]] = {}

    def statement_timeout_sql(self, conn: Connection, seconds: float) -> str | None:
        """The statement that makes the session of ``conn`` cancel any statement running
        longer than ``seconds`` (0: never), or None where there is no such setting (SQLite,
        whose statements run in the calling process). Called by the store's session once per
        pooled connection."""
        return None

    def is_statement_timeout(self, exc: BaseException) -> bool:
        """Whether the driver error ``exc`` is a statement cancelled by that timeout."""
        return False


def whoami() -> str:
    """``user@host``, recorded in the history table and shown to runs waiting for a lock."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name in some containers
        user = f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"


def client_label() -> str:
    """How this process names itself to the server (PostgreSQL application_name)."""
    return f"metadb {whoami()} pid {os.getpid()}"[:63]


_T = TypeVar("_T")


class DialectRegistry(Generic[_T]):
    """What one feature provides for each dialect, keyed by the dialect's name.

    The feature module creates the registry, naming the modules that fill it (imported on the
    first lookup that misses, so importing the feature stays cheap), and each of those modules
    registers its implementation. Creating a registry does no I/O.

    Example::

        FACTS = DialectRegistry[type[LiveFacts]]("live facts", modules=["metadb.hints.x"])

        @FACTS.register("sqlite")
        class SqliteFacts(LiveFacts): ...

        FACTS.get("sqlite")  # SqliteFacts; FACTS.get(db.dialect) alike
    """

    #: Every registry created, for the contract test (each must serve every dialect).
    instances: ClassVar[list[DialectRegistry[Any]]] = []

    def __init__(self, feature: str, *, modules: Sequence[str] = ()) -> None:
        self.feature = feature
        self._modules = tuple(modules)
        self._entries: dict[str, _T] = {}
        DialectRegistry.instances.append(self)

    def add(self, dialect: str, entry: _T) -> _T:
        """Make ``entry`` this feature's implementation on ``dialect`` (a name of
        :data:`~metadb.db.urls.DIALECTS`); return it.

        Raises:
            ValueError: ``dialect`` is not a dialect's name, or it has an entry already.
        """
        if dialect not in DIALECTS:
            raise ValueError(f"{self.feature}: no dialect named {dialect!r}; known: {DIALECTS}")
        if dialect in self._entries and self._entries[dialect] is not entry:
            raise ValueError(f"{self.feature}: {dialect} is registered twice")
        self._entries[dialect] = entry
        return entry

    def register(self, dialect: str) -> Callable[[_T], _T]:
        """Decorator form of :meth:`add`: ``@registry.register("mysql")`` on a class."""

        def decorate(entry: _T) -> _T:
            return self.add(dialect, entry)

        return decorate

    def get(self, dialect: str | Dialect) -> _T:
        """The implementation on ``dialect`` (a dialect object or its name).

        Raises:
            LookupError: no implementation is registered for it (a bug: the contract test
                checks that every dialect has one).
        """
        name = dialect if isinstance(dialect, str) else dialect.name
        if name not in self._entries:
            for module in self._modules:
                importlib.import_module(module)
        try:
            return self._entries[name]
        except KeyError:
            raise LookupError(
                f"no {self.feature} for dialect {name!r}; registered: {sorted(self._entries)}"
            ) from None

    def names(self) -> frozenset[str]:
        """The dialects that have an implementation, after loading every module."""
        for module in self._modules:
            importlib.import_module(module)
        return frozenset(self._entries)


#: The dialect objects themselves, one per name of :data:`~metadb.db.urls.DIALECTS`.
DIALECT_REGISTRY = DialectRegistry[Dialect](
    "dialect", modules=["metadb.db.sqlite", "metadb.db.postgresql", "metadb.db.mysql"]
)


def register(dialect: Dialect) -> Dialect:
    """Register the one instance of a dialect class (called by each dialect's module)."""
    return DIALECT_REGISTRY.add(dialect.name, dialect)


def dialect_for(name: str) -> Dialect:
    """The dialect object for ``"sqlite"``, ``"postgresql"`` or ``"mysql"``.

    Raises:
        ValueError: no dialect has that name.
    """
    try:
        return DIALECT_REGISTRY.get(name)
    except LookupError:
        raise ValueError(f"no dialect named {name!r}; known: {sorted(DIALECTS)}") from None


def dialect_named(name: str) -> Dialect:
    """The dialect that metadb or SQLAlchemy calls ``name`` ("mariadb" is MySQL's).

    Raises:
        ValueError: no dialect has that name.
    """
    for dialect in iter_dialects():
        if name == dialect.name or name in dialect.sqlalchemy_names:
            return dialect
    raise ValueError(f"no dialect named {name!r}; known: {sorted(DIALECTS)}")


def dialect_of(conn: Connection) -> Dialect:
    """The dialect of the database ``conn`` is connected to.

    Raises:
        ValueError: a database metadb has no dialect for.
    """
    return dialect_named(conn.dialect.name)


def iter_dialects() -> Iterator[Dialect]:
    """Every dialect, in the order of :data:`~metadb.db.urls.DIALECTS`."""
    for name in DIALECTS:
        yield dialect_for(name)
