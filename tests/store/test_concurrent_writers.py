"""Many writers at once: every "look up, else insert" gives one row and one answer.

Eight processes, each with its own store (its own connection pool, as separate programs or
server replicas have), race through the same calls round after round, released together by a
barrier. Afterwards SQL counts the rows: no type, context, link, event or annotation exists
twice, every process got the same ids, and the only errors are the ones ml-metadata raises
for the same calls (AlreadyExists for a context or event that another writer created first).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, event, text

import metadb
import metadb.runs
from metadb.api.errors import status_for
from metadb.db import Database
from metadb.db.mysql import named_lock_name
from metadb.db.retry import RetryPolicy
from metadb.errors import AlreadyExistsError, InvalidArgumentError, WriteConflictError
from metadb.store import (
    Artifact,
    ArtifactType,
    Association,
    Attribution,
    Context,
    ContextType,
    Event,
    EventType,
    Execution,
    ExecutionType,
    ParentContext,
    PropertyType,
)
from metadb.store.session import StoreSession

WORKERS = 8
ROUNDS = 4
#: Seconds one racer may take for all its rounds; the test fails rather than hangs.
DEADLINE = 90


def _race(url: str, worker: int, shared: dict[str, int], barrier: Any, queue: Any) -> None:
    """One racer: the same calls as every other racer, each round started together."""
    results: dict[str, Any] = {}
    errors: list[str] = []
    try:
        store = metadb.connect(url, migrate=False)
        runs = metadb.runs.RunStore(store.database)
        for r in range(ROUNDS):
            barrier.wait(DEADLINE)
            results[f"artifact_type{r}"] = store.put_artifact_type(
                ArtifactType(name=f"Dataset{r}", properties={"day": PropertyType.INT}),
                can_omit_fields=True,
            )
            results[f"context_type{r}"] = store.put_context_type(ContextType(name=f"Pipeline{r}"))
            results[f"execution_type{r}"] = store.put_execution_type(
                ExecutionType(name=f"Trainer{r}")
            )
            # Every racer adds the same field and one of its own to the stored type.
            results[f"extended_type{r}"] = store.put_artifact_type(
                ArtifactType(
                    name=f"Dataset{r}",
                    properties={"day": PropertyType.INT, "split": PropertyType.STRING,
                                f"by{worker}": PropertyType.STRING},
                ),
                can_add_fields=True,
                can_omit_fields=True,
            )  # fmt: skip
            context_type = results[f"context_type{r}"]
            barrier.wait(DEADLINE)
            # ml-metadata's put_contexts: one writer creates the context, the others are told
            # it exists (AlreadyExists) and read it.
            try:
                [results[f"context{r}"]] = store.put_contexts(
                    [Context(type_id=context_type, name=f"nightly-{r}")]
                )
            except AlreadyExistsError:
                found = store.get_context_by_type_and_name(f"Pipeline{r}", f"nightly-{r}")
                assert found is not None and found.id is not None
                results[f"context{r}"] = found.id
            # put_execution reusing the context and the artifact: everyone gets the same ids.
            _, [artifact], [context] = store.put_execution(
                Execution(type_id=results[f"execution_type{r}"]),
                [(Artifact(type_id=results[f"artifact_type{r}"], uri=f"s3://b/{r}",
                           external_id=f"dataset-{r}"), Event(None, None, EventType.OUTPUT))],
                [Context(type_id=context_type, name=f"pipeline-{r}")],
                reuse_context_if_already_exist=True,
                reuse_artifact_if_already_exist_by_external_id=True,
            )  # fmt: skip
            results[f"reused_artifact{r}"], results[f"reused_context{r}"] = artifact, context
            barrier.wait(DEADLINE)
            store.put_attributions_and_associations(
                [Attribution(context, shared["artifact"])],
                [Association(context, shared["execution"])],
            )
            with contextlib.suppress(AlreadyExistsError):
                link = ParentContext(child_id=context, parent_id=results[f"context{r}"])
                store.put_parent_contexts([link])
            # Half the racers link two contexts one way, half the other way: one direction
            # wins, the other is a cycle and is refused.
            child, parent = shared["left"], shared["right"]
            if worker % 2:
                child, parent = parent, child
            try:
                store.put_parent_contexts([ParentContext(child_id=child, parent_id=parent)])
            except (AlreadyExistsError, InvalidArgumentError) as exc:
                if isinstance(exc, InvalidArgumentError) and "cycle" not in str(exc):
                    raise
            with contextlib.suppress(AlreadyExistsError):
                store.put_events(
                    [Event(shared["artifact"], shared["execution"], EventType(r % 7 + 1))]
                )
            runs.set_annotations(shared["run"], {"team": "vision", f"w{worker}": str(r)})
            runs.log_metrics(shared["run"], {"accuracy": 0.5 + r / 10, f"m{worker}": r})
            runs.add_task(shared["run"], f"step-{worker}-{r}")
            created = runs.create_run(f"nightly-{r}", annotations={"team": "vision"})
            runs.set_annotations(created.id, {"round": str(r)})
        store.close()
    except BaseException:  # reported to the test, which fails on it
        errors.append(traceback.format_exc())
        barrier.abort()  # the others stop at their next round instead of waiting it out
    queue.put((worker, results, errors))


@pytest.fixture
def prepared(database_url: str) -> Iterator[tuple[str, dict[str, int]]]:
    """The migrated database and the nodes every racer links to."""
    store = metadb.connect(database_url)
    runs = metadb.runs.RunStore(store.database)
    a_type = store.put_artifact_type(ArtifactType(name="Shared"))
    e_type = store.put_execution_type(ExecutionType(name="SharedStep"))
    c_type = store.put_context_type(ContextType(name="SharedGroup"))
    [artifact] = store.put_artifacts([Artifact(type_id=a_type, uri="s3://shared")])
    [execution] = store.put_executions([Execution(type_id=e_type)])
    left, right = store.put_contexts(
        [Context(type_id=c_type, name="left"), Context(type_id=c_type, name="right")]
    )
    run = runs.create_run("shared-run")
    shared = {"artifact": artifact, "execution": execution, "left": left, "right": right,
              "run": run.id}  # fmt: skip
    store.close()
    yield database_url, shared


@pytest.mark.slow
def test_racing_writers_never_duplicate_rows_and_agree_on_ids(
    prepared: tuple[str, dict[str, int]],
) -> None:
    url, shared = prepared
    # Forked, not spawned: eight fresh interpreters importing metadb take most of a minute on
    # two cores. The parent holds no connection (the fixture closed its store).
    forked = multiprocessing.get_context("fork")
    barrier = forked.Barrier(WORKERS)
    queue = forked.Queue()
    racers = [
        forked.Process(target=_race, args=(url, worker, shared, barrier, queue))
        for worker in range(WORKERS)
    ]
    for racer in racers:
        racer.start()
    try:
        reports = [queue.get(timeout=DEADLINE + 60) for _ in racers]
    finally:
        for racer in racers:
            racer.join(10)
            if racer.is_alive():
                racer.kill()
    failures = [error for _, _, errors in reports for error in errors]
    assert not failures, "\n".join(failures)

    # Every racer got the same id for every shared thing.
    answers = [results for _, results, _ in reports]
    for key in answers[0]:
        assert len({results[key] for results in answers}) == 1, key

    store = metadb.connect(url, migrate=False)
    try:
        with store.database.connect() as conn:

            def duplicates(table: str, columns: str) -> int:
                table = {"sqlite": table, "mysql": table}.get(
                    store.database.url.dialect, table.lower()
                )
                sql = (
                    f"SELECT COUNT(*) FROM (SELECT {columns} FROM {table} GROUP BY {columns} "
                    "HAVING COUNT(*) > 1) d"
                )
                return int(conn.execute(text(sql)).scalar_one())

            assert duplicates("Type", "name, version, type_kind") == 0
            assert duplicates("TypeProperty", "type_id, name") == 0
            assert duplicates("Context", "type_id, name") == 0
            assert duplicates("Artifact", "external_id") == 0
            assert duplicates("Attribution", "context_id, artifact_id") == 0
            assert duplicates("Association", "context_id, execution_id") == 0
            assert duplicates("ParentContext", "context_id, parent_context_id") == 0
            assert duplicates("Event", "artifact_id, execution_id, type") == 0
            assert duplicates("metadb_run_annotation", "run_id, annotation_key") == 0
            assert duplicates("metadb_run_metric", "run_id, name") == 0
            pairs = conn.execute(
                text(
                    "SELECT COUNT(*) FROM "
                    + ("ParentContext" if store.database.url.dialect != "postgresql"
                       else "parentcontext")
                    + " WHERE context_id IN (:l, :r) AND parent_context_id IN (:l, :r)"
                ),
                {"l": shared["left"], "r": shared["right"]},
            ).scalar_one()  # fmt: skip
            assert pairs == 1  # one direction, never a cycle
        # Each type has the shared field and every racer's own field, once.
        dataset = store.get_artifact_type("Dataset0")
        assert set(dataset.properties) == {"day", "split", *(f"by{w}" for w in range(WORKERS))}
        assert len(store.get_events_by_artifact_ids([shared["artifact"]])) == ROUNDS
        run = metadb.runs.RunStore(store.database).get_run(shared["run"])
        assert run.annotations["team"] == "vision"
        assert {f"w{w}" for w in range(WORKERS)} <= set(run.annotations)
        assert len(run.tasks) == WORKERS * ROUNDS
        created = metadb.runs.RunStore(store.database).search_runs(
            {"value_equals": {"field": "name", "value": "nightly-0"}}, limit=100
        )
        assert len(created.items) == WORKERS  # create_run makes a new run per call, by design
    finally:
        store.close()


def test_a_write_waits_for_the_named_lock_and_a_failed_one_releases_it(
    database_url: str,
) -> None:
    first = Database.from_url(database_url, lock_timeout=10)
    second = Database.from_url(database_url, lock_timeout=10)
    metadb.connect(database_url).close()  # migrated: BEGIN IMMEDIATE needs the file
    inside, release = threading.Event(), threading.Event()
    order: list[str] = []

    def hold_then_fail(conn: Connection) -> None:
        inside.set()
        release.wait(10)
        order.append("first failed")
        raise InvalidArgumentError("refused after taking the lock")

    def follow(conn: Connection) -> None:
        order.append("second ran")

    def run_first() -> None:
        with contextlib.suppress(InvalidArgumentError):
            StoreSession(first).run(hold_then_fail, locks=["type:Dataset"])

    holder = threading.Thread(target=run_first)
    holder.start()
    try:
        assert inside.wait(10)
        follower = threading.Thread(
            target=lambda: StoreSession(second).run(follow, locks=["type:Dataset"])
        )
        follower.start()
        time.sleep(0.5)
        assert order == []  # the second writer waits for the first to end
        release.set()
        follower.join(15)
        assert order == ["first failed", "second ran"]
        with second.connect() as conn:  # and no lock outlives its transaction
            assert _named_locks_held(conn, second) == 0
    finally:
        release.set()
        holder.join(15)
        first.dispose()
        second.dispose()


def _named_locks_held(conn: Connection, db: Database) -> int:
    if db.url.dialect == "postgresql":
        query = (
            "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        return int(conn.execute(text(query)).scalar_one())
    if db.url.dialect == "mysql":
        name = named_lock_name(db.url.url.database or "", "type:Dataset")
        return int(
            conn.execute(text("SELECT IS_USED_LOCK(:n) IS NOT NULL"), {"n": name}).scalar_one()
        )
    return 0


def test_the_postgresql_named_lock_costs_one_round_trip(postgresql_url: str) -> None:
    db = Database.from_url(postgresql_url)
    statements: list[str] = []
    try:
        with db.connect() as conn, conn.begin():
            event.listen(conn, "before_cursor_execute", lambda *a: statements.append(a[2]))
            with db.dialect.named_lock(conn, "mlmd.type:1:Dataset", timeout=1):
                assert len(statements) == 1
            assert len(statements) == 1  # released by the transaction's end, not a statement
        assert "pg_advisory_xact_lock" in statements[0]
    finally:
        db.dispose()


def test_a_write_that_keeps_losing_raises_write_conflict_after_its_tries(
    postgresql_url: str,
) -> None:
    metadb.connect(postgresql_url).close()
    db, blocker = Database.from_url(postgresql_url), Database.from_url(postgresql_url)
    session = StoreSession(db, retry=RetryPolicy(attempts=3, first_delay=0.01, max_delay=0.02))
    tries: list[int] = []

    def work(conn: Connection) -> None:
        tries.append(1)
        conn.execute(text("SET LOCAL lock_timeout = '50ms'"))
        conn.execute(text("SELECT pg_advisory_xact_lock(7, 7)"))  # held by ``blocker``

    try:
        with blocker.connect() as held, held.begin():
            held.execute(text("SELECT pg_advisory_xact_lock(7, 7)"))
            with pytest.raises(WriteConflictError) as caught:
                session.run(work, doing="the nightly import")
    finally:
        db.dispose()
        blocker.dispose()
    assert len(tries) == 3  # run again whole, then given up
    assert "the nightly import conflicted with concurrent writers on all 3 tries" in str(
        caught.value
    )
    assert status_for(caught.value) == 503  # the API says: retry later
