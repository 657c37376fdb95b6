"""Hostile input, replayed against the embedded store and over the REST API on every database.

Two promises: nothing is accepted that cannot be read back, and no request pins the database.
Every case here is refused with InvalidArgumentError (a 400 over HTTP) that names the field or
the limit, never a 5xx, and a refused request changes no row (counted before and after).
Values a database does store (NUL characters on SQLite and MySQL, long uris where no index
row limits them) are read back exactly instead.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import metadb
import metadb.runs
from metadb.api import ServeSettings, create_app
from metadb.db import Database
from metadb.errors import InvalidArgumentError, QueryTimeoutError
from metadb.store.model import (
    Artifact,
    ArtifactType,
    Event,
    EventType,
    Execution,
    ExecutionType,
    LineageSubgraphQueryOptions,
    ListOptions,
    PropertyType,
)

V1 = "/api/v1"
NAN, INF = float("nan"), float("inf")


# ----------------------------------------------------------------------------------- world


@dataclass
class World:
    """A store, a run store and a few stored things to aim at, on one fresh database."""

    url: str
    backend: str
    store: metadb.MetadataStore
    runs: metadb.runs.RunStore
    dataset: int
    trainer: int
    artifact: int
    execution: int
    run: int

    def counts(self) -> dict[str, int]:
        """Rows of every table (ml-metadata's and metadb's)."""
        db = self.store.database
        with db.connect() as conn:
            names = sqlalchemy.inspect(conn).get_table_names()
            count = "SELECT COUNT(*) FROM {}"
            return {
                name: int(conn.exec_driver_sql(count.format(_q(conn, name))).scalar_one())
                for name in names
            }


def _q(conn: sqlalchemy.Connection, name: str) -> str:
    return str(conn.dialect.identifier_preparer.quote(name))


@pytest.fixture
def world(database_url: str, backend: str) -> Iterator[World]:
    store = metadb.connect(database_url)
    runs = metadb.runs.RunStore(store.database)
    dataset = store.put_artifact_type(
        ArtifactType(
            name="Dataset",
            properties={
                "s": PropertyType.STRING,
                "i": PropertyType.INT,
                "d": PropertyType.DOUBLE,
                "st": PropertyType.STRUCT,
            },
        )
    )
    trainer = store.put_execution_type(ExecutionType(name="Trainer"))
    [artifact] = store.put_artifacts([Artifact(type_id=dataset, name="a0", uri="s3://b/a0")])
    [execution] = store.put_executions([Execution(type_id=trainer, name="e0")])
    run = runs.create_run("r0", annotations={"team": "vision"})
    runs.log_metrics(run.id, {"acc": 0.5})
    yield World(database_url, backend, store, runs, dataset, trainer, artifact, execution, run.id)
    store.close()


@pytest.fixture
def rest(world: World) -> Iterator[TestClient]:
    with TestClient(
        create_app(ServeSettings(database_url=world.url, run_backfills=False)),
        raise_server_exceptions=False,
    ) as client:
        yield client


def _artifact(world: World, **fields: Any) -> Artifact:
    return Artifact(type_id=world.dataset, **fields)


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"k": value}
    return value


def _deep_filter(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"key_exists": {"key": "team"}}
    for _ in range(depth):
        node = {"not": node}
    return node


def _deep_filter_text(depth: int) -> str:
    """:func:`_deep_filter` as JSON text (json.dumps itself recurses too deep for it)."""
    return '{"not": ' * depth + '{"key_exists": {"key": "team"}}' + "}" * depth


def _incompressible(size: int) -> str:
    rng = random.Random(size)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(rng.choice(alphabet) for _ in range(size))


# ------------------------------------------------------------------- refused everywhere

#: (case, what the error must name, the call on the embedded stores)
EMBEDDED: list[tuple[str, str, Callable[[World], Any]]] = [
    ("double NaN", "finite",
     lambda w: w.store.put_artifacts([_artifact(w, custom_properties={"x": NAN})])),
    ("double Infinity", "finite",
     lambda w: w.store.put_artifacts([_artifact(w, properties={"d": -INF})])),
    ("struct holding NaN", "finite",
     lambda w: w.store.put_artifacts([_artifact(w, properties={"st": {"a": [1, NAN]}})])),
    ("struct holding Infinity", "finite",
     lambda w: w.store.put_artifacts([_artifact(w, custom_properties={"x": {"a": INF}})])),
    ("struct 34 levels deep", "32 levels",
     lambda w: w.store.put_artifacts([_artifact(w, properties={"st": _nested(34)})])),
    ("int property past 64 bits", "does not fit",
     lambda w: w.store.put_artifacts([_artifact(w, custom_properties={"x": 2**63})])),
    ("event time past 64 bits", "64 bits",
     lambda w: w.store.put_events([Event(w.artifact, w.execution, EventType.OUTPUT,
                                         milliseconds_since_epoch=2**64)])),
    ("artifact id past 64 bits", "64 bits", lambda w: w.store.get_artifacts_by_id([2**64])),
    ("type id past 64 bits", "64 bits", lambda w: w.store.get_artifact_types_by_id([-(2**70)])),
    ("name of 256 characters", "255",
     lambda w: w.store.put_artifacts([_artifact(w, name="n" * 256)])),
    ("lone surrogate in a name", "surrogate",
     lambda w: w.store.put_artifacts([_artifact(w, name="a\ud800")])),
    ("lone surrogate in a string value", "surrogate",
     lambda w: w.store.put_artifacts([_artifact(w, properties={"s": "x\udfffy"})])),
    ("lone surrogate in a type name", "surrogate",
     lambda w: w.store.put_artifact_type(ArtifactType(name="T\ud800"))),
    ("filter_query with a Unicode digit", "position 6",
     lambda w: w.store.list_artifacts(ListOptions(filter_query="id = ²"))),
    ("filter_query with a lone surrogate", "surrogate",
     lambda w: w.store.list_artifacts(ListOptions(filter_query="name = 'a\ud800'"))),
    ("filter_query with 100 neighbour aliases", "at most 16",
     lambda w: w.store.get_artifacts(ListOptions(filter_query=" AND ".join(
         f"contexts_c{i}.name = 'x'" for i in range(100))))),
    ("filter_query with 70,000 IN values", "limit is 10000",
     lambda w: w.store.get_artifacts(ListOptions(filter_query="id IN (" + ",".join(
         map(str, range(70_000))) + ")"))),
    ("filter_query with 1,001 IN values", "more than 1000 values",
     lambda w: w.store.get_artifacts(ListOptions(filter_query="id IN (" + ",".join(
         ["1"] * 1001) + ")"))),
    ("filter_query with 201 OR branches", "more than 200 conditions",
     lambda w: w.store.get_artifacts(ListOptions(filter_query=" OR ".join(["id = 1"] * 201)))),
    ("filter_query nested 101 deep", "deeper than 100",
     lambda w: w.store.get_artifacts(ListOptions(filter_query="NOT " * 101 + "id = 1"))),
    ("filter_query of 1e400", "range",
     lambda w: w.store.get_artifacts(ListOptions(
         filter_query="custom_properties.x.double_value > 1e400"))),
    ("lineage walk from 100 aliases", "at most 16",
     lambda w: w.store.get_lineage_subgraph(LineageSubgraphQueryOptions(
         starting_artifacts=" AND ".join(f"contexts_c{i}.name = 'x'" for i in range(100))))),
    ("runs filter nested 3,000 deep", "deeper",
     lambda w: w.runs.search_runs(_deep_filter(3000))),
    ("runs filter nested 3,000 deep as JSON text", "deeper",
     lambda w: w.runs.search_runs(_deep_filter_text(3000))),
    ("runs filter of 3,000 nested lists as JSON text", "deeper",
     lambda w: w.runs.search_runs('{"and": ' + "[" * 3000 + "]" * 3000 + "}")),
    ("runs value_in of 70,000 values", "1000",
     lambda w: w.runs.search_runs({"value_in": {"key": "team", "values": ["v"] * 70_000}})),
    ("runs filter of 201 conditions", "200",
     lambda w: w.runs.search_runs({"or": [{"key_exists": {"key": "team"}}] * 201})),
    ("runs filter with a lone surrogate", "surrogate",
     lambda w: w.runs.search_runs({"value_equals": {"key": "team", "value": "\ud800"}})),
    ("metric name with a space", "whitespace",
     lambda w: w.runs.log_metrics(w.run, {"my metric": 1.0})),
    ("annotation key with a tab", "whitespace",
     lambda w: w.runs.set_annotations(w.run, {"my\tkey": "v"})),
    ("metric NaN", "finite", lambda w: w.runs.log_metrics(w.run, {"acc": NAN})),
    ("metric past a double", "finite", lambda w: w.runs.log_metrics(w.run, {"acc": 10**400})),
    ("run time past 64 bits", "64 bits",
     lambda w: w.runs.create_run("r1", created_at_ms=2**64)),
    ("extra_data 100 levels deep", "64 levels",
     lambda w: w.runs.create_run("r1", extra_data=_nested(100))),
    ("extra_data holding NaN", "finite",
     lambda w: w.runs.create_run("r1", extra_data={"x": [NAN]})),
    ("run name with NUL", "NUL", lambda w: w.runs.create_run("r\x001")),
]  # fmt: skip


@pytest.mark.parametrize(("case", "named", "call"), EMBEDDED, ids=[c[0] for c in EMBEDDED])
def test_the_embedded_store_refuses_what_cannot_be_read_back(
    world: World, case: str, named: str, call: Callable[[World], Any]
) -> None:
    before = world.counts()
    with pytest.raises(InvalidArgumentError, match=named):
        call(world)
    assert world.counts() == before, case


def _raw(rest: TestClient, method: str, path: str, text: str) -> Any:
    return rest.request(method, path, content=text, headers={"content-type": "application/json"})


#: (case, the request) over HTTP; each must be a 400 that changes nothing.
REST: list[tuple[str, Callable[[TestClient, World], Any]]] = [
    ("double NaN", lambda r, w: _raw(r, "POST", f"{V1}/artifacts",
        '{"artifacts": [{"type_id": TYPE, "custom_properties": {"x": {"double_value": NaN}}}]}'
        .replace("TYPE", str(w.dataset)))),
    ("struct holding Infinity", lambda r, w: _raw(r, "POST", f"{V1}/artifacts",
        '{"artifacts": [{"type_id": TYPE, "properties": {"st": '
        '{"struct_value": {"a": Infinity}}}}]}'
        .replace("TYPE", str(w.dataset)))),
    ("struct 34 levels deep", lambda r, w: r.post(f"{V1}/artifacts", json={"artifacts": [
        {"type_id": w.dataset, "properties": {"st": {"struct_value": _nested(34)}}}]})),
    ("int past 64 bits", lambda r, w: r.post(f"{V1}/artifacts", json={"artifacts": [
        {"type_id": w.dataset, "custom_properties": {"x": {"int_value": 2**64}}}]})),
    ("event time past 64 bits", lambda r, w: r.post(f"{V1}/events", json={"events": [
        {"artifact_id": w.artifact, "execution_id": w.execution, "type": "OUTPUT",
         "milliseconds_since_epoch": 2**64}]})),
    ("id past 64 bits", lambda r, w: r.get(f"{V1}/artifacts:by_id", params={"ids": 2**64})),
    ("lone surrogate in a name", lambda r, w: _raw(r, "POST", f"{V1}/artifacts",
        '{"artifacts": [{"type_id": TYPE, "name": "a\\ud800"}]}'.replace("TYPE", str(w.dataset)))),
    ("filter_query with a Unicode digit",
     lambda r, w: r.get(f"{V1}/artifacts", params={"filter_query": "id = ²"})),
    ("filter_query with a lone surrogate", lambda r, w: _raw(r, "POST", f"{V1}/lineage:query",
        '{"starting_artifacts": "name = \'a\\ud800\'"}')),
    ("filter_query with 100 neighbour aliases", lambda r, w: r.get(f"{V1}/artifacts", params={
        "filter_query": " AND ".join(f"contexts_c{i}.name = 'x'" for i in range(100))})),
    ("filter_query with 1,001 IN values", lambda r, w: r.get(f"{V1}/artifacts", params={
        "filter_query": "id IN (" + ",".join(["1"] * 1001) + ")"})),
    ("lineage from 100 aliases", lambda r, w: r.post(f"{V1}/lineage:query", json={
        "starting_artifacts": " AND ".join(f"contexts_c{i}.name = 'x'" for i in range(100))})),
    ("runs filter nested 3,000 deep", lambda r, w: _raw(
        r, "POST", f"{V1}/runs/search", '{"filter": ' + _deep_filter_text(3000) + "}")),
    ("runs filter nested 3,000 deep as a query parameter", lambda r, w: r.get(
        f"{V1}/runs", params={"filter": _deep_filter_text(3000)})),
    ("runs filter nested 101 deep", lambda r, w: _raw(
        r, "POST", f"{V1}/runs/search", '{"filter": ' + _deep_filter_text(101) + "}")),
    ("runs filter nested 900 deep", lambda r, w: _raw(
        r, "POST", f"{V1}/runs/search", '{"filter": ' + _deep_filter_text(900) + "}")),
    ("runs filter nested 900 deep as a query parameter", lambda r, w: r.get(
        f"{V1}/runs", params={"filter": _deep_filter_text(900)})),
    ("runs value_in of 70,000 values", lambda r, w: r.post(f"{V1}/runs/search", json={
        "filter": {"value_in": {"key": "team", "values": ["v"] * 70_000}}})),
    ("metric name with a space", lambda r, w: r.patch(
        f"{V1}/runs/{w.run}/metrics", json={"metrics": {"my metric": 1.0}})),
    ("metric NaN", lambda r, w: _raw(r, "PATCH", f"{V1}/runs/{w.run}/metrics",
        '{"metrics": {"acc": NaN}}')),
]  # fmt: skip


@pytest.mark.parametrize(("case", "request_"), REST, ids=[c[0] for c in REST])
def test_the_server_answers_400_to_what_cannot_be_read_back(
    world: World, rest: TestClient, case: str, request_: Callable[[TestClient, World], Any]
) -> None:
    before = world.counts()
    response = request_(rest, world)
    assert response.status_code == 400, (case, response.status_code, response.text[:500])
    assert response.json()["code"] == "invalid_argument"
    assert world.counts() == before, case


# -------------------------------------------------------- stored where the database can


def test_text_the_database_stores_reads_back_exactly_and_the_rest_is_refused(
    world: World, rest: TestClient
) -> None:
    """NUL characters and long incompressible text: PostgreSQL refuses NUL in text and a btree
    index row over 2,704 bytes (uri, string values); SQLite and MySQL store them."""
    postgresql = world.backend == "postgresql"
    cases = [
        ("NUL in a string value", {"properties": {"s": "a\x00b"}}, "NUL"),
        ("a 3,000-byte uri", {"uri": _incompressible(3000)}, "2600 bytes in uri"),
        ("a 2,000-byte string value", {"properties": {"s": _incompressible(2000)}},
         "1600 bytes in string_value"),
    ]  # fmt: skip
    for case, fields, named in cases:
        before = world.counts()
        artifact = _artifact(world, **fields)
        if postgresql:
            with pytest.raises(InvalidArgumentError, match=named):
                world.store.put_artifacts([artifact])
            assert world.counts() == before, case
            continue
        [stored_id] = world.store.put_artifacts([artifact])
        [stored] = world.store.get_artifacts_by_id([stored_id])
        assert stored.properties == artifact.properties, case
        assert (stored.uri or "") == (artifact.uri or ""), case

    long_uri = {"artifacts": [{"type_id": world.dataset, "uri": _incompressible(3000)}]}
    before = world.counts()
    response = rest.post(f"{V1}/artifacts", json=long_uri)
    assert response.status_code == (400 if postgresql else 200), response.text
    if postgresql:
        assert "2600" in response.json()["message"]
        assert world.counts() == before


def test_every_metric_name_that_can_be_logged_can_be_sorted_by(world: World) -> None:
    names = ["acc", "val/acc", "f1-score", "loss_ä", "top:5", "x" * 255]
    second = world.runs.create_run("r1")
    for i, name in enumerate(names):
        world.runs.log_metrics(world.run, {name: float(i)})
        world.runs.log_metrics(second.id, {name: float(i) + 0.5})
        page = world.runs.search_runs(
            {"metric": {"name": name, "op": ">=", "value": 0}}, sort=f"metric:{name} desc"
        )
        assert [run.id for run in page.runs] == [second.id, world.run], name


# ------------------------------------------------------------------- statement timeouts


@contextmanager
def locked_artifacts(world: World) -> Iterator[None]:
    """Another session holds an exclusive lock on the Artifact table while the block runs:
    every statement reading it waits, as behind a long migration or a runaway query."""
    holder = Database.from_url(world.url)
    table = "artifact" if world.backend == "postgresql" else "Artifact"
    lock = {
        "postgresql": f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE",
        "mysql": f"LOCK TABLES {table} WRITE",
    }[world.backend]
    with holder.connect() as conn:
        conn.exec_driver_sql(lock)
        try:
            yield
        finally:
            if world.backend == "mysql":
                conn.exec_driver_sql("UNLOCK TABLES")
            conn.rollback()
    holder.dispose()


def _waiting_statements(world: World) -> int:
    """Statements of other sessions still waiting on a lock on the server."""
    with Database.from_url(world.url).connect() as conn:
        if world.backend == "postgresql":
            sql = (
                "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            )
        else:
            sql = (
                "SELECT COUNT(*) FROM information_schema.processlist "
                "WHERE LEFT(state, 17) = 'Waiting for table' AND db = DATABASE()"
            )
        return int(conn.exec_driver_sql(sql).scalar_one())


def _needs_statement_timeout(world: World) -> None:
    if world.backend == "sqlite":
        pytest.skip("SQLite has no statement timeout: its statements run in the caller")


def test_a_statement_past_the_timeout_is_cancelled_and_the_backend_freed(world: World) -> None:
    _needs_statement_timeout(world)
    store = metadb.connect(world.url, statement_timeout=0.5)
    try:
        with locked_artifacts(world):
            started = time.monotonic()
            with pytest.raises(QueryTimeoutError, match=r"statement timeout of 0\.5s") as raised:
                store.get_artifacts()
            assert time.monotonic() - started < 10
            assert raised.value.timeout == 0.5
            assert _waiting_statements(world) == 0
    finally:
        store.close()


def test_connecting_behind_a_locked_table_is_bounded_by_the_timeout(world: World) -> None:
    """On MySQL, connect samples the MLMD tables' text to pick the text mode: behind a lock
    that sample gives up at the statement timeout instead of waiting for the lock."""
    if world.backend != "mysql":
        pytest.skip("only MySQL reads the MLMD tables when connecting (its text-mode check)")
    with locked_artifacts(world):
        started = time.monotonic()
        with pytest.raises(QueryTimeoutError):
            metadb.connect(world.url, statement_timeout=0.5, migrate=False)
        assert time.monotonic() - started < 10
        assert _waiting_statements(world) == 0


def test_the_url_sets_the_timeout_and_zero_means_none(world: World) -> None:
    separator = "&" if "?" in world.url else "?"
    store = metadb.connect(f"{world.url}{separator}statement_timeout=0.25", migrate=False)
    unlimited = metadb.connect(world.url, statement_timeout=0, migrate=False)
    try:
        assert store._session.statement_timeout == 0.25
        assert unlimited._session.statement_timeout == 0
        assert len(store.get_artifacts()) == 1  # the parameter never reaches the driver
        with pytest.raises(metadb.errors.ConfigError, match="statement_timeout"):
            metadb.connect(world.url, statement_timeout=-1, migrate=False)
    finally:
        store.close()
        unlimited.close()


def test_the_server_answers_503_when_the_timeout_cancels_a_request(world: World) -> None:
    _needs_statement_timeout(world)
    settings = ServeSettings(database_url=world.url, run_backfills=False, statement_timeout=0.5)
    with (
        TestClient(create_app(settings), raise_server_exceptions=False) as client,
        locked_artifacts(world),
    ):
        response = client.get(f"{V1}/artifacts")
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "query_timeout"
        assert "0.5s" in response.json()["message"]
        assert client.get(f"{V1}/runs").status_code == 200  # other tables answer
    assert _waiting_statements(world) == 0


def test_a_request_whose_client_went_away_frees_the_database_by_the_timeout(
    world: World,
) -> None:
    """The client gives up after 0.2 s; the server's statement, still waiting for the lock,
    is cancelled by its 3 s timeout instead of holding a backend until the lock goes."""
    import httpx

    from tests.api.conftest import running_server

    _needs_statement_timeout(world)
    settings = ServeSettings(database_url=world.url, run_backfills=False, statement_timeout=3)
    with running_server(settings) as base, locked_artifacts(world):
        with pytest.raises(httpx.TimeoutException):
            httpx.get(f"{base}{V1}/artifacts", timeout=0.2)
        assert _wait_for(lambda: _waiting_statements(world) == 1, seconds=3)
        seen = time.monotonic()
        assert _wait_for(lambda: _waiting_statements(world) == 0, seconds=15)
        assert time.monotonic() - seen < 10


def _wait_for(condition: Callable[[], bool], *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_serve_flag_reaches_the_server_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import metadb.api.server as server
    from metadb.cli.main import app

    seen: list[float | None] = []
    monkeypatch.setattr(
        server, "serve", lambda settings, **_: seen.append(settings.statement_timeout)
    )
    runner = CliRunner()
    flag = ["serve", "--database", "sqlite:///:memory:", "--statement-timeout"]
    assert runner.invoke(app, [*flag, "2.5"]).exit_code == 0
    assert seen == [2.5]
    assert runner.invoke(app, [*flag, "-1"]).exit_code == 2  # a usage error


def test_the_cli_exits_2_naming_the_limit(world: World, tmp_path: Any) -> None:
    from tests.cli.test_cli import run

    db = ("--database", world.url)
    deep = tmp_path / "deep.json"
    deep.write_text(_deep_filter_text(3000), encoding="utf-8")
    searched = run("runs", "search", "--filter-file", str(deep), *db)
    assert searched.returncode == 2, searched.stderr
    assert "deeper than" in searched.stderr
    before = world.counts()
    logged = run("runs", "metrics", str(world.run), "my metric=1", *db)
    assert logged.returncode == 2, logged.stderr
    assert "whitespace" in logged.stderr
    assert world.counts() == before
