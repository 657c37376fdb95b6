"""Hints, data metrics over HTTP, and the Alembic and SQL version readers in the loop."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from metadb.db import Database

from .support import (
    MIGRATIONS,
    Operator,
    chain,
    cleanup_roles,
    condition,
    resource,
    version_of,
)
from .support import write_source as source_at


@pytest.fixture
def prefix(database_url: str, tmp_path: Path) -> Iterator[str]:
    name = f"t{uuid.uuid4().hex[:8]}_app"
    yield name
    cleanup_roles(database_url, resource(database_url, tmp_path, prefix=name), tmp_path / "s")


def _execute(url: str, *statements: str) -> None:
    db = Database.from_url(url)
    try:
        with db.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
            conn.commit()
    finally:
        db.dispose()


def test_a_hint_error_blocks_the_migration_and_is_reported(
    database_url: str, tmp_path: Path, prefix: str
):
    source = source_at(
        tmp_path / "m",
        {**MIGRATIONS, 2: ("CREATE UNIQUE INDEX items_name ON items (name);", "DROP INDEX "
                           "items_name ON items;" if "mysql" in database_url else
                           "DROP INDEX items_name;")},
    )  # fmt: skip
    operator = Operator(tmp_path / "s")
    db, _ = operator.reconcile(resource(database_url, source, prefix=prefix, desiredVersion=1))
    _execute(database_url, "INSERT INTO items (name) VALUES ('pen'), ('pen')")

    db, result = operator.reconcile(db, desired_version=2, hints={"enabled": True})

    assert version_of(database_url) == 1
    assert condition(result, "Blocked") == ("True", "HintErrors")
    hints = result.status.hints
    assert hints is not None
    assert [f.rule_id for f in hints.errors] == ["unique-duplicates"]
    assert hints.errors[0].table == "items"
    assert hints.errors[0].path is not None and hints.errors[0].path.endswith("step2.up.sql")
    blocked = result.status.condition("Blocked")
    assert blocked is not None and "step2.up.sql:1" in blocked.message


def test_metrics_are_served_on_the_metrics_endpoint(
    database_url: str, backend: str, tmp_path: Path, prefix: str
):
    operator = Operator(tmp_path / "s")
    server = operator.metrics.serve(port=0, addr="127.0.0.1")
    try:
        sql = [
            {"name": "shop_items", "help": "Items by name.", "query":
             "SELECT name, count(*) AS value FROM items GROUP BY name", "labels": ["name"]},
            {"name": "shop_items_added", "type": "counter", "query":
             "SELECT count(*) AS total FROM items", "valueColumn": "total"},
        ]  # fmt: skip
        db = resource(
            database_url, source_at(tmp_path / "m"), prefix=prefix, desiredVersion=1,
            dataMetrics={"sqlQueries": sql},
        )  # fmt: skip
        db, _ = operator.reconcile(db)
        _execute(database_url, "INSERT INTO items (name) VALUES ('pen'), ('pen'), ('ink')")
        if backend == "postgresql":
            _execute(database_url, "ANALYZE items")
        elif backend == "mysql":
            _execute(database_url, "ANALYZE TABLE items")
        db, result = operator.reconcile(db, desired_version=2)
        assert result.error is None

        body = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics").text
    finally:
        server.shutdown()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }
    shop = (("database", "shop"),)
    assert samples[("metadb_operator_schema_version", shop)] == 2
    up_ok = (("database", "shop"), ("direction", "up"), ("result", "succeeded"))
    assert samples[("metadb_operator_migrations_total", up_ok)] == 2
    items = (("database", "shop"), ("table", "items"))
    assert samples[("metadb_database_table_rows_estimate", items)] == 3
    assert samples[("metadb_database_table_next_id", items)] == 4
    assert samples[("shop_items", (("database", "shop"), ("name", "pen")))] == 2
    assert samples[("shop_items_added_total", shop)] == 3
    rows_query = (("database", "shop"), ("query", "table_rows_estimate"))
    assert samples[("metadb_database_query_duration_seconds_count", rows_query)] == 2
    if backend != "sqlite":
        assert samples[("metadb_operator_credentials_created_total", shop)] == 2


def test_a_failing_metric_query_degrades_but_does_not_block(
    database_url: str, tmp_path: Path, prefix: str
):
    operator = Operator(tmp_path / "s")
    db = resource(
        database_url, source_at(tmp_path / "m"), prefix=prefix, desiredVersion=1,
        dataMetrics={"sqlQueries": [{"name": "writes", "query": "DELETE FROM items"}]},
    )  # fmt: skip
    db, _ = operator.reconcile(db)
    db, result = operator.reconcile(db)  # the table exists now: the DELETE is refused read-only
    assert result.error is None
    assert condition(result, "Ready") == ("True", "AtDesiredVersion")
    assert condition(result, "Degraded") == ("True", "MetricQueryFailed")
    errors = operator.metrics.registry.get_sample_value(
        "metadb_database_query_errors_total", {"database": "shop", "query": "writes"}
    )
    assert errors == 2


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_alembic_reader_adopts_the_version_and_keeps_alembic_in_step(
    database_url: str, tmp_path: Path
):
    source = source_at(tmp_path / "m")
    _execute(
        database_url,
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(100))",
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)",
        "INSERT INTO alembic_version VALUES ('ae1027a6acf')",
    )
    operator = Operator(tmp_path / "s")
    operator.migrations = chain(
        (1, None), (2, 1), (3, 2), revisions={1: "ae1027a6acf", 2: "27c6a30d7c24"}
    )
    db = resource(database_url, source, desiredVersion=2, version={"reader": "alembic"})

    db, result = operator.reconcile(db)

    assert result.error is None, result.error
    assert [s.version for s in result.steps] == [2]
    assert version_of(database_url) == 2  # golang-migrate's table agrees
    engine = Database.from_url(database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
            "27c6a30d7c24"
        )
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_sql_reader_must_agree_after_each_step(database_url: str, tmp_path: Path):
    migrations = {
        1: ("CREATE TABLE app_version (v INTEGER); INSERT INTO app_version VALUES (1);",
            "DROP TABLE app_version;"),
        2: ("UPDATE app_version SET v = 2;", "UPDATE app_version SET v = 1;"),
        3: ("SELECT 1;", "SELECT 1;"),  # forgets to bump the version the query reads
    }  # fmt: skip
    source = source_at(tmp_path / "m", migrations)
    operator = Operator(tmp_path / "s")
    reader = {"reader": "sql", "query": "SELECT max(v) FROM app_version"}
    db = resource(database_url, source, desiredVersion=2)
    db, first = operator.reconcile(db)  # no app_version yet: golang-migrate's reader
    db, result = operator.reconcile(db, desired_version=3, version=reader)
    assert first.error is None
    assert result.error is not None and result.error.reason == "VersionMismatch"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_each_migration_step_pushes_to_the_pushgateway(database_url: str, tmp_path: Path):
    pushed: list[tuple[str, str]] = []

    class Gateway(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            length = int(self.headers["Content-Length"])
            pushed.append((self.path, self.rfile.read(length).decode()))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    gateway = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    try:
        operator = Operator(tmp_path / "s")
        operator.pushgateway = f"http://127.0.0.1:{gateway.server_port}"
        operator.reconcile(resource(database_url, source_at(tmp_path / "m"), desiredVersion=2))
    finally:
        gateway.shutdown()
    assert [path for path, _ in pushed] == ["/metrics/job/metadb-operator/database/shop"] * 2
    assert 'metadb_operator_schema_version{database="shop"} 2.0' in pushed[-1][1]
