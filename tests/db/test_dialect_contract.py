"""The contract every dialect keeps, run against the real server of each backend.

One shared suite, as golang-migrate's ``database/testing.Test``: a new dialect (or a change to
one) must pass all of it. Each test exercises one hook of :class:`metadb.db.dialect.Dialect`
(or an attribute) the way its callers use it. Where the contract leaves a choice to the
dialect (``reserve_ids`` may return None, ``json_member`` may leave a document to Python), the
test checks whichever answer the dialect gives.
"""

from __future__ import annotations

import importlib
import inspect
import json
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    case,
    func,
    select,
    update,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DBAPIError

import metadb
from metadb.db import Database
from metadb.db.dialect import (
    DialectRegistry,
    OnWait,
    dialect_for,
    dialect_of,
    iter_dialects,
)
from metadb.db.mysql import MysqlDialect
from metadb.db.urls import DIALECTS, MYSQL_TEXT_MODES
from metadb.errors import (
    AuthenticationError,
    ConfigError,
    DatabaseUnreachableError,
    LockTimeoutError,
)
from metadb.store.tables import mlmd_tables
from tests.conftest import admin_database, fresh_database

#: The modules that fill a DialectRegistry; each registry must serve every dialect.
FEATURE_MODULES = (
    "metadb.hints.facts",
    "metadb.operator.credentials",
    "metadb.operator.datametrics",
    "metadb.runs.query",
)

#: How the test reads, on each backend, the session settings that the migration guards change
#: (the lock wait, then the statement time where the database has one).
GUARDED_SETTINGS = {
    "sqlite": ["PRAGMA busy_timeout"],
    "postgresql": ["SHOW lock_timeout", "SHOW statement_timeout"],
    "mysql": ["SELECT @@SESSION.lock_wait_timeout", "SELECT @@SESSION.innodb_lock_wait_timeout"],
}
#: How a session names itself where the server has sessions (for lock_holders).
SESSION_ID = {"postgresql": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}


def items_table(db: Database) -> Table:
    """A small table with an id handed out by the database and a unique name."""
    metadata = MetaData()
    table = Table(
        "contract_items",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(50), nullable=False, unique=True),
        sqlite_autoincrement=True,
    )
    metadata.create_all(db.engine)
    return table


def names(db: Database, table: Table) -> set[str]:
    with db.connect() as conn:
        return set(conn.execute(select(table.c.name)).scalars())


def settings(conn: Connection, backend: str) -> list[str]:
    values = [str(conn.exec_driver_sql(sql).scalar()) for sql in GUARDED_SETTINGS[backend]]
    if backend == "mysql":
        name = "max_statement_time" if MysqlDialect.server(conn).mariadb else "max_execution_time"
        values.append(str(conn.exec_driver_sql(f"SELECT @@SESSION.{name}").scalar()))
    return values


# -- the migration lock ----------------------------------------------------------------------


def test_migration_lock_excludes_a_second_holder_and_times_out_naming_it(db: Database):
    dialect = db.dialect
    waits: list[str | None] = []

    def never_waits(holder: str | None) -> None:
        pytest.fail(f"the lock should have been free, but {holder} holds it")

    def lock(timeout: float, on_wait: OnWait) -> AbstractContextManager[None]:
        return dialect.migration_lock(
            db.engine, db.url, table="contract_versions", timeout=timeout, on_wait=on_wait
        )

    with lock(5, never_waits):
        with pytest.raises(LockTimeoutError) as timeout, lock(0.5, waits.append):
            pytest.fail("a second holder got the migration lock")
        assert len(waits) == 1 and waits[0]  # told once, with who holds it
        assert timeout.value.holder == waits[0]
        assert timeout.value.timeout == 0.5
    with lock(0.5, never_waits):  # released: the next run takes it at once
        pass


# -- transactions ----------------------------------------------------------------------------


def test_begin_write_commits_and_begin_serializable_rolls_back_on_error(db: Database):
    table = items_table(db)
    with db.connect() as conn:
        with db.dialect.begin_write(conn):
            conn.execute(table.insert(), [{"name": "written"}])
        with pytest.raises(RuntimeError), db.dialect.begin_serializable(conn):
            conn.execute(table.insert(), [{"name": "rolled back"}])
            raise RuntimeError("the batch failed")
        with db.dialect.begin_serializable(conn):
            conn.execute(table.insert(), [{"name": "serialized"}])
        assert not conn.in_transaction()
    assert names(db, table) == {"written", "serialized"}


def test_ddl_rolls_back_exactly_where_transactional_ddl_says(db: Database):
    with db.connect() as conn, pytest.raises(RuntimeError), db.dialect.begin_write(conn):
        conn.exec_driver_sql("CREATE TABLE contract_ddl (id INTEGER PRIMARY KEY)")
        raise RuntimeError("the step failed")
    created = "contract_ddl" in sa_inspect(db.engine).get_table_names()
    assert created is not db.dialect.transactional_ddl


def test_a_real_lock_wait_gives_up_as_a_retryable_lock_timeout_naming_the_holder(
    db: Database, backend: str
):
    dialect = db.dialect
    table = items_table(db)
    with db.connect() as setup, setup.begin():
        setup.execute(table.insert(), [{"name": "contended"}])
    bump = update(table).where(table.c.name == "contended").values(name="taken")
    with db.connect() as holder, dialect.begin_write(holder):
        holder.execute(bump)
        with db.connect() as waiter:
            with (
                pytest.raises(DBAPIError) as failed,
                dialect.begin_guarded(waiter, lock_timeout=0.3, statement_timeout=0),
            ):
                waiter.execute(bump)
            assert dialect.is_lock_timeout(failed.value.orig)
            assert dialect.is_retryable(failed.value.orig)
        with db.connect(autocommit=True) as observer:
            holders = dialect.lock_holders(observer, [table.name])
        if backend in SESSION_ID:
            session = holder.exec_driver_sql(SESSION_ID[backend]).scalar()
            assert holders is not None and str(session) in holders
        else:
            assert holders is None  # SQLite cannot tell who holds its lock


def test_a_statement_that_merely_fails_is_not_a_lock_timeout(db: Database):
    with db.connect() as conn, pytest.raises(DBAPIError) as failed:
        conn.exec_driver_sql("SELECT * FROM contract_no_such_table")
    assert not db.dialect.is_lock_timeout(failed.value.orig)
    assert not db.dialect.is_retryable(failed.value.orig)


def test_guarded_session_and_begin_guarded_put_the_settings_back(db: Database, backend: str):
    dialect = db.dialect
    with db.connect(autocommit=True) as conn:
        before = settings(conn, backend)
        with dialect.guarded_session(conn, lock_timeout=7, statement_timeout=9):
            during = settings(conn, backend)
        assert settings(conn, backend) == before
    assert during != before
    with db.connect() as conn:
        with dialect.begin_guarded(conn, lock_timeout=7, statement_timeout=9):
            assert settings(conn, backend) == during
        assert settings(conn, backend) == before


def test_a_session_lock_is_released_when_the_block_ends(db: Database):
    with db.connect() as conn:
        for _ in range(2):  # a lock still held would make the second round wait
            with db.dialect.session_lock(conn, "contract backfill"):
                conn.exec_driver_sql("SELECT 1")
                conn.rollback()
            assert not conn.in_transaction()


# -- ids and duplicates ----------------------------------------------------------------------


def test_reserved_ids_are_new_and_can_be_inserted(db: Database):
    table = items_table(db)
    with db.connect() as conn, conn.begin():
        conn.execute(table.insert(), [{"name": "a"}, {"name": "b"}, {"name": "gone"}])
        conn.execute(table.delete().where(table.c.name == "gone"))
    with db.connect() as conn, db.dialect.begin_write(conn):
        used = conn.execute(select(func.max(table.c.id))).scalar_one() + 1  # "gone" had it
        first = db.dialect.reserve_ids(conn, table, 3)
        if first is None:  # the database hands out ids itself
            return
        assert first > used  # never an id handed out before, even one since deleted
        rows = [{"id": first + i, "name": f"reserved {i}"} for i in range(3)]
        conn.execute(table.insert(), rows)
    assert {"reserved 0", "reserved 1", "reserved 2"} <= names(db, table)


def test_insert_ignoring_duplicates_skips_the_rows_that_exist(db: Database):
    table = items_table(db)
    with db.connect() as conn, conn.begin():
        conn.execute(table.insert(), [{"name": "a"}])
        statement = db.dialect.insert_ignoring_duplicates(table)
        conn.execute(statement, [{"name": "a"}, {"name": "b"}])
        conn.execute(statement, [{"name": "b"}])
    assert names(db, table) == {"a", "b"}
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 2


# -- databases -------------------------------------------------------------------------------


@pytest.fixture
def server(backend: str, tmp_path: Path) -> Iterator[tuple[Database, str, str]]:
    """An admin database, the name of a new database on it and that database's URL."""
    if backend == "sqlite":
        admin = Database.from_url(f"sqlite:///{tmp_path / 'admin.sqlite'}")
        name = str(tmp_path / "created.sqlite")
        url = f"sqlite:///{name}"
    else:
        admin = admin_database(backend)
        name = f"metadb_contract_{uuid.uuid4().hex[:12]}"
        url = admin.url.with_database(name).url.render_as_string(hide_password=False)
    yield admin, name, url
    with admin.connect(autocommit=True) as conn:
        admin.dialect.drop_database(conn, name)
    admin.dispose()


def test_create_database_makes_one_to_connect_to_and_drop_database_removes_it(
    server: tuple[Database, str, str],
):
    admin, name, url = server
    with admin.connect(autocommit=True) as conn:
        admin.dialect.create_database(conn, name)
    created = Database.from_url(url)
    with created.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE contract_t (id INTEGER PRIMARY KEY)")
        conn.commit()
    created.dispose()
    with admin.connect(autocommit=True) as conn:
        admin.dialect.drop_database(conn, name)
        admin.dialect.drop_database(conn, name)  # "if it exists": a second drop is fine
    if admin.url.dialect == "sqlite":
        assert not Path(name).exists()
    else:
        with pytest.raises(DatabaseUnreachableError), created.connect():
            pass
        created.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_a_user_the_server_does_not_know_is_an_authentication_failure(backend: str):
    admin = admin_database(backend)
    url = admin.url.url.set(username="metadb_contract_stranger", password="wrong")
    stranger = Database.from_url(url.render_as_string(hide_password=False))
    try:
        with pytest.raises(AuthenticationError), stranger.connect():
            pass
    finally:
        stranger.dispose()
        admin.dispose()


# -- JSON ------------------------------------------------------------------------------------

DOCUMENTS = [
    None,
    '{"name": "plain"}',
    '  { "other" : 1 , "name" : "spaced" }  ',
    '{"name": "first", "name": "last"}',  # Python keeps the last
    '{"n\\u0061me": "escaped key"}',
    '{"name": "caf\\u00e9 \\ud83d\\ude00"}',
    '{"name": "caf\u00e9 \U0001f600"}',
    '{"name": 5}',
    '{"name": null}',
    '{"name": {"name": "nested"}}',
    '{"a": [1, {"name": "deep"}], "name": "top"}',
    '{"other": "x"}',
    '"a JSON string"',
    "[1, 2]",
    "12.5",
]


def expected(document: str | None) -> tuple[str | None, bool | None]:
    """What Python reads: member "name" where it is a string, and whether it is a string."""
    if document is None:
        return None, None
    parsed = json.loads(document)
    member = parsed.get("name") if isinstance(parsed, dict) else None
    return (member if isinstance(member, str) else None), isinstance(parsed, str)


def test_json_member_agrees_with_json_loads_wherever_it_claims_to_be_exact(db: Database):
    metadata = MetaData()
    docs = Table(
        "contract_docs", metadata, Column("id", Integer, primary_key=True), Column("doc", Text)
    )
    metadata.create_all(db.engine)
    with db.connect() as conn, conn.begin():
        conn.execute(docs.insert(), [{"id": i + 1, "doc": d} for i, d in enumerate(DOCUMENTS)])
    member = db.dialect.json_member(docs.c.doc, "name")
    if member is None:  # this database leaves every document to Python
        return
    query = select(
        docs.c.id,
        case((member.exact, 1), else_=0),
        case((member.exact, member.text)),
        case((member.exact, member.is_string)),
    ).order_by(docs.c.id)
    with db.connect() as conn:
        rows = conn.execute(query).all()
    exact: dict[str | None, Any] = {}
    for id_, is_exact, text, is_string in rows:
        document = DOCUMENTS[id_ - 1]
        if not is_exact:
            continue
        exact[document] = text
        member_text, string = expected(document)
        assert text == member_text, document
        if document is not None:
            assert bool(is_string) is string or (not is_string and not string), document
    assert exact.get('{"name": "plain"}') == "plain"  # a plain document is read in SQL
    assert None in exact  # SQL NULL counts as read


# -- text ----------------------------------------------------------------------------------


def test_every_text_mode_has_a_codec_that_round_trips_and_a_bad_mode_is_refused(backend: str):
    dialect = dialect_for(backend)
    for mode in MYSQL_TEXT_MODES:
        codec = dialect.mlmd_text_codec(mode)
        if codec is not None:
            for text in ("plain", "h\u00e9 \U0001f600", "\x81\x9d"):
                assert codec.from_db(codec.to_db(text)) == text
    with pytest.raises(ConfigError):
        dialect.mlmd_text_codec("latin2")


# -- attributes ------------------------------------------------------------------------------


def test_a_connection_maps_back_to_its_dialect(db: Database):
    with db.connect() as conn:
        assert dialect_of(conn) is db.dialect
    assert dialect_for(db.url.dialect) is db.dialect


def test_with_recursive_runs_wherever_the_dialect_says_it_does(db: Database):
    with db.connect() as conn:
        if not db.dialect.has_recursive_cte(conn):
            return
        total = conn.exec_driver_sql(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) "
            "SELECT SUM(i) FROM n"
        ).scalar()
    assert int(total) == 15


def test_mlmd_table_names_match_what_the_schema_creates(database_url: str, backend: str):
    metadb.connect(database_url).close()  # migrates: ml-metadata's schema, as it names tables
    db = Database.from_url(database_url)
    try:
        present = set(sa_inspect(db.engine).get_table_names())
    finally:
        db.dispose()
    tables = mlmd_tables(backend)
    assert {tables.artifact.node.name, tables.type.name, tables.event_path.name} <= present
    assert (tables.artifact.node.name == "artifact") is dialect_for(backend).mlmd_lower_case_names


def test_the_lexical_rules_the_splitter_reads_are_the_servers(db: Database):
    dialect = db.dialect
    with db.connect() as conn:
        # /*! ... */ runs on a server with executable comments and is a comment elsewhere.
        assert conn.exec_driver_sql("SELECT 1 /*! + 1 */").scalar() == (
            2 if dialect.executable_comments else 1
        )
        # "x" is a string, or the column x.
        quoted = conn.exec_driver_sql('SELECT "x" FROM (SELECT 7 AS x) AS t').scalar()
        assert (quoted == "x") is dialect.double_quoted_strings
        # "#" starts a comment, or is an operator (PostgreSQL's XOR) or no token (SQLite).
        try:
            hashed = conn.exec_driver_sql("SELECT 2 # 3\n").scalar()
        except DBAPIError:
            hashed = None
            conn.rollback()
        assert (hashed == 2) is dialect.hash_comments


def test_mysql_server_flavour_and_version_match_the_server(tmp_path: Path):
    for url in fresh_database("mysql", tmp_path):
        db = Database.from_url(url)
        try:
            with db.connect() as conn:
                server = MysqlDialect.server(conn)
                reported = str(conn.exec_driver_sql("SELECT VERSION()").scalar())
        finally:
            db.dispose()
        assert server.mariadb is ("mariadb" in reported.lower())
        assert reported.startswith(".".join(str(part) for part in server.version))
        assert server.product == ("MariaDB" if server.mariadb else "MySQL")


# -- registries ------------------------------------------------------------------------------


def test_every_registry_serves_every_dialect():
    for module in FEATURE_MODULES:
        importlib.import_module(module)
    registries = {registry.feature: registry for registry in DialectRegistry.instances}
    assert {
        "dialect",
        "live facts",
        "per-version credentials",
        "data-metrics statistics",
        "semi-join writer",
    } <= set(registries)
    for feature, registry in registries.items():
        assert registry.names() == set(DIALECTS), feature
        for name in DIALECTS:  # a class registered implements every abstract method
            entry = registry.get(name)
            assert not (isinstance(entry, type) and inspect.isabstract(entry)), (feature, name)
    assert [dialect.name for dialect in iter_dialects()] == list(DIALECTS)
