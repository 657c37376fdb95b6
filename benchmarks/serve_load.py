"""`metadb serve` under a bounded load of mixed reads and writes, against the embedded store.

    .venv/bin/python benchmarks/serve_load.py [--seconds 30] [--threads 8]
        [--databases sqlite,postgresql] [--postgres-url URL] [--mysql-url URL]

For each database: a fresh database is seeded (an artifact type with 3 properties, 1,000
artifacts, 200 runs with annotations and metrics). Then the same workload runs twice for
``--seconds`` each, from ``--threads`` threads on loopback:

* embedded: ``metadb.connect(url)`` and its run store, in this process (the anchor: the same
  calls with no HTTP in between);
* served:   ``metadb serve --database URL`` started as its own process, called through
  ``metadb.client.Client`` (one per thread, keep-alive), the one-line switch a program makes.

The mix, by weight: get_artifacts_by_id 30, filtered get_artifacts (20 a page) 20, filtered
search_runs 15, get_run 10, put_artifacts (one new artifact) 10, create_run 5, set_annotations 5,
log_metrics 5. Printed: requests/s, p50 and p99 latency, errors (must be zero), and the served
throughput as a ratio of the embedded one. The load generator shares the machine's cores with
the server, so the served figures are a floor.

PostgreSQL and MySQL are used when their admin URLs are given (else METADB_TEST_POSTGRES_URL /
METADB_TEST_MYSQL_URL); a database ``metadb_bench_serve`` is created there and dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from metadb import store as m

SEED_ARTIFACTS = 1_000
SEED_RUNS = 200
MIX: list[tuple[str, int]] = [
    ("get_artifacts_by_id", 30),
    ("get_artifacts filtered", 20),
    ("search_runs filtered", 15),
    ("get_run", 10),
    ("put_artifacts", 10),
    ("create_run", 5),
    ("set_annotations", 5),
    ("log_metrics", 5),
]
BENCH_DB = "metadb_bench_serve"


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Workload:
    """The operations of the mix, against a store and a run store (embedded or a Client)."""

    def __init__(self, store: Any, runs: Any, type_id: int, run_ids: list[int]) -> None:
        self.store, self.runs, self.type_id, self.run_ids = store, runs, type_id, run_ids
        self.rng = random.Random()
        self.ops: dict[str, Callable[[], Any]] = {
            "get_artifacts_by_id": self.get_artifacts_by_id,
            "get_artifacts filtered": self.filtered_artifacts,
            "search_runs filtered": self.search_runs,
            "get_run": lambda: self.runs.get_run(self.rng.choice(self.run_ids)),
            "put_artifacts": self.put_artifact,
            "create_run": self.create_run,
            "set_annotations": lambda: self.runs.set_annotations(
                self.rng.choice(self.run_ids), {"note": f"n{self.rng.random():.6f}"}
            ),
            "log_metrics": lambda: self.runs.log_metrics(
                self.rng.choice(self.run_ids), {"loss": self.rng.random()}
            ),
        }
        self.names = [name for name, _ in MIX]
        self.weights = [weight for _, weight in MIX]

    def get_artifacts_by_id(self) -> Any:
        return self.store.get_artifacts_by_id([self.rng.randint(1, SEED_ARTIFACTS)])

    def filtered_artifacts(self) -> Any:
        shard = self.rng.randrange(100)
        query = f"properties.shard.int_value = {shard}"
        return self.store.get_artifacts(m.ListOptions(limit=20, filter_query=query))

    def search_runs(self) -> Any:
        team = f"team-{self.rng.randrange(10)}"
        tree = {"value_equals": {"key": "team", "value": team}}
        return self.runs.search_runs(tree, sort="created_at desc", limit=20)

    def put_artifact(self) -> Any:
        i = self.rng.randrange(10**9)
        artifact = m.Artifact(
            type_id=self.type_id, uri=f"/load/{i}", properties={"shard": i % 100, "score": 0.5}
        )
        return self.store.put_artifacts([artifact])

    def create_run(self) -> Any:
        return self.runs.create_run(
            f"load-{self.rng.randrange(10**9)}", pipeline_name="load", annotations={"team": "x"}
        )

    def step(self, tally: Tally) -> None:
        name = self.rng.choices(self.names, self.weights)[0]
        start = time.perf_counter()
        try:
            self.ops[name]()
        except Exception as exc:
            with tally.lock:
                tally.errors.append(f"{name}: {type(exc).__name__}: {exc}")
            return
        elapsed = time.perf_counter() - start
        with tally.lock:
            tally.latencies.append(elapsed)


def seed(url: str) -> tuple[int, list[int]]:
    import metadb
    from metadb.runs.store import RunStore

    store = metadb.connect(url)
    runs = RunStore(store.database)
    props = {"shard": m.PropertyType.INT, "score": m.PropertyType.DOUBLE}
    type_id = store.put_artifact_type(m.ArtifactType(name="Dataset", properties=props))
    for start in range(0, SEED_ARTIFACTS, 100):
        store.put_artifacts(
            [
                m.Artifact(type_id=type_id, uri=f"/d/{i}", properties={"shard": i % 100})
                for i in range(start, start + 100)
            ]
        )
    run_ids = []
    for i in range(SEED_RUNS):
        run = runs.create_run(
            f"run-{i}", pipeline_name="seed", annotations={"team": f"team-{i % 10}"}
        )
        runs.log_metrics(run.id, {"accuracy": i / SEED_RUNS})
        run_ids.append(run.id)
    store.close()
    return type_id, run_ids


def drive(make_workload: Callable[[], Workload], *, seconds: float, threads: int) -> Tally:
    tally = Tally()
    stop = time.monotonic() + seconds

    def worker() -> None:
        workload = make_workload()
        while time.monotonic() < stop:
            workload.step(tally)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return tally


def embedded(url: str, type_id: int, run_ids: list[int], args: argparse.Namespace) -> Tally:
    import metadb
    from metadb.runs.store import RunStore

    store = metadb.connect(url)
    runs = RunStore(store.database)
    try:
        return drive(
            lambda: Workload(store, runs, type_id, run_ids),
            seconds=args.seconds,
            threads=args.threads,
        )
    finally:
        store.close()


@contextmanager
def server(url: str, workdir: Path) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    metadb = Path(sys.executable).with_name("metadb")
    log = open(workdir / f"serve-{port}.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(metadb), "serve", "--database", url, "--port", str(port), "--log-level", "warning"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"metadb serve did not start; see {log.name}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def served(url: str, type_id: int, run_ids: list[int], args: argparse.Namespace) -> Tally:
    from metadb.client import Client

    clients: list[Client] = []

    def make() -> Workload:
        client = Client(base)
        clients.append(client)
        return Workload(client, client, type_id, run_ids)

    with server(url, args.workdir) as base:
        try:
            return drive(make, seconds=args.seconds, threads=args.threads)
        finally:
            for client in clients:
                client.close()


def summary(tally: Tally, seconds: float) -> tuple[float, float, float]:
    lat = sorted(tally.latencies)
    if not lat:
        return 0.0, float("nan"), float("nan")
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    return len(lat) / seconds, statistics.median(lat) * 1e3, p99 * 1e3


@contextmanager
def fresh_database(backend: str, args: argparse.Namespace) -> Iterator[str | None]:
    if backend == "sqlite":
        yield f"sqlite:///{args.workdir / 'serve-load.sqlite'}"
        return
    from metadb.db import Database
    from metadb.errors import DatabaseError

    admin_url = getattr(args, f"{backend.replace('postgresql', 'postgres')}_url")
    if not admin_url:
        print(f"{backend}: skipped (no admin URL)")
        yield None
        return
    admin = Database.from_url(admin_url)
    try:
        for step in (admin.dialect.drop_database, admin.dialect.create_database):
            with admin.connect(autocommit=True) as conn:
                step(conn, BENCH_DB)
    except DatabaseError as exc:
        print(f"{backend}: skipped ({exc})")
        yield None
        return
    try:
        yield admin.url.with_database(BENCH_DB).url.render_as_string(hide_password=False)
    finally:
        with admin.connect(autocommit=True) as conn:
            admin.dialect.drop_database(conn, BENCH_DB)
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=os.environ.get("METADB_TEST_POSTGRES_URL"))
    parser.add_argument("--mysql-url", default=os.environ.get("METADB_TEST_MYSQL_URL"))
    args = parser.parse_args()
    args.workdir = Path(tempfile.mkdtemp(prefix="metadb-serve-load-"))
    print(f"{args.threads} threads, {args.seconds:.0f} s per mode, loopback")
    for backend in args.databases.split(","):
        with fresh_database(backend, args) as url:
            if url is None:
                continue
            type_id, run_ids = seed(url)
            rows = [
                ("embedded", embedded(url, type_id, run_ids, args)),
                ("served", served(url, type_id, run_ids, args)),
            ]
            print(f"\n{backend}")
            print(f"{'mode':<10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
            rates = {}
            for mode, tally in rows:
                rate, p50, p99 = summary(tally, args.seconds)
                rates[mode] = rate
                print(f"{mode:<10}{rate:>9.0f}{p50:>9.2f}{p99:>9.2f}{len(tally.errors):>8}")
                for error in tally.errors[:5]:
                    print(f"    {error}")
            if rates["embedded"]:
                print(f"served / embedded throughput: {rates['served'] / rates['embedded']:.2f}")


if __name__ == "__main__":
    main()
