"""Health, readiness, metrics, the migration state, start-up and the database going away."""

from __future__ import annotations

import concurrent.futures
import logging
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

import metadb
from metadb import migrate as migrations
from metadb.api import ServeSettings, create_app
from metadb.db import Database, parse_database_url
from metadb.errors import SchemaOutOfDateError
from metadb.migrate.bundled import BUNDLED_VERSION_TABLE
from metadb.migrate.source import load_source
from metadb.migrate.tables import VersionTable
from tests.api.conftest import TcpProxy
from tests.conftest import admin_database

LATEST = load_source(None, "sqlite").versions[-1]


@contextmanager
def _database(url: str) -> Iterator[Database]:
    db = Database.from_url(url)
    try:
        yield db
    finally:
        db.dispose()


def _set_version(url: str, version: int, *, dirty: bool) -> None:
    with _database(url) as db, db.connect() as conn, conn.begin():
        VersionTable(BUNDLED_VERSION_TABLE).write(conn, version, dirty=dirty)


def _metric(text_: str, name: str, **labels: str) -> float | None:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name + (f"{{{wanted}}}" if labels else "")) + r" (\S+)"
    found = re.search(r"^" + pattern + "$", text_, re.MULTILINE)
    return float(found.group(1)) if found else None


def test_healthz_and_readyz_answer_on_a_current_schema(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").json() == {"status": "ready", "version": LATEST, "latest": LATEST}


def test_readyz_is_503_with_the_reason_when_the_schema_is_dirty_or_behind(
    api: TestClient, database_url: str
) -> None:
    _set_version(database_url, LATEST, dirty=True)
    dirty = api.get("/readyz")
    assert dirty.status_code == 503
    assert dirty.json()["code"] == "not_ready"
    assert f"dirty at version {LATEST}" in dirty.json()["message"]
    assert dirty.json()["details"]["dirty"] is True

    _set_version(database_url, LATEST - 1, dirty=False)
    behind = api.get("/readyz")
    assert behind.status_code == 503
    assert "1 migration(s) are pending" in behind.json()["message"]
    assert "metadb migrate up --database" in behind.json()["message"]
    assert api.get("/healthz").status_code == 200

    _set_version(database_url, LATEST, dirty=False)
    assert api.get("/readyz").status_code == 200


def test_migrations_resource_shows_version_history_and_pending(
    api: TestClient, database_url: str
) -> None:
    state = api.get("/api/v1/migrations").json()
    assert state["version"] == LATEST
    assert state["dirty"] is False
    assert state["pending"] == []
    assert [m["state"] for m in state["migrations"]] == ["applied"] * LATEST
    assert sorted(h["version"] for h in state["history"]) == list(range(1, LATEST + 1))
    assert state["database"] == parse_database_url(database_url).masked()

    _set_version(database_url, 2, dirty=False)
    behind = api.get("/api/v1/migrations", params={"history_limit": 1}).json()
    assert behind["version"] == 2
    assert behind["pending"] == list(range(3, LATEST + 1))
    assert len(behind["history"]) == 1
    assert api.get("/api/v1/migrations", params={"history_limit": 5000}).status_code == 400
    # Read-only: the endpoint did not migrate.
    assert api.get("/api/v1/migrations").json()["version"] == 2


def test_metrics_count_requests_by_route_template_and_show_schema_and_backfills(
    api: TestClient,
) -> None:
    run_id = api.post("/api/v1/runs", json={"name": "r"}).json()["id"]
    api.get(f"/api/v1/runs/{run_id}")
    api.get("/api/v1/runs/987654")
    api.get("/no/such/path/123")
    body = api.get("/metrics")
    assert body.headers["content-type"].startswith("text/plain")
    text_ = body.text
    route = "/api/v1/runs/{run_id}"
    assert _metric(text_, "metadb_http_requests_total", method="GET", route=route, status="200")
    assert _metric(text_, "metadb_http_requests_total", method="GET", route=route, status="404")
    unmatched = {"method": "GET", "route": "<unmatched>", "status": "404"}
    assert _metric(text_, "metadb_http_requests_total", **unmatched) == 1
    assert "987654" not in text_
    count = _metric(text_, "metadb_http_request_duration_seconds_count", method="GET", route=route)
    assert count == 2
    assert _metric(text_, "metadb_schema_version") == LATEST
    assert _metric(text_, "metadb_schema_dirty") == 0
    assert _metric(text_, "metadb_database_up") == 1
    assert api.app.state.resources.backfills.join(timeout=60)  # type: ignore[attr-defined]
    text_ = api.get("/metrics").text
    for state in ("pending", "running", "done", "failed"):
        labels = {"backfill": "system_annotations.name", "state": state}
        assert _metric(text_, "metadb_backfill_state", **labels) == (state == "done")
    done = _metric(text_, "metadb_backfill_rows_done", backfill="system_annotations.name")
    assert done is not None


def test_each_app_has_its_own_metrics(api: TestClient, database_url: str) -> None:
    api.get("/healthz")
    with TestClient(create_app(ServeSettings(database_url=database_url))) as other:
        text_ = other.get("/metrics").text
    labels = {"method": "GET", "route": "/healthz", "status": "200"}
    assert _metric(text_, "metadb_http_requests_total", **labels) is None
    assert _metric(api.get("/metrics").text, "metadb_http_requests_total", **labels) == 1


def test_each_request_is_logged_once_without_its_query(
    api: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="metadb.api.access")
    api.get("/api/v1/runs", params={"page_token": "secret-ish", "limit": 5})
    lines = [r.getMessage() for r in caplog.records if r.name == "metadb.api.access"]
    assert len(lines) == 1
    assert re.fullmatch(r"GET /api/v1/runs 400 \d+\.\dms", lines[0])  # a bad token: 400
    assert "secret-ish" not in caplog.text


def test_background_backfills_start_with_the_server_unless_switched_off(
    api: TestClient, database_url: str
) -> None:
    handle = api.app.state.resources.backfills  # type: ignore[attr-defined]
    assert handle is not None
    assert handle.join(timeout=60)
    assert handle.error is None
    assert handle.report is not None and not handle.report.failed
    settings = ServeSettings(database_url=database_url, run_backfills=False)
    with TestClient(create_app(settings)) as quiet:
        assert quiet.app.state.resources.backfills is None  # type: ignore[attr-defined]


def test_without_migrate_an_out_of_date_schema_stops_the_start_with_the_command_to_run(
    database_url: str,
) -> None:
    migrations.up(migrations.MigrateConfig(database=database_url), steps=2)
    app = create_app(ServeSettings(database_url=database_url, migrate=False))
    with pytest.raises(SchemaOutOfDateError) as caught, TestClient(app):
        pass
    masked = parse_database_url(database_url).masked()
    assert f"metadb migrate up --database {masked}" in str(caught.value).replace("'", "")
    assert caught.value.pending == list(range(3, LATEST + 1))

    migrations.up(migrations.MigrateConfig(database=database_url))
    with TestClient(create_app(ServeSettings(database_url=database_url, migrate=False))) as ok:
        assert ok.get("/readyz").status_code == 200


def test_the_refusal_masks_the_password(postgresql_url: str) -> None:
    # The test server trusts every local connection, so any password gets in.
    with_password = parse_database_url(postgresql_url).url.set(password="pa55word")
    url = with_password.render_as_string(hide_password=False)
    app = create_app(ServeSettings(database_url=url, migrate=False))
    with pytest.raises(SchemaOutOfDateError) as caught, TestClient(app):
        pass
    assert "pa55word" not in str(caught.value)
    assert "***" in str(caught.value)


def _end_postgresql_sessions(conn: Connection, database: str) -> int:
    statement = text(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = :db AND pid <> pg_backend_pid()"
    )
    return len(conn.execute(statement, {"db": database}).all())


def _end_mysql_sessions(conn: Connection, database: str) -> int:
    statement = text(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = :db AND ID <> CONNECTION_ID()"
    )
    killed = 0
    for session in list(conn.execute(statement, {"db": database}).scalars()):
        try:
            conn.exec_driver_sql(f"KILL {int(session)}")
            killed += 1
        except DBAPIError:  # the session ended on its own meanwhile (1094 unknown thread id)
            pass
    return killed


#: How an administrator ends every session of one database (as a restart would).
END_SESSIONS = {"postgresql": _end_postgresql_sessions, "mysql": _end_mysql_sessions}


def _kill_sessions(backend: str, database: str) -> int:
    admin = admin_database(backend)
    try:
        with admin.connect(autocommit=True) as conn:
            return END_SESSIONS[backend](conn, database)
    finally:
        admin.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_the_server_recovers_when_the_database_ends_its_sessions(
    api: TestClient, database_url: str, backend: str
) -> None:
    run_id = api.post("/api/v1/runs", json={"name": "before"}).json()["id"]
    database = parse_database_url(database_url).database
    assert database is not None
    assert _kill_sessions(backend, database) >= 1

    assert api.get(f"/api/v1/runs/{run_id}").status_code == 200
    assert api.post("/api/v1/runs", json={"name": "after"}).status_code == 201
    assert api.get("/readyz").status_code == 200


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_while_the_database_is_down_requests_are_503_and_then_recover(
    database_url: str, backend: str
) -> None:
    real = parse_database_url(database_url).url
    proxy = TcpProxy((real.host or "127.0.0.1", int(real.port or 0)))
    proxy.start()
    through = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    settings = ServeSettings(database_url=through, run_backfills=False)
    try:
        with TestClient(create_app(settings), raise_server_exceptions=False) as api:
            run_id = api.post("/api/v1/runs", json={"name": "r"}).json()["id"]
            proxy.stop()

            down = api.get(f"/api/v1/runs/{run_id}")
            assert down.status_code == 503
            assert down.json()["code"] == "unreachable"
            assert api.post("/api/v1/runs", json={"name": "lost"}).status_code == 503
            assert api.get("/healthz").status_code == 200
            not_ready = api.get("/readyz")
            assert not_ready.status_code == 503
            assert not_ready.json()["details"]["database_up"] is False
            assert _metric(api.get("/metrics").text, "metadb_database_up") == 0

            proxy.start()
            assert api.get(f"/api/v1/runs/{run_id}").status_code == 200
            assert api.get("/readyz").status_code == 200
            names = [r["name"] for r in api.get("/api/v1/runs").json()["items"]]
            assert names == ["r"]
    finally:
        proxy.stop()


def test_concurrent_writers_all_succeed(live_server: str) -> None:
    def create(i: int) -> int:
        with httpx.Client(base_url=live_server, timeout=60) as client:
            run = client.post("/api/v1/runs", json={"name": f"r{i}"})
            client.patch(f"/api/v1/runs/{run.json()['id']}/metrics", json={"metrics": {"i": i}})
            return run.status_code

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(create, range(48)))
    assert statuses == [201] * 48, statuses
    total = httpx.get(f"{live_server}/api/v1/runs", params={"with_total": "true"}).json()
    assert total["total_size"] == 48
    assert time.monotonic() - started < 60


def test_a_served_sqlite_database_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "served.sqlite"
    with TestClient(create_app(ServeSettings(database_url=f"sqlite:///{path}"))) as api:
        assert api.post("/api/v1/runs", json={"name": "r"}).status_code == 201
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_readiness_and_connect_without_migrating_give_one_answer(
    api: TestClient, database_url: str
) -> None:
    for version, dirty, says in [
        (LATEST - 1, False, f"1 migration(s) are pending ({LATEST})"),
        (LATEST, True, f"dirty at version {LATEST}"),
        (LATEST + 1, False, f"newer than the newest migration this metadb has ({LATEST})"),
    ]:
        _set_version(database_url, version, dirty=dirty)
        answer = api.get("/readyz")
        assert answer.status_code == 503
        with pytest.raises(SchemaOutOfDateError) as caught:
            metadb.connect(database_url, migrate=False)
        assert answer.json()["message"] == str(caught.value)
        assert says in str(caught.value)
