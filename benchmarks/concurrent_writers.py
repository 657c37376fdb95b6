"""Concurrent writers through served replicas: duplicate rows and failed requests.

    .venv/bin/python benchmarks/concurrent_writers.py [--replicas 3] [--clients 24] [--rounds 20]
        [--backends postgresql,mysql]

The review's measurement (issue 13): ``--replicas`` ``metadb serve`` processes on one scratch
database, ``--clients`` threads with ``metadb.client.Client`` spread round-robin over them, all
released together each round to call ``put_artifact_type`` and ``put_context_type`` with the
same names. Printed per database: requests, seconds, requests that failed (by error class;
a 5xx is ServerResponseError), duplicate Type rows (same name, version and kind) and how many
names the clients disagree on the id of. Admin URLs come from METADB_TEST_POSTGRES_URL /
METADB_TEST_MYSQL_URL (defaults: local servers).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import text

import metadb
from metadb.client import Client
from metadb.db import Database
from metadb.store import ArtifactType, ContextType

ADMIN = {
    "postgresql": os.environ.get("METADB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/x"),
    "mysql": os.environ.get("METADB_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/x"),
}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(url: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _port()
    command = [str(Path(sys.executable).parent / "metadb"), "serve", "--database", url,
               "--no-migrate", "--port", str(port)]  # fmt: skip
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=out)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"metadb serve did not start: {log.read_text()}")


def measure(backend: str, *, replicas: int, clients: int, rounds: int) -> str:
    admin = Database.from_url(ADMIN[backend])
    name = f"metadb_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect(autocommit=True) as conn:
        admin.dialect.create_database(conn, name)
    url = admin.url.with_database(name).url.render_as_string(hide_password=False)
    processes = []
    try:
        metadb.connect(url).close()
        with tempfile.TemporaryDirectory() as logs:
            bases = []
            for i in range(replicas):
                process, base = _serve(url, Path(logs) / f"{i}.log")
                processes.append(process)
                bases.append(base)
            barrier = threading.Barrier(clients)
            errors: Counter[str] = Counter()
            ids: dict[str, set[int]] = {}
            lock = threading.Lock()

            def client(number: int) -> None:
                with Client(bases[number % replicas], timeout=60) as store:
                    for r in range(rounds):
                        barrier.wait(60)
                        for key, put in (
                            (f"A{r}", lambda n: store.put_artifact_type(ArtifactType(name=n))),
                            (f"C{r}", lambda n: store.put_context_type(ContextType(name=n))),
                        ):
                            try:
                                got = put(key)
                            except Exception as exc:
                                with lock:
                                    errors[type(exc).__name__] += 1
                                continue
                            with lock:
                                ids.setdefault(key, set()).add(got)

            threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            seconds = time.perf_counter() - started
        db = Database.from_url(url)
        with db.connect() as conn:
            table = "type" if backend == "postgresql" else "Type"
            duplicates = conn.execute(
                text(
                    f"SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) AS n FROM {table} "
                    "GROUP BY name, version, type_kind) d"
                )
            ).scalar_one()
        db.dispose()
    finally:
        for process in processes:
            process.terminate()
            process.wait(30)
        with admin.connect(autocommit=True) as conn:
            admin.dialect.drop_database(conn, name)
        admin.dispose()
    disagreements = sum(1 for found in ids.values() if len(found) > 1)
    return (
        f"{backend}: {replicas} replicas, {clients} clients x {rounds} rounds = "
        f"{clients * rounds * 2} requests in {seconds:.1f}s; failed {dict(errors) or 0}; "
        f"duplicate Type rows {duplicates}; names with clients disagreeing on the id "
        f"{disagreements}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--backends", default="postgresql,mysql")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        print(measure(backend, replicas=args.replicas, clients=args.clients, rounds=args.rounds))


if __name__ == "__main__":
    main()
