"""metadb against ml-metadata 1.17.1: one workload, both on SQLite files, in the same run.

    .venv/bin/python benchmarks/mlmd_compare.py [--n 10000] [--mlmd-python PATH]

The workload (the store issue's): N artifacts (3 properties + 1 custom) and N executions
(3 properties) put in batches of 100; 2N events with a path step (execution i reads artifact
i-1 and writes artifact i, a chain for lineage); N/10 run contexts under 10 pipeline contexts
with attributions and associations; then reads: everything by type, filtered lists, events of
100 executions, and lineage walks. ml-metadata runs in its own environment (it has no wheels
past Python 3.11): this script starts itself there with ``--side mlmd`` and reads its timings.
Each read is timed as the fastest of 9 runs (after one warm-up): on a shared machine the
fastest run is the one least disturbed by other work, for both stores alike. The last column
is ml-metadata's time divided by metadb's: above 1 means metadb is faster.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BATCH = 100
READ_REPEATS = 9
DEFAULT_MLMD_PYTHON = (
    Path.home() / ".cache" / "metadb-tests" / "ml-metadata-1.17.1" / "bin" / "python"
)

FILTERS = {
    "filter: property equality": "properties.shard.int_value = 42",
    "filter: property range": "properties.score.double_value < 0.01",
    "filter: custom property": "custom_properties.tag.string_value = 'tag-7'",
    "filter: context name": "contexts_r.name = 'run-42'",
    "filter: uri LIKE": "uri LIKE '/data/12%'",
}


def timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def best_time(action: Callable[[], Any]) -> float:
    action()
    return min(timed(action) for _ in range(READ_REPEATS))


class Workload:
    """The same steps for both stores; subclasses say how each step is done."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.times: dict[str, float] = {}

    def run(self) -> dict[str, float]:
        n = self.n
        self.setup_types()
        self.times["put_artifacts"] = timed(lambda: self.put_artifacts(n))
        self.times["put_executions"] = timed(lambda: self.put_executions(n))
        self.times["put_events"] = timed(lambda: self.put_events(n))
        self.times["contexts + links"] = timed(lambda: self.put_contexts(n))
        self.times["get_artifacts_by_type (all)"] = best_time(self.artifacts_by_type)
        self.times["get_executions_by_type (all)"] = best_time(self.executions_by_type)
        for label, query in FILTERS.items():
            self.times[label] = best_time(lambda q=query: self.filtered(q))  # type: ignore[misc]
        ids = list(range(1, 101))
        self.times["get_events_by_execution_ids(100)"] = best_time(lambda: self.events(ids))
        middle = f"name = 'a{n // 2}'"
        self.times["lineage: 1 artifact, 20 hops"] = best_time(lambda: self.lineage(middle, 20))
        starts = f"id > {n // 2} AND id <= {n // 2 + 100}"
        self.times["lineage: ~100 starts, 2 hops"] = best_time(lambda: self.lineage(starts, 2))
        return self.times

    def setup_types(self) -> None: ...
    def put_artifacts(self, n: int) -> None: ...
    def put_executions(self, n: int) -> None: ...
    def put_events(self, n: int) -> None: ...
    def put_contexts(self, n: int) -> None: ...
    def artifacts_by_type(self) -> Any: ...
    def executions_by_type(self) -> Any: ...
    def filtered(self, query: str) -> Any: ...
    def events(self, ids: list[int]) -> Any: ...
    def lineage(self, start: str, hops: int) -> Any: ...


class MetadbWorkload(Workload):
    def __init__(self, n: int, path: Path) -> None:
        super().__init__(n)
        import metadb
        from metadb import store as m

        self.m = m
        self.store = metadb.connect(f"sqlite:///{path}")

    def setup_types(self) -> None:
        m = self.m
        props = {
            "shard": m.PropertyType.INT,
            "score": m.PropertyType.DOUBLE,
            "split": m.PropertyType.STRING,
        }
        self.a_type = self.store.put_artifact_type(m.ArtifactType(name="Dataset", properties=props))
        self.e_type = self.store.put_execution_type(
            m.ExecutionType(name="Trainer", properties=props)
        )
        self.p_type = self.store.put_context_type(m.ContextType(name="Pipeline", properties=props))
        self.r_type = self.store.put_context_type(m.ContextType(name="Run", properties=props))

    def put_artifacts(self, n: int) -> None:
        m = self.m
        for start in range(0, n, BATCH):
            self.store.put_artifacts(
                [
                    m.Artifact(
                        type_id=self.a_type,
                        name=f"a{i}",
                        uri=f"/data/{i}",
                        properties={"shard": i % 100, "score": i / n, "split": "train"},
                        custom_properties={"tag": f"tag-{i % 10}"},
                    )
                    for i in range(start, min(n, start + BATCH))
                ]
            )

    def put_executions(self, n: int) -> None:
        m = self.m
        for start in range(0, n, BATCH):
            self.store.put_executions(
                [
                    m.Execution(
                        type_id=self.e_type,
                        name=f"e{i}",
                        properties={"shard": i % 100, "score": i / n, "split": "train"},
                    )
                    for i in range(start, min(n, start + BATCH))
                ]
            )

    def put_events(self, n: int) -> None:
        m = self.m
        edges = [(i + 1, i + 1, m.EventType.OUTPUT) for i in range(n)]
        edges += [(i, i + 1, m.EventType.INPUT) for i in range(1, n)]
        for start in range(0, len(edges), BATCH):
            self.store.put_events(
                [m.Event(a, e, t, path=["out"]) for a, e, t in edges[start : start + BATCH]]
            )

    def put_contexts(self, n: int) -> None:
        m = self.m
        pipelines = self.store.put_contexts(
            [m.Context(type_id=self.p_type, name=f"pipe-{i}") for i in range(10)]
        )
        runs: list[int] = []
        for start in range(0, n // 10, BATCH):
            runs += self.store.put_contexts(
                [
                    m.Context(type_id=self.r_type, name=f"run-{i}")
                    for i in range(start, min(n // 10, start + BATCH))
                ]
            )
        links = [
            m.ParentContext(child_id=r, parent_id=pipelines[i % 10]) for i, r in enumerate(runs)
        ]
        for start in range(0, len(links), BATCH):
            self.store.put_parent_contexts(links[start : start + BATCH])
        for start in range(0, n, BATCH):
            ids = range(start + 1, min(n, start + BATCH) + 1)
            self.store.put_attributions_and_associations(
                [m.Attribution(runs[(i - 1) // 10], i) for i in ids],
                [m.Association(runs[(i - 1) // 10], i) for i in ids],
            )

    def artifacts_by_type(self) -> Any:
        return self.store.get_artifacts_by_type("Dataset")

    def executions_by_type(self) -> Any:
        return self.store.get_executions_by_type("Trainer")

    def filtered(self, query: str) -> Any:
        return self.store.get_artifacts(self.m.ListOptions(filter_query=query))

    def events(self, ids: list[int]) -> Any:
        return self.store.get_events_by_execution_ids(ids)

    def lineage(self, start: str, hops: int) -> Any:
        options = self.m.LineageSubgraphQueryOptions(starting_artifacts=start, max_num_hops=hops)
        return self.store.get_lineage_subgraph(options)


class MlmdWorkload(Workload):
    def __init__(self, n: int, path: Path) -> None:
        super().__init__(n)
        from ml_metadata.metadata_store import metadata_store
        from ml_metadata.proto import metadata_store_pb2 as pb

        self.pb, self.ms = pb, metadata_store
        config = pb.ConnectionConfig()
        config.sqlite.filename_uri = str(path)
        config.sqlite.connection_mode = 3
        self.store = metadata_store.MetadataStore(config)

    def setup_types(self) -> None:
        pb = self.pb
        props = {"shard": pb.INT, "score": pb.DOUBLE, "split": pb.STRING}
        self.a_type = self.store.put_artifact_type(
            pb.ArtifactType(name="Dataset", properties=props)
        )
        self.e_type = self.store.put_execution_type(
            pb.ExecutionType(name="Trainer", properties=props)
        )
        self.p_type = self.store.put_context_type(pb.ContextType(name="Pipeline", properties=props))
        self.r_type = self.store.put_context_type(pb.ContextType(name="Run", properties=props))

    def _props(self, node: Any, i: int) -> Any:
        node.properties["shard"].int_value = i % 100
        node.properties["score"].double_value = i / self.n
        node.properties["split"].string_value = "train"
        return node

    def put_artifacts(self, n: int) -> None:
        pb = self.pb
        for start in range(0, n, BATCH):
            batch = []
            for i in range(start, min(n, start + BATCH)):
                a = self._props(pb.Artifact(type_id=self.a_type, name=f"a{i}", uri=f"/data/{i}"), i)
                a.custom_properties["tag"].string_value = f"tag-{i % 10}"
                batch.append(a)
            self.store.put_artifacts(batch)

    def put_executions(self, n: int) -> None:
        pb = self.pb
        for start in range(0, n, BATCH):
            self.store.put_executions(
                [
                    self._props(pb.Execution(type_id=self.e_type, name=f"e{i}"), i)
                    for i in range(start, min(n, start + BATCH))
                ]
            )

    def put_events(self, n: int) -> None:
        E = self.pb.Event
        edges = [(i + 1, i + 1, E.OUTPUT) for i in range(n)]
        edges += [(i, i + 1, E.INPUT) for i in range(1, n)]
        for start in range(0, len(edges), BATCH):
            batch = []
            for a, e, t in edges[start : start + BATCH]:
                event = E(artifact_id=a, execution_id=e, type=t)
                event.path.steps.add().key = "out"
                batch.append(event)
            self.store.put_events(batch)

    def put_contexts(self, n: int) -> None:
        pb = self.pb
        pipelines = self.store.put_contexts(
            [pb.Context(type_id=self.p_type, name=f"pipe-{i}") for i in range(10)]
        )
        runs: list[int] = []
        for start in range(0, n // 10, BATCH):
            runs += self.store.put_contexts(
                [
                    pb.Context(type_id=self.r_type, name=f"run-{i}")
                    for i in range(start, min(n // 10, start + BATCH))
                ]
            )
        links = [
            pb.ParentContext(child_id=r, parent_id=pipelines[i % 10]) for i, r in enumerate(runs)
        ]
        for start in range(0, len(links), BATCH):
            self.store.put_parent_contexts(links[start : start + BATCH])
        for start in range(0, n, BATCH):
            ids = range(start + 1, min(n, start + BATCH) + 1)
            self.store.put_attributions_and_associations(
                [pb.Attribution(context_id=runs[(i - 1) // 10], artifact_id=i) for i in ids],
                [pb.Association(context_id=runs[(i - 1) // 10], execution_id=i) for i in ids],
            )

    def artifacts_by_type(self) -> Any:
        return self.store.get_artifacts_by_type("Dataset")

    def executions_by_type(self) -> Any:
        return self.store.get_executions_by_type("Trainer")

    def filtered(self, query: str) -> Any:
        return self.store.get_artifacts(list_options=self.ms.ListOptions(filter_query=query))

    def events(self, ids: list[int]) -> Any:
        return self.store.get_events_by_execution_ids(ids)

    def lineage(self, start: str, hops: int) -> Any:
        q = self.pb.LineageSubgraphQueryOptions(max_num_hops=hops)
        q.starting_artifacts.filter_query = start
        return self.store.get_lineage_subgraph(q, [])


def run_side(side: str, n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{side}.sqlite"
        workload = MlmdWorkload(n, path) if side == "mlmd" else MetadbWorkload(n, path)
        return workload.run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--mlmd-python", type=Path, default=DEFAULT_MLMD_PYTHON)
    parser.add_argument("--side", choices=["both", "mlmd", "metadb"], default="both")
    args = parser.parse_args()
    if args.side != "both":
        print(json.dumps(run_side(args.side, args.n)))
        return
    if not args.mlmd_python.exists():
        sys.exit(
            f"no ml-metadata interpreter at {args.mlmd_python}: run the interop tests once "
            "(they create it) or pass --mlmd-python"
        )
    env = {**os.environ, "GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "2"}
    mlmd_run = subprocess.run(
        [str(args.mlmd_python), __file__, "--side", "mlmd", "--n", str(args.n)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    theirs = json.loads(mlmd_run.stdout.strip().splitlines()[-1])
    ours = run_side("metadb", args.n)
    n = args.n
    counts = {"put_artifacts": n, "put_executions": n, "put_events": 2 * n - 1}
    print(f"N = {n}; SQLite files; reads are the fastest of {READ_REPEATS} runs")
    print(f"{'operation':38} {'ml-metadata':>14} {'metadb':>14} {'ratio':>7}")
    for op, mlmd_seconds in theirs.items():
        metadb_seconds = ours[op]
        if op in counts:
            a = f"{counts[op] / mlmd_seconds:,.0f}/s"
            b = f"{counts[op] / metadb_seconds:,.0f}/s"
        else:
            a, b = f"{mlmd_seconds * 1000:.2f} ms", f"{metadb_seconds * 1000:.2f} ms"
        print(f"{op:38} {a:>14} {b:>14} {mlmd_seconds / metadb_seconds:>6.2f}x")


if __name__ == "__main__":
    main()
