"""Three ``metadb serve`` replicas on one database, 24 clients racing through the same calls.

The deployment this guards: several server replicas behind a load balancer, pipelines
creating the same types and contexts at once. Afterwards SQL counts the rows: nothing exists
twice, every client got the same ids, and no request failed with a 5xx; the only errors are
ml-metadata's AlreadyExists for a context or event that another client created first.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

import metadb
import metadb.runs
from metadb.client import Client
from metadb.errors import AlreadyExistsError
from metadb.store import (
    Artifact,
    ArtifactType,
    Context,
    ContextType,
    Event,
    EventType,
    Execution,
    ExecutionType,
    PropertyType,
)
from tests.api.test_serve_command import serving

pytestmark = pytest.mark.slow

REPLICAS = 3
CLIENTS = 24
ROUNDS = 3
DEADLINE = 60


class _Racer(threading.Thread):
    """One client, pinned to one replica, making the same calls as every other client."""

    def __init__(self, number: int, base: str, shared: dict[str, int], barrier: Any) -> None:
        super().__init__(name=f"racer-{number}", daemon=True)
        self.number, self.base, self.shared, self.barrier = number, base, shared, barrier
        self.ids: dict[str, Any] = {}
        self.requests = 0
        self.already_exists = 0
        self.failures: list[str] = []

    def call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        self.requests += 1
        return method(*args, **kwargs)

    def run(self) -> None:
        try:
            with Client(self.base, timeout=DEADLINE) as client:
                for r in range(ROUNDS):
                    self.barrier.wait(DEADLINE)
                    self.round(client, r)
        except threading.BrokenBarrierError:
            self.failures.append("another racer failed first")
        except Exception as exc:
            self.failures.append(f"{type(exc).__name__}: {exc}")
            self.barrier.abort()

    def round(self, client: Client, r: int) -> None:
        artifact_type = self.call(
            client.put_artifact_type,
            ArtifactType(name=f"Dataset{r}", properties={"day": PropertyType.INT}),
        )
        context_type = self.call(client.put_context_type, ContextType(name=f"Pipeline{r}"))
        execution_type = self.call(client.put_execution_type, ExecutionType(name=f"Step{r}"))
        self.ids.update({f"artifact_type{r}": artifact_type, f"context_type{r}": context_type,
                         f"execution_type{r}": execution_type})  # fmt: skip
        try:
            [context] = self.call(
                client.put_contexts, [Context(type_id=context_type, name=f"nightly-{r}")]
            )
        except AlreadyExistsError:
            self.already_exists += 1
            found = self.call(client.get_context_by_type_and_name, f"Pipeline{r}", f"nightly-{r}")
            context = found.id
        self.ids[f"context{r}"] = context
        _, [artifact], [reused] = self.call(
            client.put_execution,
            Execution(type_id=execution_type),
            [(Artifact(type_id=artifact_type, uri=f"s3://b/{r}", external_id=f"data-{r}"),
              Event(None, None, EventType.OUTPUT))],
            [Context(type_id=context_type, name=f"pipeline-{r}")],
            reuse_context_if_already_exist=True,
            reuse_artifact_if_already_exist_by_external_id=True,
        )  # fmt: skip
        self.ids[f"reused_artifact{r}"], self.ids[f"reused_context{r}"] = artifact, reused
        try:
            event = Event(self.shared["artifact"], self.shared["execution"], EventType(r + 1))
            self.call(client.put_events, [event])
        except AlreadyExistsError:
            self.already_exists += 1
        run = self.call(client.create_run, f"nightly-{r}", annotations={"team": "vision"})
        self.call(client.set_annotations, run.id, {"round": str(r)})
        self.call(client.set_annotations, self.shared["run"],
                  {"team": "vision", f"client{self.number}": str(r)})  # fmt: skip
        self.call(client.log_metrics, self.shared["run"], {"accuracy": 0.9, "loss": r})


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_three_replicas_and_24_clients_never_duplicate_rows_or_fail(
    backend: str, database_url: str, tmp_path: Path
) -> None:
    store = metadb.connect(database_url)  # migrated once; the replicas only check
    a_type = store.put_artifact_type(ArtifactType(name="Shared"))
    e_type = store.put_execution_type(ExecutionType(name="SharedStep"))
    [artifact] = store.put_artifacts([Artifact(type_id=a_type, uri="s3://shared")])
    [execution] = store.put_executions([Execution(type_id=e_type)])
    shared_run = metadb.runs.RunStore(store.database).create_run("shared")
    shared = {"artifact": artifact, "execution": execution, "run": shared_run.id}
    store.close()

    with ExitStack() as servers:
        bases = [
            servers.enter_context(
                serving("--database", database_url, "--no-migrate",
                        log=tmp_path / f"replica{i}.log")
            )[1]
            for i in range(REPLICAS)
        ]  # fmt: skip
        barrier = threading.Barrier(CLIENTS)
        racers = [_Racer(n, bases[n % REPLICAS], shared, barrier) for n in range(CLIENTS)]
        started = time.monotonic()
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join(DEADLINE * ROUNDS)
        seconds = time.monotonic() - started
        logs = "".join((tmp_path / f"replica{i}.log").read_text() for i in range(REPLICAS))

    store = metadb.connect(database_url, migrate=False)
    try:
        duplicates = _duplicates(store)
        run = metadb.runs.RunStore(store.database).get_run(shared["run"])
    finally:
        store.close()
    server_errors = len(re.findall(r"^.* (?:GET|POST|PUT|PATCH|DELETE) \S+ 5\d\d ", logs, re.M))
    disagreements = [
        key for key in racers[0].ids if len({racer.ids.get(key) for racer in racers}) != 1
    ]
    figures = (
        f"{backend}: {sum(r.requests for r in racers)} requests by {CLIENTS} clients over "
        f"{REPLICAS} replicas in {seconds:.1f}s; duplicates {dict(duplicates)}; "
        f"5xx {server_errors}; AlreadyExists {sum(r.already_exists for r in racers)}; "
        f"ids that differ {disagreements}"
    )
    print(figures)
    failures = [f"{r.name}: {failure}" for r in racers for failure in r.failures]
    assert not failures, f"{figures}\n" + "\n".join(failures[:10])
    assert not any(racer.is_alive() for racer in racers), figures
    assert sum(duplicates.values()) == 0, figures
    assert server_errors == 0, figures
    assert not disagreements, figures
    assert {f"client{n}" for n in range(CLIENTS)} <= set(run.annotations)
    assert "Traceback" not in logs


def _duplicates(store: metadb.MetadataStore) -> Counter[str]:
    """Groups of rows that share what ml-metadata (or metadb) means to be one row's key."""
    keys = {
        "Type": "name, version, type_kind",
        "Context": "type_id, name",
        "Artifact": "external_id",
        "Event": "artifact_id, execution_id, type",
        "Attribution": "context_id, artifact_id",
        "Association": "context_id, execution_id",
        "metadb_run_annotation": "run_id, annotation_key",
        "metadb_run_metric": "run_id, name",
    }
    found: Counter[str] = Counter()
    lower = store.database.url.dialect == "postgresql"  # ml-metadata's unquoted names
    with store.database.connect() as conn:
        for table, columns in keys.items():
            name = table.lower() if lower else table
            found[table] = int(
                conn.execute(
                    text(
                        f"SELECT COUNT(*) FROM (SELECT {columns} FROM {name} "
                        f"WHERE {columns.split(',')[0]} IS NOT NULL "
                        f"GROUP BY {columns} HAVING COUNT(*) > 1) d"
                    )
                ).scalar_one()
            )
    return found
